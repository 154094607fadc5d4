"""DSP the demo material is made with: ducking curves, tilt EQ and gains for its synthesised mixes."""

from __future__ import annotations

import numpy as np
from pedalboard import HighShelfFilter, LowShelfFilter, Pedalboard

from project_ingest.mix_analysis import duck_shape
from sample_library.spans import sounding_spans


def duck_curve_db(*, depth_db: float, attack: float, hold: float, release: float,
                  points_per_beat: int = 64, length: float = 1.0) -> np.ndarray:
    """A ducking curve in dB from a kick onset: falls to ``-depth_db`` over ``attack`` beats, holds for
    ``hold`` beats, comes back linearly in dB over ``release`` beats. Shape (points_per_beat * length,)."""
    t = np.arange(int(points_per_beat * length)) / points_per_beat
    return -depth_db * duck_shape(t, attack, hold, release)


def tilt_eq(audio: np.ndarray, sample_rate: int, tilt_db: float) -> np.ndarray:
    """Tilt the spectrum of (channels, frames) ``audio`` by ``tilt_db``: lows (shelf at 300 Hz) down by
    half, highs (3 kHz) up by half. The filters run only where the audio sounds (``sounding_spans``,
    with room for their tails), in place: a stem is silent for half the song, and the filters' state
    decaying through exact silence is subnormal, which the CPU computes many times slower."""
    if abs(tilt_db) < 1e-6:
        return audio
    board = Pedalboard([LowShelfFilter(cutoff_frequency_hz=300, gain_db=-tilt_db / 2),
                        HighShelfFilter(cutoff_frequency_hz=3000, gain_db=tilt_db / 2)])
    for a, b in sounding_spans(audio, sample_rate):
        audio[:, a:b] = board(audio[:, a:b], sample_rate)
    return audio


def db_to_gain(db: float) -> float:
    """Linear gain of ``db`` decibels."""
    return float(10.0 ** (db / 20.0))
