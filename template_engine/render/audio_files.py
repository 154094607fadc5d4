"""Writing a candidate's audio files, the song and its stems, on both cores.

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

from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from sample_library.audio_io import encode_mp3, pcm16_file, write_mp3, write_wav
from template_engine.forked import ForkedCall, can_fork
from template_engine.render.span_audio import SpanAudio, Stem, SummedAudio, whole
from template_engine.threads import render_threads, split_in_two

MP3_COST = 25.0  # an MP3 takes about this many times a WAV's time per sample: LAME 81 ns a sample, 24-bit
# packing and writing 3.0 ns (a 3-minute song's 20 stems, 232 M samples where they sound, in 0.69 s)

AudioWrite = tuple[Path, Stem]


def write_audio(pool: ThreadPoolExecutor, writes: list[AudioWrite], sample_rate: int,
                subtype: str = "PCM_24") -> list[Future]:
    """Start writing each (path, (channels, frames) audio) on ``pool``: ``.mp3`` through ffmpeg, any
    other suffix as WAV (``subtype``) or 24-bit FLAC. A stem kept as its spans or its tracks is
    written a block at a time as a 24-bit WAV, and made whole on the writing thread for any other
    file, so no more than the files being written are whole at once. Returns the futures, in order."""
    return [pool.submit(write_one, path, audio, sample_rate, subtype) for path, audio in writes]


def write_one(path: Path, audio: Stem, sample_rate: int, subtype: str = "PCM_24") -> None:
    """Write one file of ``write_audio``."""
    if path.suffix == ".mp3":
        write_mp3(path, whole(audio), sample_rate)
    else:
        write_wav(path, audio, sample_rate, subtype=subtype)


def start_mp3(encoder: Executor, path: Path, audio: np.ndarray, sample_rate: int) -> Future:
    """Start encoding (channels, frames) ``audio`` as the MP3 ``path`` on ``encoder``: its 16-bit
    samples are converted here, where a caller runs no other Python thread (``pcm16_file``), and
    the encoder's thread only waits on ffmpeg."""
    return encoder.submit(encode_mp3, path, pcm16_file(audio), sample_rate, audio.shape[0])


def write_all(writes: list[AudioWrite], sample_rate: int, subtype: str) -> None:
    """Write each of ``writes`` in turn (``write_one``)."""
    for path, audio in writes:
        write_one(path, audio, sample_rate, subtype)


def write_cost(path: Path, audio: Stem) -> float:
    """About the time writing ``audio`` to ``path`` takes, in samples packed: the samples where it
    sounds (a silent block costs nothing), those of all its tracks for a group, ``MP3_COST`` times
    more for an MP3."""
    if isinstance(audio, SpanAudio):
        samples = float(sum(stop - start for start, stop in audio.spans) * audio.channels)
    elif isinstance(audio, SummedAudio):
        samples = sum(write_cost(path, member) for member in audio.members)
    else:
        samples = float(audio.size)
    return samples * (MP3_COST if path.suffix == ".mp3" else 1.0)


def split_writes(writes: list[AudioWrite]) -> tuple[list[AudioWrite], list[AudioWrite]]:
    """``writes`` in two lists of about equal total ``write_cost`` (``split_in_two``), each in the
    order of ``writes``."""
    first, second = split_in_two([write_cost(path, audio) for path, audio in writes])
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
