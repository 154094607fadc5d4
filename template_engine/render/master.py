"""Mastering: bring a mix to a target integrated loudness under a true-peak ceiling, the way an engineer
would, in four stages, after a gentle matching EQ toward the artist's masters' long-term spectrum
(``tone_match``, where ingest measured their masters):

1. **level**: one gain (the drive, dB) that the search below chooses;
2. **soft clipper**: whatever the limiter would have to take beyond its budget (``LIMITER_BUDGET_DB``)
   is rounded off instantly by a tanh knee, so isolated transients (the one loud kick) do not make the
   limiter pump the whole song down;
3. **true-peak limiter**: a look-ahead limiter that reads the 4x-oversampled peak envelope (BS.1770
   Annex 2), ramps its gain in over a short look-ahead and releases at ``RELEASE_DB_PER_S``;
4. **macro-dynamics keeper**: the limiter takes most from the loud sections, which would flatten the
   song (the intro as loud as the drop). A slow gain (0.4 s windows, smoothed over 2 s, never above
   0 dB) lowers each quieter window by what the loud windows lost, less an allowance (the artist's
   own masters' narrowing of loud-to-quiet spread, or 1 dB), so the sections keep their distances.

Loudness is BS.1770 integrated loudness (LUFS); true peak is in dBTP. The drive is searched on 1 ms
blocks (each block's loudest oversampled peak and mean K-weighted power), cheaply, and an exact
measurement of the mastered audio at full resolution corrects what is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import scipy

from project_ingest.profile import MixProfile
from sample_library.loudness import (
    LIVE_RANGE_DB,
    SPREAD_WINDOW_S,
    block_powers,
    frame_powers,
    gated_loudness,
    integrated_loudness,
    k_weighted_powers,
    level_spread_db,
    oversampled_envelope,
    true_peak_db,
    window_sums,
)
from template_engine.render.dsp import peak
from template_engine.render.soft_clip import soft_clip, soft_clip_db
from template_engine.render.tone_match import match_tone, spectrum_db, tone_correction_db, tone_distance_db

DEFAULT_MASTER_LUFS = -9.0  # where the artist's masters were not measured
CEILING_MARGIN_DB = 0.1
LOOKAHEAD_S = 0.0015
RELEASE_DB_PER_S = 200.0  # 6 dB of reduction back in 30 ms: a mastering limiter's release
LIMITER_BUDGET_DB = 4.5  # the limiter takes at most about this much; the clipper rounds off the rest
MACRO_WINDOW_S = 0.4
MACRO_SMOOTH_S = 2.0
LOUD_SHARE = 0.2  # the loudest fifth of the sounding windows set the reference loss
DEFAULT_MACRO_ALLOWANCE_DB = 1.0
MAX_MACRO_ALLOWANCE_DB = 3.0
MAX_EXTRA_DRIVE_DB = 24.0
SEARCH_BLOCK_S = 0.001
SEARCH_STEPS = 12
SEARCH_TOLERANCE_LU = 0.02  # the block estimate is close enough to its goal
LOUDNESS_TOLERANCE_LU = 0.1  # the master is close enough to its target


def target_lufs_for(profile: MixProfile, lufs: float | None = None) -> float:
    """The loudness to master to: ``lufs`` when given, else the artist's masters' median, else
    ``DEFAULT_MASTER_LUFS``."""
    return float(lufs if lufs is not None else profile.master_lufs or DEFAULT_MASTER_LUFS)


def macro_allowance_db(profile: MixProfile) -> float:
    """How much the artist's masters narrow their songs' loud-to-quiet bar spread (dB, 0..3), or
    ``DEFAULT_MACRO_ALLOWANCE_DB`` where no song came with its master."""
    narrowing = profile.master_spread_narrowing_db
    return DEFAULT_MACRO_ALLOWANCE_DB if narrowing is None else float(np.clip(narrowing, 0.0, MAX_MACRO_ALLOWANCE_DB))


@dataclass
class MasterReport:
    """What the master did, in dB: loudness reached (LUFS) and true peak (dBTP) against their target
    and ceiling; the drive; the clipper's deepest cut; the limiter's largest and mean gain reduction
    (mean over the sounding frames); the macro-dynamics keeper's deepest cut; and the loud-minus-quiet
    spread of window levels (``level_spread_db``) before and after."""

    loudness: float
    true_peak: float
    target_loudness: float
    ceiling: float
    gain_db: float
    clip_db: float
    max_reduction_db: float
    mean_reduction_db: float
    macro_db: float
    spread_before_db: float | None = None
    spread_after_db: float | None = None
    tone_before_db: float | None = None
    tone_after_db: float | None = None

    def measured(self, mix: np.ndarray, mastered: np.ndarray, sample_rate: int, spread_window_s: float,
                 tone_db: Sequence[float] | None) -> MasterReport:
        """This report with what is measured on the finished master: the loud-to-quiet spreads of
        ``mix`` and ``mastered`` (channels, frames) over windows of ``spread_window_s``, and, where
        the artist's masters' spectrum ``tone_db`` is known, the master's distance from it."""
        return replace(self, spread_before_db=level_spread_db(mix, sample_rate, spread_window_s),
                       spread_after_db=level_spread_db(mastered, sample_rate, spread_window_s),
                       tone_after_db=None if tone_db is None else tone_distance_db(spectrum_db(mastered, sample_rate), tone_db))

    def to_dict(self) -> dict[str, float]:
        """The report for render.json and the console, rounded to 0.01 dB."""
        figures = {"integrated_lufs": self.loudness, "true_peak_dbtp": self.true_peak, "target_lufs": self.target_loudness,
                   "ceiling_dbtp": self.ceiling, "drive_db": self.gain_db, "clipper_max_db": self.clip_db,
                   "limiter_max_reduction_db": self.max_reduction_db, "limiter_mean_reduction_db": self.mean_reduction_db,
                   "macro_gain_min_db": self.macro_db, "bar_spread_before_db": self.spread_before_db,
                   "bar_spread_after_db": self.spread_after_db, "tone_distance_before_db": self.tone_before_db,
                   "tone_distance_after_db": self.tone_after_db}
        return {k: round(float(v), 2) for k, v in figures.items() if v is not None}


def peak_envelope_db(audio: np.ndarray) -> np.ndarray:
    """Per base-rate frame, the largest 4x-oversampled sample over all channels (dBFS): shape (frames,)."""
    return 20 * np.log10(np.maximum(oversampled_envelope(audio), 1e-9))


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
    Only the stretches around the frames over the ceiling are worked (``limited_spans``): elsewhere
    the reduction is 0.
    """
    need = peaks_db + np.float64(drive_db - ceiling_db)
    np.maximum(need, 0.0, out=need)
    half = max(1, int(lookahead_s * sample_rate))
    rate = release_db_per_s / sample_rate
    reduction = np.zeros(need.size)
    for a, b in limited_spans(need, half, rate):
        reduction[a:b] = _span_reduction(need[a:b], 2 * half + 1, rate)
    return reduction


def limited_spans(need: np.ndarray, half: int, rate: float) -> list[tuple[int, int]]:
    """Frame ranges [a, b) outside which a reduction ``need`` (frames,) needs none: each run of
    frames in need, widened by the look-ahead's reach (twice ``half`` frames, either side) and the
    release's (the largest need over ``rate`` dB per frame), so a range's filters and release see the
    zeros they would see over the whole song."""
    hot = np.flatnonzero(need > 0)
    if hot.size == 0:
        return []
    reach = 2 * half + 2 + int(np.ceil(need[hot].max() / rate)) + 1
    breaks = np.flatnonzero(np.diff(hot) > 2 * reach)
    return [(max(int(first) - reach, 0), min(int(last) + reach + 1, need.size))
            for first, last in zip(hot[np.r_[0, breaks + 1]], hot[np.r_[breaks, hot.size - 1]])]


def _span_reduction(need: np.ndarray, width: int, rate: float) -> np.ndarray:
    """``gain_reduction_db``'s filters and release on one range of ``need`` (frames,), dB."""
    reduction = scipy.ndimage.maximum_filter1d(need, width)
    scipy.ndimage.uniform_filter1d(reduction, width, output=reduction)
    ramp = np.arange(need.size, dtype=np.float64)
    ramp *= rate
    reduction += ramp
    np.maximum.accumulate(reduction, out=reduction)
    reduction -= ramp
    return np.maximum(reduction, need, out=reduction)


def macro_gain_db(before: np.ndarray, after: np.ndarray, allowance_db: float) -> np.ndarray:
    """The macro-dynamics keeper's gain (dB, <= 0) per window, from the windows' powers (windows,)
    before and after the clipper and limiter: each window is lowered by the mean loss of the loudest
    ``LOUD_SHARE`` of windows minus its own loss, less ``allowance_db``, smoothed over
    ``MACRO_SMOOTH_S``."""
    with np.errstate(divide="ignore"):
        level = 10 * np.log10(before)
        loss = level - 10 * np.log10(np.maximum(after, 1e-30))
    live = level > level.max() - LIVE_RANGE_DB
    if not live.any():
        return np.zeros(before.size)
    loud = live & (level >= np.quantile(level[live], 1 - LOUD_SHARE))
    gain = np.where(live, np.minimum(0.0, loss - loss[loud].mean() + allowance_db), 0.0)
    return np.minimum(scipy.ndimage.uniform_filter1d(gain, max(1, round(MACRO_SMOOTH_S / MACRO_WINDOW_S)), mode="nearest"), 0.0)


def per_frame(window_values: np.ndarray, size: int, frames: int) -> np.ndarray:
    """Values given at the centres of windows of ``size`` frames, interpolated linearly to every frame
    (the first value before the first centre, the last after the last): (frames,) float32. Every
    span between two centres holds ``size`` frames at the same fractions of the way, so the spans
    are one outer product rather than a search per frame (``np.interp``: 16x slower on a song)."""
    values = np.asarray(window_values, np.float64)
    out = np.empty(frames, np.float32)
    if frames == 0:
        return out
    first = -(-size // 2)  # the first frame at or after the first centre, (0 + 0.5) * size
    ramps = values[:-1, None] + np.diff(values)[:, None] * ((np.arange(size) + first - size / 2) / size)
    middle = ramps.reshape(-1)[: max(frames - first, 0)]
    out[: min(first, frames)] = values[0]
    out[first:first + middle.size] = middle
    out[first + middle.size:] = values[-1]
    return out


@dataclass
class Blocks:
    """A mix on 1 ms blocks for the drive search: each block's loudest oversampled peak (dBFS), mean
    K-weighted power (for loudness) and mean power (for the macro-dynamics, which are bar RMS), at
    ``rate`` blocks per second."""

    peaks_db: np.ndarray
    powers: np.ndarray
    plain_powers: np.ndarray
    rate: float

    @classmethod
    def of(cls, mix: np.ndarray, sample_rate: int) -> tuple[Blocks, float]:
        """The blocks of (channels, frames) ``mix``, and its integrated loudness (LUFS)."""
        weighted = k_weighted_powers(mix, sample_rate)
        size = max(1, int(SEARCH_BLOCK_S * sample_rate))
        blocks = cls(per_block(peak_envelope_db(mix), size, "max"), per_block(weighted, size, "mean"),
                     per_block(frame_powers(mix), size, "mean"), sample_rate / size)
        return blocks, gated_loudness(block_powers(weighted, sample_rate))


@dataclass
class MasterChain:
    """The four stages for one mix: true-peak ceiling (dBTP), the clipper's ceiling (dBFS), the macro
    allowance (dB); and the searched drive's loudness estimated on ``blocks``."""

    sample_rate: int
    limit_db: float
    allowance_db: float
    blocks: Blocks

    @property
    def clip_ceiling_db(self) -> float:
        return self.limit_db + LIMITER_BUDGET_DB

    def estimated(self, drive: float) -> float:
        """Integrated loudness (LUFS) of the mix mastered at ``drive``, from the blocks: the clipper's cut
        and the limiter's reduction of a block's peak count as gain on the whole block."""
        blocks = self.blocks
        driven = blocks.peaks_db + drive
        clipped = soft_clip_db(driven, self.clip_ceiling_db)
        reduction = gain_reduction_db(clipped, 0.0, self.limit_db, blocks.rate)
        gain = 10 ** ((clipped - driven - reduction) / 10)
        size = max(1, int(round(MACRO_WINDOW_S * blocks.rate)))
        macro = macro_gain_db(window_sums(blocks.plain_powers, size), window_sums(blocks.plain_powers * gain, size),
                              self.allowance_db)
        powers = blocks.powers * 10 ** (drive / 10) * gain * 10 ** (per_frame(macro, size, gain.size) / 10)
        return gated_loudness(block_powers(powers, blocks.rate))

    def search(self, goal: float, drive: float, lowest: float, highest: float) -> float:
        """The drive (dB, within ``lowest``..``highest``) whose estimate reaches ``goal`` LUFS, by secant
        steps from ``drive``."""
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
            step = float(np.clip(drive + (goal - loud) / slope, lowest, highest)) - drive
            if abs(step) < 1e-3:
                break
            drive += step
        return drive

    def apply(self, mix: np.ndarray, drive: float) -> tuple[np.ndarray, dict[str, float]]:
        """``mix`` (channels, frames) through the four stages at ``drive`` dB; returns the master and each
        stage's figures (dB). One array is worked on in place, so a 3-minute song costs a few copies."""
        out = mix * np.float32(10 ** (drive / 20))
        size = int(round(MACRO_WINDOW_S * self.sample_rate))
        before = window_sums(frame_powers(out), size)
        loudest = peak(out)
        soft_clip(out, self.clip_ceiling_db, in_place=True)
        clipped_peak = peak(out)
        reduction = gain_reduction_db(peak_envelope_db(out), 0.0, self.limit_db, self.sample_rate)
        figures = {"clip_db": max(0.0, 20 * np.log10(max(loudest, 1e-9) / max(clipped_peak, 1e-9))),
                   "max_reduction_db": float(reduction.max()),
                   "mean_reduction_db": float(np.mean(reduction[per_frame(before, size, out.shape[1]) > 0]))
                   if np.any(before > 0) else 0.0}
        gain = reduction.astype(np.float32)
        del reduction
        gain *= np.float32(-np.log(10) / 20)
        out *= np.exp(gain, out=gain)[None, :]
        del gain
        macro = macro_gain_db(before, window_sums(frame_powers(out), size), self.allowance_db)
        out *= per_frame(10 ** (macro / 20), size, out.shape[1])[None, :]
        return out, {**figures, "macro_db": float(macro.min())}


def master(mix: np.ndarray, sample_rate: int, *, target_lufs: float, ceiling_dbtp: float = -1.0,
           allowance_db: float | None = None, spread_window_s: float = SPREAD_WINDOW_S,
           tone_db: Sequence[float] | None = None) -> tuple[np.ndarray, MasterReport]:
    """Master ``mix`` (channels, frames) to ``target_lufs`` with its true peak at most ``ceiling_dbtp``.

    ``allowance_db`` is how much the loud-to-quiet spread may narrow (the artist's masters'
    habit; ``DEFAULT_MACRO_ALLOWANCE_DB`` when unknown); ``spread_window_s`` the window of the spread
    the report gives (a bar of the song, or 2 s); ``tone_db`` the artist's masters' long-term
    spectrum (third-octave bands, mean removed), which a gentle matching EQ moves the mix toward first
    (``tone_match``). The drive is found on 1 ms blocks, then the mix is mastered once at full
    resolution and corrected at most twice. Returns the master (float32, same shape) and a report.
    """
    out, report = master_audio(mix, sample_rate, target_lufs=target_lufs, ceiling_dbtp=ceiling_dbtp,
                               allowance_db=allowance_db, tone_db=tone_db)
    return out, report.measured(mix, out, sample_rate, spread_window_s, tone_db)


def master_audio(mix: np.ndarray, sample_rate: int, *, target_lufs: float, ceiling_dbtp: float = -1.0,
                 allowance_db: float | None = None, tone_db: Sequence[float] | None = None) -> tuple[np.ndarray, MasterReport]:
    """``master``'s audio, and its report but for what is measured on the finished master
    (``MasterReport.measured``): a render measures that while the master's MP3 encodes."""
    tone_before = None
    if tone_db is not None:
        spectrum = spectrum_db(mix, sample_rate)
        tone_before = tone_distance_db(spectrum, tone_db)
        mix = match_tone(mix, sample_rate, tone_correction_db(spectrum, tone_db))
    blocks, start = Blocks.of(mix, sample_rate)
    chain = MasterChain(sample_rate, ceiling_dbtp - CEILING_MARGIN_DB,
                        DEFAULT_MACRO_ALLOWANCE_DB if allowance_db is None else allowance_db, blocks)
    lowest, highest = target_lufs - start - MAX_EXTRA_DRIVE_DB, target_lufs - start + MAX_EXTRA_DRIVE_DB
    drive = chain.search(target_lufs, target_lufs - start, lowest, highest)
    out, stages = chain.apply(mix, drive)
    loud = integrated_loudness(out, sample_rate)
    for _ in range(2):
        if abs(loud - target_lufs) <= LOUDNESS_TOLERANCE_LU:
            break
        drive = chain.search(target_lufs - (loud - chain.estimated(drive)), drive, lowest, highest)
        del out
        out, stages = chain.apply(mix, drive)
        loud = integrated_loudness(out, sample_rate)
    true_peak = true_peak_db(out)
    if true_peak > ceiling_dbtp:
        out *= np.float32(10 ** ((ceiling_dbtp - 0.05 - true_peak) / 20))
        true_peak, loud = true_peak_db(out), integrated_loudness(out, sample_rate)
    return out, MasterReport(loudness=loud, true_peak=true_peak, target_loudness=target_lufs, ceiling=ceiling_dbtp,
                             gain_db=float(drive), tone_before_db=tone_before, **stages)
