"""Running independent jobs in a pool of processes or as tasks on a Ray cluster, in order, with a
progress bar."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any

from tqdm import tqdm

from sample_library.errors import InputError

RAY_RETRIES = 3  # times a task is run again when the worker running it dies


def map_in_processes(fn: Callable[..., Any], jobs: Sequence[tuple], *, workers: int, desc: str, unit: str,
                     progress: bool) -> list[Any]:
    """``[fn(*job) for job in jobs]``: here when ``workers`` is 1 (or there is one job), else in a pool of
    spawned processes (no thread state of this process is copied into them). A job that raises raises here."""
    bar = tqdm(total=len(jobs), desc=desc, unit=unit, disable=not progress)
    try:
        if workers <= 1 or len(jobs) <= 1:
            out = []
            for job in jobs:
                out.append(fn(*job))
                bar.update()
            return out
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(fn, *job) for job in jobs]
            for done in as_completed(futures):
                done.result()
                bar.update()
            return [f.result() for f in futures]
    finally:
        bar.close()


@contextmanager
def ray_session(address: str) -> Iterator[Any]:
    """Ray, connected to the cluster at ``address`` (host:port, or "local": a Ray instance started
    here) for the duration; InputError naming ``--ray`` when Ray is not installed."""
    try:
        import ray
    except ImportError:
        raise InputError("--ray", "Ray is not installed: pip install -e \".[ray]\"") from None
    ray.init(address=None if address == "local" else address, include_dashboard=False, log_to_driver=False,
             ignore_reinit_error=True)
    try:
        yield ray
    finally:
        ray.shutdown()


def map_on_ray(fn: Callable[..., Any], jobs: Sequence[tuple], *, address: str, desc: str, unit: str,
               progress: bool) -> list[Any]:
    """``[fn(*job) for job in jobs]``, each job a Ray task on the cluster at ``address``, run again
    (up to ``RAY_RETRIES`` times) when its worker dies. A job that raises raises here."""
    bar = tqdm(total=len(jobs), desc=desc, unit=unit, disable=not progress)
    try:
        with ray_session(address) as ray:
            task = ray.remote(max_retries=RAY_RETRIES)(fn)
            refs = [task.remote(*job) for job in jobs]
            pending = list(refs)
            while pending:
                _, pending = ray.wait(pending, num_returns=1)
                bar.update()
            return ray.get(refs)
    finally:
        bar.close()
