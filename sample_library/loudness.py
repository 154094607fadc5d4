"""Loudness (BS.1770 integrated, LUFS) and true peak (4x oversampled, dBTP) meters."""

from __future__ import annotations

import numpy as np
import pyloudnorm
from scipy.signal import resample_poly

OVERSAMPLE = 4


def integrated_loudness(audio: np.ndarray, sample_rate: int) -> float:
    """BS.1770 integrated loudness (LUFS) of (channels, frames); -70 for silence or very short sounds."""
    if audio.shape[1] < int(0.4 * sample_rate):
        return -70.0
    value = pyloudnorm.Meter(sample_rate).integrated_loudness(audio.T.astype(np.float64))
    return float(value) if np.isfinite(value) else -70.0


def true_peak_db(audio: np.ndarray) -> float:
    """True peak (dBTP) of (channels, frames): the peak of the signal oversampled 4x (BS.1770 Annex 2)."""
    up = resample_poly(audio, OVERSAMPLE, 1, axis=-1)
    peak = float(np.max(np.abs(up))) if up.size else 0.0
    return float(20 * np.log10(max(peak, 1e-9)))
