"""Tonal balance of a master: the pre-master mix is moved toward the long-term spectrum of the
artist's own masters (third-octave bands, mean removed, as ingest measures them), the way an
engineer matches a reference: gently, smoothed across neighbouring bands and limited to a few dB,
so the mix keeps its own character and only its overall balance (too dull, too much low end) moves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy

from project_ingest.spectrum import band_levels_db
from template_engine.render.mixing import eq_fir, fir_clip_filter

MAX_TONE_DB = 3.0  # a matching EQ moves no band further than this
TONE_SMOOTH_BANDS = 3  # the correction is averaged over this many neighbouring third-octaves


def spectrum_db(mix: np.ndarray, sample_rate: int) -> np.ndarray:
    """The long-term spectrum of ``mix`` (channels, frames) as ingest measures a master's: dB per
    third-octave band, mean removed, shape (bands,)."""
    return band_levels_db(mix.mean(axis=0), sample_rate)


def tone_distance_db(spectrum: np.ndarray, target_db: Sequence[float]) -> float:
    """RMS difference (dB) over the bands between ``spectrum`` (``spectrum_db``) and ``target_db``."""
    return float(np.sqrt(np.mean((spectrum - np.asarray(target_db)) ** 2)))


def tone_correction_db(spectrum: np.ndarray, target_db: Sequence[float]) -> np.ndarray:
    """The matching EQ (dB per third-octave band, 0 dB median) that moves a mix of ``spectrum``
    (``spectrum_db``) toward ``target_db``: the difference smoothed over ``TONE_SMOOTH_BANDS`` and
    limited to +-``MAX_TONE_DB``: shape (bands,)."""
    smoothed = scipy.ndimage.uniform_filter1d(np.asarray(target_db) - spectrum, TONE_SMOOTH_BANDS, mode="nearest")
    smoothed -= np.median(smoothed)
    return np.clip(smoothed, -MAX_TONE_DB, MAX_TONE_DB)


def match_tone(mix: np.ndarray, sample_rate: int, correction: np.ndarray) -> np.ndarray:
    """``mix`` (channels, frames) through the matching EQ ``correction`` (dB per band) as a linear-phase
    FIR, its delay compensated: float32, the same shape."""
    filtered, shift = fir_clip_filter(eq_fir(correction, sample_rate))(mix)
    return np.ascontiguousarray(filtered[:, -shift:-shift + mix.shape[1]])
