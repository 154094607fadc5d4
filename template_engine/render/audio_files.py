"""Writing a candidate's audio files, the song and its stems, on both cores (its MP3 encodes in
ffmpeg's own process: ``sample_library.audio_io.Mp3Encoding``).

Packing a stem into 24-bit PCM is a dozen numpy passes over cache-sized blocks, each a few tens of
microseconds long, and a thread takes the GIL back after each. Two threads packing stems side by
side spend that time handing the GIL to each other: on 2 cores, packing a 3-minute song's twenty
stems took 0.50 s on two threads against 0.36 s on one. Two processes do not share a GIL, so where
this process may fork (``forked.can_fork``: no other thread runs) and a render has two cores, a
forked copy of it writes about half of the files while this one writes the rest (the stems of a
3-minute song: 0.73-1.02 s on two threads, 0.47-0.64 s in two processes, interleaved runs).
The copy shares the mix's memory until either writes to it; it only reads it.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from sample_library.audio_io import write_wav
from template_engine.forked import ForkedCall, can_fork
from template_engine.render.span_audio import SpanAudio, Stem, SummedAudio
from template_engine.threads import render_threads, split_in_two

AudioWrite = tuple[Path, Stem]


def write_audio(pool: ThreadPoolExecutor, writes: list[AudioWrite], sample_rate: int,
                subtype: str = "PCM_24") -> list[Future]:
    """Start writing each (path, (channels, frames) audio) on ``pool``, as WAV (``subtype``) or, by its
    suffix, FLAC (``write_wav``). A stem kept as its spans or its tracks is written a block at a time
    as a 24-bit WAV. Returns the futures, in order."""
    return [pool.submit(write_wav, path, audio, sample_rate, subtype=subtype) for path, audio in writes]


def write_all(writes: list[AudioWrite], sample_rate: int, subtype: str) -> None:
    """Write each of ``writes`` in turn (``write_wav``)."""
    for path, audio in writes:
        write_wav(path, audio, sample_rate, subtype=subtype)


def write_cost(audio: Stem) -> float:
    """About the time writing ``audio`` takes, in samples packed: the samples where it
    sounds (a silent block costs nothing), those of all its tracks for a group."""
    if isinstance(audio, SpanAudio):
        return float(sum(stop - start for start, stop in audio.spans) * audio.channels)
    if isinstance(audio, SummedAudio):
        return sum(write_cost(member) for member in audio.members)
    return float(audio.size)


def split_writes(writes: list[AudioWrite]) -> tuple[list[AudioWrite], list[AudioWrite]]:
    """``writes`` in two lists of about equal total ``write_cost`` (``split_in_two``), each in the
    order of ``writes``."""
    first, second = split_in_two([write_cost(audio) for _, audio in writes])
    return [writes[i] for i in first], [writes[i] for i in second]


class ForkedWrites:
    """``writes`` shared with a forked copy of this process, entered before any other thread starts:
    the copy writes ``aside`` while this process writes ``here`` (on ``threads`` threads: one where
    the copy writes beside it), and leaving the block waits for the copy and raises what it raised.
    Where this process may not fork, or a render has one core, ``here`` is all of them."""

    def __init__(self, writes: list[AudioWrite], sample_rate: int, subtype: str = "PCM_24") -> None:
        self.forks = render_threads() > 1 and can_fork() and len(writes) > 1
        self.here, self.aside = split_writes(writes) if self.forks else (list(writes), [])
        self.threads = 1 if self.forks else render_threads()
        self._copy = ForkedCall(write_all, self.aside, sample_rate, subtype) if self.forks else None

    def __enter__(self) -> ForkedWrites:
        if self._copy is not None:
            self._copy.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._copy is None:
            return
        try:
            if exc[0] is None:
                self._copy.result()
        finally:
            self._copy.__exit__(*exc)
