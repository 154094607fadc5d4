"""Where a track sounds: the frame ranges outside which its audio is exactly 0, so that a chain or a
meter run on those spans alone gives what it gives on the whole track, in a fraction of the time
(most tracks of a song are silent for much of it)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

SPAN_BLOCK_S = 0.1  # two of the 50 ms frames the crest factor is measured on, so spans keep their grid
SPAN_TAIL_S = 0.3
PASS_BLOCK = 65536  # frames: a stereo float32 block of 512 KB, which stays in the CPU's cache

Span = tuple[int, int]


def sounding_spans(audio: np.ndarray, sample_rate: int, tail_s: float = SPAN_TAIL_S) -> list[Span]:
    """The frame ranges [start, stop) where (channels, frames) ``audio`` sounds: runs of 100 ms blocks
    holding any non-zero sample, each extended by ``tail_s`` seconds (rounded up to whole blocks: room
    for the tails of the filters and compressors run on them), merged when they meet. Outside them
    ``audio`` is exactly 0, so a chain run on the spans alone equals the chain run on the whole track."""
    frames = audio.shape[1]
    size = int(round(SPAN_BLOCK_S * sample_rate))
    whole = frames // size
    blocks = audio[:, :whole * size].reshape(audio.shape[0], whole, size)
    heard = blocks.any(axis=2).any(axis=0)
    if frames > whole * size:
        heard = np.append(heard, bool(np.any(audio[:, whole * size:])))
    edges = np.flatnonzero(np.diff(np.concatenate([[0], heard.astype(np.int8), [0]])))
    tail = -(-int(tail_s * sample_rate) // size) * size
    spans: list[Span] = []
    for first, end in zip(edges[::2] * size, edges[1::2] * size):
        start, stop = int(first), int(min(end + tail, frames))
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], stop)
        else:
            spans.append((start, stop))
    return spans


def span_blocks(spans: list[Span], size: int = PASS_BLOCK) -> Iterator[Span]:
    """``spans`` cut into consecutive frame ranges of at most ``size`` frames: a step that makes
    several passes over a track (a sum and a difference, then products) makes them a block at a
    time, in the cache, instead of each over the whole track in memory (a third of the time)."""
    for a, b in spans:
        for start in range(a, b, size):
            yield start, min(start + size, b)
