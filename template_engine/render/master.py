"""Mastering: bring a mix to a target integrated loudness with its true peak under a ceiling.

Loudness is BS.1770 integrated loudness, in LUFS; true peak is the peak of the signal oversampled 4x
(BS.1770 Annex 2), in dBTP. The limiter is a look-ahead true-peak limiter: the gain reduction each
sample needs is read from the 4x-oversampled peak envelope, spread over a short look-ahead so the gain
is already down when the peak arrives, and released at a fixed rate in dB per second, so the gain
never moves faster than the release allows (no pumping on every kick). Pedalboard's Limiter is a
sample-peak limiter with a fixed ratio-4 pre-compressor at -10 dBFS, which both missed inter-sample
peaks and capped the loudness reachable at a ceiling; this one reaches the target within 0.1 LU.

Because the limiter's gain moves slowly against the K-weighting filters, the loudness of the limited
mix is the K-weighted mix's power weighted by the squared gain: the drive is searched on that, on
1 ms blocks (the block's loudest peak, the block's mean power), cheaply, and an exact measurement of
the limited audio at full resolution corrects what is left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d

from sample_library.loudness import (
    block_powers,
    frame_powers,
    gated_loudness,
    integrated_loudness,
    k_weighted,
    oversampled_peaks,
    true_peak_db,
)

CEILING_MARGIN_DB = 0.1
LOOKAHEAD_S = 0.0015
RELEASE_DB_PER_S = 20.0
MAX_RELEASE_DB_PER_S = 160.0
MAX_EXTRA_DRIVE_DB = 18.0  # beyond this much limiting a target is out of reach for the mix; stop there
SEARCH_BLOCK_S = 0.001
SEARCH_STEPS = 12
SEARCH_TOLERANCE_LU = 0.02  # the block estimate is close enough to its goal
LOUDNESS_TOLERANCE_LU = 0.1  # the master is close enough to its target


@dataclass
class MasterReport:
    """What the master did: loudness (LUFS) and true peak (dBTP) reached, drive into the limiter and its
    largest gain reduction (dB), and the limiter's release (dB/s)."""

    loudness: float
    true_peak: float
    gain_db: float
    max_reduction_db: float
    release_db_per_s: float
    target_loudness: float
    ceiling: float


def peak_envelope_db(audio: np.ndarray) -> np.ndarray:
    """Per base-rate frame, the largest 4x-oversampled sample over all channels (dBFS): shape (frames,)."""
    return 20 * np.log10(np.maximum(oversampled_peaks(audio).max(axis=0), 1e-9))


def per_block(values: np.ndarray, size: int, reduce: str) -> np.ndarray:
    """``values`` (frames,) reduced over consecutive blocks of ``size`` frames ("max" or "mean"); the
    last partial block is dropped: shape (frames // size,)."""
    blocks = values[: values.size // size * size].reshape(-1, size)
    return blocks.max(axis=1) if reduce == "max" else blocks.mean(axis=1)


def gain_reduction_db(peaks_db: np.ndarray, drive_db: float, ceiling_db: float, sample_rate: float,
                      lookahead_s: float = LOOKAHEAD_S, release_db_per_s: float = RELEASE_DB_PER_S) -> np.ndarray:
    """Gain reduction (dB, >= 0) per frame that keeps ``peaks_db + drive_db - reduction`` under ``ceiling_db``;
    ``sample_rate`` is the rate of ``peaks_db`` (frames, or blocks, per second).

    A running maximum over +-look-ahead and a box of the same width make the reduction ramp in before
    each peak and never fall below what any sample needs; the release is a cumulative maximum of the
    reduction minus a linear ramp, which is the recursion ``r[t] = max(x[t], r[t-1] - rate)`` solved at once.
    """
    need = np.maximum(peaks_db + drive_db - ceiling_db, 0.0)
    width = 2 * max(1, int(lookahead_s * sample_rate)) + 1
    smooth = uniform_filter1d(maximum_filter1d(need, width), width)
    ramp = (release_db_per_s / sample_rate) * np.arange(need.size)
    return np.maximum(np.maximum.accumulate(smooth + ramp) - ramp, need)


@dataclass
class DriveSearch:
    """Finds the limiter drive (dB) that brings a mix to a loudness, on 1 ms blocks: each block's peak
    (dB) and mean K-weighted power, at ``block_rate`` blocks per second; the drive stays within
    ``lowest``..``highest`` dB."""

    block_peaks_db: np.ndarray
    block_powers_mean: np.ndarray
    block_rate: float
    limit_db: float
    lowest: float
    highest: float
    release: float = RELEASE_DB_PER_S

    def estimated(self, drive: float) -> float:
        """Integrated loudness (LUFS) of the mix limited at ``drive``, from the blocks."""
        blocks = gain_reduction_db(self.block_peaks_db, drive, self.limit_db, self.block_rate,
                                   release_db_per_s=self.release)
        gains = 10 ** ((drive - blocks) / 10)
        return gated_loudness(block_powers(self.block_powers_mean * gains, self.block_rate))

    def search(self, goal: float, drive: float) -> tuple[float, float]:
        """The drive that reaches ``goal`` LUFS (secant steps from ``drive``) and its loudness."""
        points: list[tuple[float, float]] = []
        for _ in range(SEARCH_STEPS):
            loud = self.estimated(drive)
            points.append((drive, loud))
            if abs(loud - goal) < SEARCH_TOLERANCE_LU:
                break
            slope = 1.0
            if len(points) > 1 and abs(points[-1][0] - points[-2][0]) > 1e-6:
                (d0, l0), (d1, l1) = points[-2], points[-1]
                slope = float(np.clip((l1 - l0) / (d1 - d0), 0.1, 1.0))
            step = float(np.clip(drive + (goal - loud) / slope, self.lowest, self.highest)) - drive
            if abs(step) < 1e-3:
                break
            drive += step
        else:
            loud = self.estimated(drive)
        return drive, loud


def master(mix: np.ndarray, sample_rate: int, *, target_lufs: float,
           ceiling_dbtp: float = -1.0) -> tuple[np.ndarray, MasterReport]:
    """Drive ``mix`` (channels, frames) into the true-peak limiter until it reaches ``target_lufs``.

    The release starts slow (20 dB/s) and doubles, up to 160 dB/s, only while the target is out of
    reach: a loud artist gets a faster limiter, a dynamic one keeps a gentle one. The drive is found
    on 1 ms blocks, then the mix is limited once at full resolution and corrected at most twice.
    Returns the mastered audio (float32, same shape) and a report.
    """
    peaks_db = peak_envelope_db(mix)
    limit = ceiling_dbtp - CEILING_MARGIN_DB
    powers_of_frames = frame_powers(k_weighted(mix, sample_rate))
    start = gated_loudness(block_powers(powers_of_frames, sample_rate))
    block = max(1, int(SEARCH_BLOCK_S * sample_rate))
    drives = DriveSearch(per_block(peaks_db, block, "max"), per_block(powers_of_frames, block, "mean"),
                         sample_rate / block, limit, target_lufs - start - MAX_EXTRA_DRIVE_DB,
                         target_lufs - start + MAX_EXTRA_DRIVE_DB)

    def limited(drive: float) -> tuple[np.ndarray, np.ndarray]:
        reduction = gain_reduction_db(peaks_db, drive, limit, sample_rate, release_db_per_s=drives.release)
        return mix * (10 ** ((drive - reduction) / 20)).astype(np.float32)[None, :], reduction

    drive, loud = drives.search(target_lufs, target_lufs - start)
    while abs(loud - target_lufs) > LOUDNESS_TOLERANCE_LU and drives.release < MAX_RELEASE_DB_PER_S:
        drives.release *= 2
        drive, loud = drives.search(target_lufs, drive)
    out, reduction = limited(drive)
    loud = integrated_loudness(out, sample_rate)
    for _ in range(2):
        if abs(loud - target_lufs) <= LOUDNESS_TOLERANCE_LU:
            break
        drive, _ = drives.search(target_lufs - (loud - drives.estimated(drive)), drive)
        out, reduction = limited(drive)
        loud = integrated_loudness(out, sample_rate)
    peak = true_peak_db(out)
    if peak > ceiling_dbtp:
        out = out * np.float32(10 ** ((ceiling_dbtp - 0.05 - peak) / 20))
        peak, loud = true_peak_db(out), integrated_loudness(out, sample_rate)
    return out, MasterReport(loudness=loud, true_peak=peak, gain_db=float(drive),
                             max_reduction_db=float(reduction.max()), release_db_per_s=drives.release,
                             target_loudness=target_lufs, ceiling=ceiling_dbtp)
