"""Gain curves and block-processed filters that pedalboard has no plug-in for.

Arrays are channels-first float32, shape (channels, frames). Pedalboard has no sidechain input and
no automation, so ducking and volume rides are numpy gain curves, and filter sweeps process short
blocks through one plug-in instance with ``reset=False``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pedalboard import LowpassFilter, Pedalboard

SWEEP_BLOCK = 512
SPAN_BLOCK_S = 0.1  # two of the 50 ms frames the crest factor is measured on, so spans keep their grid
SPAN_TAIL_S = 0.3

Span = tuple[int, int]


def peak(audio: np.ndarray) -> float:
    """Largest absolute sample of ``audio`` (0 when empty), read without an array of absolute values."""
    return max(float(audio.max()), -float(audio.min()), 0.0) if audio.size else 0.0


def sounding_spans(audio: np.ndarray, sample_rate: int, tail_s: float = SPAN_TAIL_S) -> list[Span]:
    """The frame ranges [start, stop) where (channels, frames) ``audio`` sounds: runs of 100 ms blocks
    holding any non-zero sample, each extended by ``tail_s`` seconds (rounded up to whole blocks: room
    for the tails of the filters and compressors run on them), merged when they meet. Outside them
    ``audio`` is exactly 0, so a chain run on the spans alone equals the chain run on the whole track."""
    frames = audio.shape[1]
    size = int(round(SPAN_BLOCK_S * sample_rate))
    whole = frames // size
    blocks = audio[:, :whole * size].reshape(audio.shape[0], whole, size)
    heard = ((blocks.max(axis=2) != 0) | (blocks.min(axis=2) != 0)).any(axis=0)
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


def swept_lowpass(audio: np.ndarray, sample_rate: int, cutoff_at: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Low-pass ``audio`` with a cutoff (Hz) that follows ``cutoff_at(frames)`` (frame indices in,
    Hz out, both (n,)), block by block, on one filter instance that keeps its state between blocks
    (``reset=False``)."""
    cutoffs = np.clip(cutoff_at(np.arange(0, audio.shape[1], SWEEP_BLOCK)), 20.0, 0.45 * sample_rate)
    lowpass = LowpassFilter(cutoff_frequency_hz=float(cutoffs[0]))
    board = Pedalboard([lowpass])
    out = np.empty_like(audio)
    for start, cutoff in zip(range(0, audio.shape[1], SWEEP_BLOCK), cutoffs.tolist()):
        lowpass.cutoff_frequency_hz = cutoff
        block = audio[:, start:start + SWEEP_BLOCK]
        out[:, start:start + block.shape[1]] = board(block, sample_rate, reset=False)
    return out


