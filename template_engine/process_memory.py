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
PREFAULT_MAX_BYTES = 2**30
_tuned = False  # whether tune_malloc_for_render took every setting in this process


@lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    if not all(hasattr(libc, f) for f in ("mallopt", "malloc_trim", "malloc", "memset", "free")):
        return None
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.memset.restype, libc.memset.argtypes = ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    libc.free.restype, libc.free.argtypes = None, [ctypes.c_void_p]
    return libc


def tune_malloc_for_render(arenas: int = ARENAS) -> bool:
    """Let the process's threads share ``arenas`` malloc arenas, and keep freed big blocks mapped for
    the next array instead of mapping each afresh; call before starting threads. Returns whether the
    C library took every setting."""
    libc = _glibc()
    if libc is None:
        return False
    global _tuned
    settings = ((M_ARENA_MAX, arenas), (M_MMAP_THRESHOLD, NEVER), (M_TRIM_THRESHOLD, NEVER), (M_TOP_PAD, TOP_PAD))
    _tuned = all([bool(libc.mallopt(parameter, value)) for parameter, value in settings])
    return _tuned


def release_free_memory() -> None:
    """Hand the allocator's free memory back to the system (``malloc_trim``)."""
    libc = _glibc()
    if libc:
        libc.malloc_trim(0)


def prefault_heap(nbytes: int) -> None:
    """Take a block of ``nbytes`` (at most ``PREFAULT_MAX_BYTES``) from the allocator, write it once
    and free it: the allocator keeps it mapped, so the arrays allocated next are cut from pages
    already in memory instead of faulting in fresh ones.

    On this 2-core VM, the fresh pages of a render's first mix and master cost 1.0-1.4 s of system
    time, as two threads faulted them in among their work; the same pages written in one sweep
    (``memset``) take 0.3 s, which a render spends while its songs are written in another process.
    Where the allocator was not tuned (``tune_malloc_for_render``) a freed block this size would be
    unmapped at once, so nothing is written."""
    libc = _glibc()
    nbytes = min(nbytes, PREFAULT_MAX_BYTES)
    if libc is None or not _tuned or nbytes <= 0:
        return
    block = libc.malloc(nbytes)
    if block:
        libc.memset(block, 0, nbytes)
        libc.free(block)
