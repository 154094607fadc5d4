"""How many threads a render may use: every core by default, or its share of them when several
renders run side by side (``template batch --workers``), so two processes never each spin up a
thread per core: on 2 cores that made two workers three times slower than one. And how work is
shared between two processes, one on each core (``split_in_two``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

THREADS_ENV = "TEMPLATE_RENDER_THREADS"
MAX_THREADS = 4


def render_threads() -> int:
    """Threads for a render's pools: ``$TEMPLATE_RENDER_THREADS`` where a batch set it, else one per
    core, at most ``MAX_THREADS``."""
    return int(os.environ.get(THREADS_ENV) or 0) or min(MAX_THREADS, os.cpu_count() or 1)


def share_cores(workers: int) -> None:
    """Give this process its share of the cores when ``workers`` processes render at once: the
    render pools and the BLAS library (generation's matrix products) each get cores // workers
    threads, at least one. numpy is imported first: a limit holds only for the BLAS libraries
    already loaded."""
    import numpy  # noqa: F401
    from threadpoolctl import threadpool_limits

    threads = max(1, (os.cpu_count() or 1) // max(workers, 1))
    os.environ[THREADS_ENV] = str(threads)
    threadpool_limits(limits=threads, user_api="blas")


def split_in_two(work: Sequence[float], group_cost: Callable[[list[float]], float] = sum) -> tuple[list[int], list[int]]:
    """Indices of ``work`` (one figure per item) in two groups of about equal ``group_cost`` (of the
    figures in a group), each in increasing order: the items go, largest first, into the group that
    costs less with them, the first on a tie."""
    groups: tuple[list[int], list[int]] = ([], [])
    for i in sorted(range(len(work)), key=lambda i: -work[i]):
        cost = [group_cost([work[j] for j in group] + [work[i]]) for group in groups]
        groups[int(cost[1] < cost[0])].append(i)
    return sorted(groups[0]), sorted(groups[1])
