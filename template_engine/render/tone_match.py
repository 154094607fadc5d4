"""Tonal balance of a master: the pre-master mix is moved toward the long-term spectrum of the
artist's own masters (third-octave bands, mean removed, as ingest measures them), the way an
engineer matches a reference: gently, smoothed across neighbouring bands and limited to a few dB,
so the mix keeps its own character and only its overall balance (too dull, too much low end) moves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import oaconvolve

from project_ingest.mix_analysis import band_levels_db
from template_engine.render.mixing import eq_fir

MAX_TONE_DB = 3.0  # a matching EQ moves no band further than this
TONE_SMOOTH_BANDS = 3  # the correction is averaged over this many neighbouring third-octaves


def tone_distance_db(mix: np.ndarray, sample_rate: int, target_db: Sequence[float]) -> float:
    """RMS difference (dB) over the bands between the spectrum of ``mix`` (channels, frames) and ``target_db``."""
    return float(np.sqrt(np.mean((band_levels_db(mix.mean(axis=0), sample_rate) - np.asarray(target_db)) ** 2)))


def tone_correction_db(mix: np.ndarray, sample_rate: int, target_db: Sequence[float]) -> np.ndarray:
    """The matching EQ (dB per third-octave band, 0 dB median) that moves ``mix`` (channels, frames)
    toward ``target_db``: the difference smoothed over ``TONE_SMOOTH_BANDS`` and limited to
    +-``MAX_TONE_DB``: shape (bands,)."""
    difference = np.asarray(target_db) - band_levels_db(mix.mean(axis=0), sample_rate)
    smoothed = uniform_filter1d(difference, TONE_SMOOTH_BANDS, mode="nearest")
    smoothed -= np.median(smoothed)
    return np.clip(smoothed, -MAX_TONE_DB, MAX_TONE_DB)


def match_tone(mix: np.ndarray, sample_rate: int, target_db: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """``mix`` (channels, frames) through the matching EQ (linear phase, its delay compensated, the
    same length, float32), and the EQ (dB per band)."""
    correction = tone_correction_db(mix, sample_rate, target_db)
    fir = eq_fir(correction, sample_rate)
    delay = fir.size // 2
    out = oaconvolve(mix, fir[None, :], mode="full", axes=-1)[:, delay:delay + mix.shape[1]]
    return out.astype(np.float32), correction
