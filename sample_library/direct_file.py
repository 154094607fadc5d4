"""Writing large files around the page cache (``O_DIRECT``), where the system allows it and its disk
keeps up.

A render writes about 700 MB of stems for a 3-minute song. Written through the page cache, each
of those pages is first taken from the kernel's free memory, and on a VM whose host has taken that
memory back the first touch is the costly part: 600 MB took 1.7-1.9 s of system time on the
development VM (0.15 s when the same pages had just been freed), against 0.05 s of system time and
0.35 s of waiting for its disk when written direct. Pages written through the cache are also
written back to the disk later, beside the next song's mix, and push the user's other files (a
DAW's sample libraries) out of memory.

A direct write needs its buffer, offset and length on the device's block size: ``DirectFile``
keeps page-aligned buffers, pads a short last write with zeros and is cut to its length at the
end. Where the system refuses direct writes (no ``O_DIRECT``, or a file system that answers EINVAL,
as tmpfs did before Linux 6.6), for small files, and once this process's direct writes have run
slower than ``SLOW_DIRECT_BYTES_PER_S`` (a hard disk, a network share: the page cache then lets
the render go on while the system writes), the same bytes go through the page cache instead.
"""

from __future__ import annotations

import errno
import mmap
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

import numpy as np

DIRECT_ALIGN = 4096  # bytes: a multiple of any device's logical block size, which direct writes keep to
DIRECT_MIN_BYTES = 4 * 2**20  # smaller files (one-shots, MIDI-sized) go through the page cache
SLOW_DIRECT_BYTES_PER_S = 300e6  # a process's direct writes slower than this: a disk the page cache hides
JUDGED_AFTER_BYTES = 64 * 2**20  # how much a process writes direct before its pace is judged
RUN_BYTES = 1536 * 1024  # adjacent blocks gathered into one direct write: four of a stereo stem's


class DirectPace:
    """Bytes and seconds of this process's direct writes so far (its writer threads add to them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.bytes = 0
        self.seconds = 0.0

    def add(self, nbytes: int, seconds: float) -> None:
        with self._lock:
            self.bytes += nbytes
            self.seconds += seconds

    def slow(self) -> bool:
        """Whether enough has been written direct to judge, and it went slower than
        ``SLOW_DIRECT_BYTES_PER_S``."""
        with self._lock:
            return self.bytes >= JUDGED_AFTER_BYTES and self.bytes < SLOW_DIRECT_BYTES_PER_S * self.seconds


PACE = DirectPace()


def large_file(size: int) -> bool:
    """Whether a file of ``size`` bytes is large enough to be written direct where the system allows
    and keeps up (``DirectFile``)."""
    return size >= DIRECT_MIN_BYTES


def whole_blocks(nbytes: int) -> int:
    """``nbytes`` rounded up to whole ``DIRECT_ALIGN`` blocks."""
    return -(-nbytes // DIRECT_ALIGN) * DIRECT_ALIGN


class DirectFile:
    """``path`` (an existing empty file: ``audio_io.temp_beside``) opened for positioned writes
    (``write_at``) of about ``size`` bytes in all, direct where the system allows and keeps up (see
    the module), and cut to its length with ``truncate``; leaving the block waits for every write and
    raises what one raised.

    A direct write returns once the disk has the data, so its caller would wait for the disk between
    blocks: ``write_at`` gathers each run of adjacent blocks, up to ``RUN_BYTES``, in one of two
    page-aligned buffers, and the file's own thread writes a full run (the system call lets go of the
    interpreter) while the caller fills the other buffer. Runs of 1.5 MB wrote two stems' 700 MB in
    0.44 s against 0.55 s as blocks of 384 KB. A write whose offset is not on a ``DIRECT_ALIGN``
    boundary, and every write once the file no longer writes direct, goes through the page cache on
    the caller's thread, after the writes before it."""

    def __init__(self, path: str | Path, size: int) -> None:
        self.path = Path(path)
        self._direct = hasattr(os, "O_DIRECT") and large_file(size) and not PACE.slow()
        self._fd = -1
        self._open()
        self._buffers: list[mmap.mmap | None] = [None, None]
        self._pending: list[Future | None] = [None, None]
        self._turn = 0  # the buffer the run being gathered is in
        self._run_start = self._run_bytes = 0  # the run being gathered: its file offset and length (bytes)
        self._writer = ThreadPoolExecutor(max_workers=1) if self._direct else None

    def __enter__(self) -> DirectFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if kind is None:
                self._send_run()
            self._wait()
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True)
            os.close(self._fd)
            self._buffers = [None, None]  # unmapped once no write's memoryview is left (a failed write's traceback keeps one)

    def write_at(self, offset: int, data: bytes | bytearray | memoryview | np.ndarray) -> None:
        """Write ``data`` (bytes, or a contiguous array's memory) at byte ``offset``. A direct run whose
        length is not a whole number of blocks is padded with zeros past its end, which the final
        ``truncate`` cuts (only the file's last write may be short)."""
        view = memoryview(data).cast("B")
        if self._direct and PACE.slow():
            self._send_run()
            self._wait()
            self._stop_direct()
        if self._direct and self._writer is not None and offset % DIRECT_ALIGN == 0:
            follows = self._run_bytes and offset == self._run_start + self._run_bytes
            if not (follows and self._run_bytes % DIRECT_ALIGN == 0 and self._run_bytes + view.nbytes <= RUN_BYTES):
                self._send_run()
                self._turn = 1 - self._turn
                self._wait(self._turn)
                self._run_start = offset
            buffer = self._aligned(self._turn, max(RUN_BYTES, whole_blocks(self._run_bytes + view.nbytes)))
            buffer[self._run_bytes:self._run_bytes + view.nbytes] = view
            self._run_bytes += view.nbytes
            return
        self._send_run()
        self._wait()
        self._write_all(view, offset)

    def truncate(self, size: int) -> None:
        """Cut (or extend with zeros) the file to ``size`` bytes, once every write is done."""
        self._send_run()
        self._wait()
        os.ftruncate(self._fd, size)

    def _send_run(self) -> None:
        """Hand the run gathered so far, padded to whole blocks, to the file's thread."""
        if not self._run_bytes or self._writer is None:
            return
        padded = whole_blocks(self._run_bytes)
        buffer = self._aligned(self._turn, padded)
        buffer[self._run_bytes:padded] = bytes(padded - self._run_bytes)
        self._pending[self._turn] = self._writer.submit(self._write_direct, memoryview(buffer)[:padded], self._run_start)
        self._run_bytes = 0

    def _open(self) -> None:
        """Open the file for writing, direct where ``_direct`` asks and the system allows."""
        if self._fd >= 0:
            os.close(self._fd)
        if self._direct:
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_DIRECT)
                return
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                self._direct = False
        self._fd = os.open(self.path, os.O_WRONLY)

    def _stop_direct(self) -> None:
        """Write through the page cache from now on (no write may be under way)."""
        self._direct = False
        self._open()

    def _wait(self, turn: int | None = None) -> None:
        """Wait for the write of buffer ``turn`` (of both, for None); raise what it raised."""
        for k in (0, 1) if turn is None else (turn,):
            pending, self._pending[k] = self._pending[k], None
            if pending is not None:
                pending.result()

    def _aligned(self, turn: int, size: int) -> mmap.mmap:
        """Buffer ``turn``, page-aligned, of at least ``size`` bytes: made larger only as a run starts,
        to hold the run padded to whole blocks."""
        buffer = self._buffers[turn]
        if buffer is None or len(buffer) < size:
            buffer = self._buffers[turn] = mmap.mmap(-1, size)
        return buffer

    def _write_direct(self, view: memoryview, offset: int) -> None:
        """One write on the file's thread: direct, timed into ``PACE``; where the system refuses it
        (EINVAL), the same bytes through the page cache, as every write after it. The file's thread
        runs one write at a time, and the caller's own writes wait for it, so no other write uses
        the descriptor while it is reopened."""
        if self._direct:
            started = time.perf_counter()
            try:
                self._write_all(view, offset)
                PACE.add(view.nbytes, time.perf_counter() - started)
                return
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                self._stop_direct()
        self._write_all(view, offset)

    def _write_all(self, view: memoryview, offset: int) -> None:
        while view.nbytes:
            written = os.pwrite(self._fd, view, offset)
            view, offset = view[written:], offset + written
