"""Running independent jobs in a pool of processes, in order, with a progress bar."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Any

from tqdm import tqdm


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
