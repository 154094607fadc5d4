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


def peak(audio: np.ndarray) -> float:
    """Largest absolute sample of ``audio`` (0 when empty), read without an array of absolute values."""
    return max(float(audio.max()), -float(audio.min()), 0.0) if audio.size else 0.0


def piecewise_linear(xp: np.ndarray, fp: np.ndarray, start: int, stop: int) -> np.ndarray:
    """The polyline through the points (``xp`` in frames, increasing; ``fp``) read at the frames
    ``start..stop``, held at its first value before ``xp[0]`` and at its last after ``xp[-1]``, as
    ``np.interp`` reads it: (stop - start,) float32. Each segment is written as one ramp rather than
    searched for at every frame (``np.interp`` took 4x as long on a song's gain rides)."""
    out = np.empty(stop - start, dtype=np.float32)
    firsts = np.clip(np.ceil(np.asarray(xp, dtype=np.float64)).astype(np.int64), start, stop) - start
    out[:firsts[0]] = fp[0]
    for k in range(len(xp) - 1):
        a, b = int(firsts[k]), int(firsts[k + 1])
        if b > a:
            slope = (fp[k + 1] - fp[k]) / (xp[k + 1] - xp[k])
            segment = out[a:b]
            np.multiply(np.arange(b - a, dtype=np.float32), np.float32(slope), out=segment)
            segment += np.float32(fp[k] + slope * (start + a - xp[k]))
    out[firsts[-1]:] = fp[-1]
    return out


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


