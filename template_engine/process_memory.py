"""Keeping a long render's memory to what it holds, and its big arrays cheap to allocate, where the C
library is glibc (elsewhere these calls do nothing).

glibc's allocator gives each thread that allocates its own arena (up to 8 per core) and keeps freed
blocks in them, so a batch that mixes on a pool of threads grew by 0.9 GB of freed-but-kept memory
over ten candidates; and it maps every block over its mmap threshold (at most 32 MB, a fifth of a
second of a song's track) afresh and unmaps it when freed, so each of a render's many full-length
arrays had the kernel fault in and zero its pages again: 3.2 s of system time in a one-song render,
26 s in ten. So the threads share the main arena, big blocks are taken from its heap (a thread's own
arena cannot hold a block over 64 MB: it would map it afresh), the heap is not trimmed while a
candidate renders and grows ``TOP_PAD`` bytes at a time, and what is free is handed back between
candidates. Ten candidates: 85.5 s -> 74.3 s with the mix's other changes of that day, at a peak of
1.34 GB (1.54 GB with two arenas).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache

M_TRIM_THRESHOLD = -1  # mallopt's parameter numbers (glibc malloc.h)
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
ARENAS = 1  # every thread allocates from the main arena
NEVER = 2**31 - 1  # the largest value mallopt takes (an int): no block maps on its own, no trim
TOP_PAD = 32 * 2**20


@lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def tune_malloc_for_render(arenas: int = ARENAS) -> bool:
    """Let the process's threads share ``arenas`` malloc arenas, and keep freed big blocks mapped for
    the next array instead of mapping each afresh; call before starting threads. Returns whether the
    C library took every setting."""
    libc = _glibc()
    if libc is None:
        return False
    settings = ((M_ARENA_MAX, arenas), (M_MMAP_THRESHOLD, NEVER), (M_TRIM_THRESHOLD, NEVER), (M_TOP_PAD, TOP_PAD))
    return all([bool(libc.mallopt(parameter, value)) for parameter, value in settings])


def release_free_memory() -> None:
    """Hand the allocator's free memory back to the system (``malloc_trim``)."""
    libc = _glibc()
    if libc:
        libc.malloc_trim(0)
