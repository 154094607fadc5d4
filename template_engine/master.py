"""Mastering: bring a mix to a target integrated loudness with its true peak under a ceiling.

Loudness is BS.1770 integrated loudness (pyloudnorm), in LUFS. True peak is the peak of the signal
oversampled 4x (BS.1770 Annex 2), in dBTP. Pedalboard's Limiter is a sample-peak limiter, so it runs
on the 4x-oversampled signal, where sample peaks are the true peaks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pedalboard import Limiter
from scipy.signal import resample_poly

from sample_library.loudness import OVERSAMPLE, integrated_loudness, true_peak_db


def _limit(audio: np.ndarray, sample_rate: int, ceiling_db: float, release_ms: float) -> np.ndarray:
    """Pedalboard's Limiter holds peaks at 0 dBFS (its threshold is a drive); scale to the ceiling after."""
    limited = Limiter(threshold_db=0.0, release_ms=release_ms)(audio.astype(np.float32), sample_rate)
    return limited * np.float32(10 ** (ceiling_db / 20))


def _limit_true_peak(audio: np.ndarray, sample_rate: int, ceiling_db: float, release_ms: float) -> np.ndarray:
    up = resample_poly(audio, OVERSAMPLE, 1, axis=-1).astype(np.float32)
    limited = _limit(up, sample_rate * OVERSAMPLE, ceiling_db, release_ms)
    return resample_poly(limited, 1, OVERSAMPLE, axis=-1).astype(np.float32)[:, :audio.shape[1]]


@dataclass
class MasterReport:
    """What the master did: loudness (LUFS) and true peak (dBTP) reached, gain applied (dB)."""

    loudness: float
    true_peak: float
    gain_db: float
    target_loudness: float
    ceiling: float


def master(mix: np.ndarray, sample_rate: int, *, target_lufs: float, ceiling_dbtp: float = -1.0,
           release_ms: float = 120.0) -> tuple[np.ndarray, MasterReport]:
    """Gain ``mix`` (channels, frames) towards ``target_lufs`` into a true-peak limiter at ``ceiling_dbtp``.

    The gain is found by a secant search on the limited loudness (at the base rate, which is cheap),
    then the final pass limits the 4x-oversampled signal and is corrected once more if it is off by
    more than 0.2 LU. The slow release keeps the limiter from pumping. Returns the audio and a report.
    """
    def limited_loudness(g: float, oversampled: bool) -> tuple[np.ndarray, float]:
        scaled = mix * np.float32(10 ** ((g - ceiling_dbtp) / 20))
        if oversampled:
            out = _limit_true_peak(scaled, sample_rate, ceiling_dbtp - 0.2, release_ms)
        else:
            out = _limit(scaled, sample_rate, ceiling_dbtp - 0.2, release_ms)
        return out, integrated_loudness(out, sample_rate)

    gain = target_lufs - integrated_loudness(mix, sample_rate)
    points: list[tuple[float, float]] = []
    slope = 1.0
    for _ in range(8):
        _, loud = limited_loudness(gain, False)
        points.append((gain, loud))
        if abs(loud - target_lufs) < 0.1:
            break
        if len(points) > 1 and abs(points[-1][1] - points[-2][1]) > 1e-3:
            (g0, l0), (g1, l1) = points[-2], points[-1]
            slope = max((l1 - l0) / (g1 - g0), 0.05)
        gain += float(np.clip((target_lufs - loud) / slope, -12, 12))
    out, loud = limited_loudness(gain, True)
    for _ in range(4):
        if abs(loud - target_lufs) <= 0.2:
            break
        gain += (target_lufs - loud) / max(slope, 0.3)
        out, loud = limited_loudness(gain, True)
    peak = true_peak_db(out)
    if peak > ceiling_dbtp:
        out = out * np.float32(10 ** ((ceiling_dbtp - 0.05 - peak) / 20))
        peak = true_peak_db(out)
    return out.astype(np.float32), MasterReport(loudness=integrated_loudness(out, sample_rate), true_peak=peak,
                                                gain_db=float(gain), target_loudness=target_lufs,
                                                ceiling=ceiling_dbtp)
