"""Gain curves and block-processed filters that pedalboard has no plug-in for.

Arrays are channels-first float32, shape (channels, frames). Pedalboard has no sidechain input and
no automation, so ducking and volume rides are numpy gain curves, and filter sweeps process short
blocks through one plug-in instance with ``reset=False``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from pedalboard import HighShelfFilter, LowpassFilter, LowShelfFilter, Pedalboard

from project_ingest.mix_analysis import duck_shape

SWEEP_BLOCK = 512


def duck_curve_db(*, depth_db: float, attack: float, hold: float, release: float,
                  points_per_beat: int = 64, length: float = 1.0) -> np.ndarray:
    """A ducking curve in dB from a kick onset: falls to ``-depth_db`` over ``attack`` beats, holds for
    ``hold`` beats, comes back linearly in dB over ``release`` beats. Shape (points_per_beat * length,)."""
    t = np.arange(int(points_per_beat * length)) / points_per_beat
    return -depth_db * duck_shape(t, attack, hold, release)


def ducking_gain(onsets: np.ndarray, frames: int, sample_rate: int, *, curve_db: np.ndarray,
                 points_per_beat: int, seconds_per_beat: float) -> np.ndarray:
    """Linear gain (frames,) with ``curve_db`` placed at every onset (seconds); overlaps take the deeper."""
    span = int(curve_db.size / points_per_beat * seconds_per_beat * sample_rate)
    pos = np.arange(span) / (seconds_per_beat * sample_rate) * points_per_beat
    curve = np.interp(pos, np.arange(curve_db.size), curve_db, right=0.0)
    gain_db = np.zeros(frames)
    for onset in np.asarray(onsets, dtype=float):
        start = int(round(onset * sample_rate))
        if start >= frames or start + span <= 0:
            continue
        a, b = max(start, 0), min(start + span, frames)
        np.minimum(gain_db[a:b], curve[a - start:b - start], out=gain_db[a:b])
    return (10.0 ** (gain_db / 20.0)).astype(np.float32)


def swept_lowpass(audio: np.ndarray, sample_rate: int, cutoff_at: Callable[[int], float]) -> np.ndarray:
    """Low-pass ``audio`` with a cutoff (Hz) that follows ``cutoff_at(frame)``, block by block, on one
    filter instance that keeps its state between blocks (``reset=False``)."""
    lowpass = LowpassFilter(cutoff_frequency_hz=float(cutoff_at(0)))
    board = Pedalboard([lowpass])
    out = np.empty_like(audio)
    for start in range(0, audio.shape[1], SWEEP_BLOCK):
        lowpass.cutoff_frequency_hz = float(np.clip(cutoff_at(start), 20.0, 0.45 * sample_rate))
        block = audio[:, start:start + SWEEP_BLOCK]
        out[:, start:start + block.shape[1]] = board(block, sample_rate, reset=False)
    return out


def tilt_eq(audio: np.ndarray, sample_rate: int, tilt_db: float) -> np.ndarray:
    """Tilt the spectrum by ``tilt_db``: lows (shelf at 300 Hz) down by half, highs (3 kHz) up by half."""
    if abs(tilt_db) < 1e-6:
        return audio
    board = Pedalboard([LowShelfFilter(cutoff_frequency_hz=300, gain_db=-tilt_db / 2),
                        HighShelfFilter(cutoff_frequency_hz=3000, gain_db=tilt_db / 2)])
    return board(audio, sample_rate)


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))
