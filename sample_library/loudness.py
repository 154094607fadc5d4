"""Loudness (BS.1770 integrated, LUFS) and true peak (4x oversampled, dBTP) meters.

The K-weighting filters are pyloudnorm's (its BS.1770 filter design at any sample rate); the gating
is vectorised here over cumulative sums, because the mixer and the master meter every stem of a
3-minute song several times and pyloudnorm's per-block Python loop dominated that.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
import scipy

OVERSAMPLE = 4
INTERPOLATOR_HALF_TAPS = 10  # per phase, either side of the centre
INTERPOLATOR_FFT = 2048  # points of the overlap-save blocks the interpolator's phases run on
INTERPOLATOR_CHUNK = 64  # blocks transformed at once
BLOCK_SECONDS = 0.4
STEP_SECONDS = 0.1
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
LIVE_RANGE_DB = 30.0  # windows this far under the loudest one are silence, not sections
SPREAD_WINDOW_S = 2.0
LUFS_RANGE = (-30.0, -3.0)  # the integrated loudness a master may be asked for
FILTER_BLOCK = 65536
IDENTITY_PROBE = 4096  # frames of two channels compared before the whole of them
DENORMAL_GUARD = 1e-20  # a -400 dB offset that keeps the filters' state out of subnormal numbers


@lru_cache(maxsize=8)
def k_weighting_ba(sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """BS.1770 K-weighting (high shelf +4 dB at 1.5 kHz, then high pass at 38 Hz) as one fourth-order
    filter: numerator and denominator, (5,) each. scipy's ``lfilter`` runs it 2.4x faster than
    ``sosfilt`` runs the two sections, and in float64 the powers agree with theirs to 1e-11."""
    from pyloudnorm.iirfilter import IIRfilter  # imported where audio is measured, as scipy.signal is

    shelf = IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sample_rate, "high_shelf")
    high_pass = IIRfilter(0.0, 0.5, 38.0, sample_rate, "high_pass")
    return np.convolve(shelf.b, high_pass.b), np.convolve(shelf.a, high_pass.a)


def guarded(audio: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``audio`` as float64 plus ``DENORMAL_GUARD``, written into ``out`` (of ``audio``'s shape or
    wider: the view of it that is filled is returned), for a recursive filter: where the input falls
    to exact zeros, a filter's decaying state passes through subnormal numbers, which the CPU
    computes 5-10 times slower (a stem's gaps between notes made the K-weighting of some stems 6x
    slower). Writing into one buffer spares a fresh array per block (a third of the filter's time)."""
    view = out[:, :audio.shape[1]]
    return np.add(audio, DENORMAL_GUARD, out=view, dtype=np.float64)


def channel_map(function: Callable[[np.ndarray], np.ndarray], audio: np.ndarray) -> list[np.ndarray]:
    """``function`` of each channel of (channels, frames) ``audio``, the channels on threads (scipy's
    filters release the GIL): one result per channel."""
    if audio.shape[0] == 1:
        return [function(audio[0])]
    with ThreadPoolExecutor(max_workers=audio.shape[0]) as pool:
        return list(pool.map(function, audio))


def fold_channels(function: Callable[[np.ndarray], np.ndarray], audio: np.ndarray, combine: np.ufunc) -> np.ndarray:
    """``function`` of each channel of (channels, frames) ``audio`` (``channel_map``), combined in
    channel order into the first result, in place, by the ufunc ``combine`` (``np.add``, ``np.maximum``)."""
    parts = channel_map(function, audio)
    total = parts[0]
    for part in parts[1:]:
        combine(total, part, out=total)
    return total


def k_weighted_powers(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """``frame_powers`` of the K-weighted audio (channels, frames), float64: (frames,). Each channel is
    filtered on its own thread (``k_weighted_squares``)."""
    ba = k_weighting_ba(sample_rate)
    return fold_channels(lambda channel: k_weighted_squares(channel[None, :], ba), audio, np.add)


def k_weighted_squares(audio: np.ndarray, ba: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """``frame_powers`` of (channels, frames) ``audio`` through the filter ``ba`` (numerator and
    denominator: the K-weighting), float64: (frames,). The filter runs on blocks of ``FILTER_BLOCK``
    frames and carries its state from one to the next, so its float64 copies stay small (a whole
    3-minute stem's copies cost as much as the filter, in fresh pages) and the result is the same
    as filtering the whole at once."""
    b, a = ba
    out = np.empty(audio.shape[1])
    state = np.zeros((audio.shape[0], a.size - 1))
    block = np.empty((audio.shape[0], min(FILTER_BLOCK, audio.shape[1])))
    for start in range(0, audio.shape[1], FILTER_BLOCK):
        weighted, state = scipy.signal.lfilter(b, a, guarded(audio[:, start:start + FILTER_BLOCK], block), axis=-1, zi=state)
        out[start:start + weighted.shape[1]] = frame_powers(weighted)
    return out


@lru_cache(maxsize=1)
def interpolator_phases() -> list[np.ndarray]:
    """The 4x true-peak interpolator, a Kaiser-windowed sinc of 81 taps at the 4x rate (scipy's
    ``resample_poly`` design), split into its four phases of 21 base-rate taps, float32. Phase 0 is
    zero but for its centre tap: the sinc's zero crossings."""
    taps = scipy.signal.firwin(2 * INTERPOLATOR_HALF_TAPS * OVERSAMPLE + 1, 1 / OVERSAMPLE, window=("kaiser", 5.0))
    taps *= OVERSAMPLE
    return [taps[k::OVERSAMPLE].astype(np.float32) for k in range(OVERSAMPLE)]


@lru_cache(maxsize=1)
def interpolator_spectra() -> np.ndarray:
    """The spectra of phases 1-3 of the interpolator at ``INTERPOLATOR_FFT`` points: (3, INTERPOLATOR_FFT // 2 + 1),
    complex64."""
    return np.stack([scipy.fft.rfft(phase, INTERPOLATOR_FFT) for phase in interpolator_phases()[1:]]).astype(np.complex64)


def oversampled_envelope(audio: np.ndarray) -> np.ndarray:
    """Per base-rate frame, the largest absolute sample of (channels, frames) ``audio`` resampled 4x,
    over all channels: (frames,). Each phase of the interpolator is its own short convolution, so the four
    interpolated samples of a frame land in four contiguous arrays and their peak is elementwise.
    The three convolutions run by overlap-save FFTs of ``INTERPOLATOR_FFT`` points in float32 that
    share each block's forward transform (a third the time of three overlap-add convolutions), a
    chunk of blocks at a time; the channels run on threads."""
    return fold_channels(_oversampled_channel_peaks, audio.astype(np.float32, copy=False), np.maximum)


def _oversampled_channel_peaks(channel: np.ndarray) -> np.ndarray:
    """The largest absolute 4x-oversampled sample of each frame of one channel (frames,) float32: (frames,)."""
    frames, centre = channel.size, INTERPOLATOR_HALF_TAPS
    overlap = 2 * centre
    step = INTERPOLATOR_FFT - overlap
    blocks = max(1, -(-frames // step))
    padded = np.zeros(blocks * step + overlap, dtype=np.float32)
    padded[overlap - centre:overlap - centre + frames] = channel
    windows = np.lib.stride_tricks.sliding_window_view(padded, INTERPOLATOR_FFT)[::step]
    out = np.abs(channel * interpolator_phases()[0][centre])
    for first in range(0, blocks, INTERPOLATOR_CHUNK):
        spectra = scipy.fft.rfft(windows[first:first + INTERPOLATOR_CHUNK], axis=-1)
        part = out[first * step:(first + INTERPOLATOR_CHUNK) * step]
        for phase in interpolator_spectra():
            valid = scipy.fft.irfft(spectra * phase, INTERPOLATOR_FFT, axis=-1)[:, overlap:]
            np.maximum(part, np.abs(valid.reshape(-1)[:part.size]), out=part)
    return out


def frame_powers(audio: np.ndarray) -> np.ndarray:
    """Square of each frame summed over channels, in ``audio``'s precision: (channels, frames) ->
    (frames,). Float32 squares of float32 audio are within 1e-7 of float64's and take a third of
    the time; sums over many frames are taken in float64 (``window_sums``)."""
    return np.einsum("ij,ij->j", audio, audio)


def block_powers(squares: np.ndarray, sample_rate: float) -> np.ndarray:
    """Mean of ``squares`` (frames,) over 400 ms blocks every 100 ms: shape (blocks,)."""
    step = int(round(STEP_SECONDS * sample_rate))
    sums = np.zeros(-(-squares.size // step))
    add_step_sums(sums, squares, 0, step)
    return blocks_of_steps(sums, squares.size, sample_rate)


def add_step_sums(sums: np.ndarray, squares: np.ndarray, start: int, step: int) -> None:
    """Add ``squares`` (n,), the squares of frames ``start..start + n``, into ``sums`` (steps,): the
    totals over consecutive ``step``-frame steps of the whole signal."""
    head = min((-start) % step, squares.size)
    first = start // step
    if head:
        sums[first] += squares[:head].sum()
        first += 1
    whole = (squares.size - head) // step
    sums[first:first + whole] += squares[head:head + whole * step].reshape(whole, step).sum(axis=1)
    if head + whole * step < squares.size:
        sums[first + whole] += squares[head + whole * step:].sum()


def blocks_of_steps(sums: np.ndarray, frames: int, sample_rate: float) -> np.ndarray:
    """Mean power of each 400 ms block (four 100 ms steps) from the steps' totals ``sums`` (steps,) of
    a ``frames``-long signal: shape (blocks,)."""
    count = int(np.round((frames / sample_rate - BLOCK_SECONDS) / STEP_SECONDS)) + 1
    per_block = int(round(BLOCK_SECONDS / STEP_SECONDS))
    cumulative = np.concatenate([[0.0], np.cumsum(sums)])
    ends = np.minimum(np.arange(count) + per_block, sums.size)
    return (cumulative[ends] - cumulative[:count]) / int(BLOCK_SECONDS * sample_rate)


def gated_loudness(powers: np.ndarray) -> float:
    """Integrated loudness (LUFS) from block powers: absolute gate at -70, relative gate at -10 LU."""
    with np.errstate(divide="ignore"):
        levels = -0.691 + 10 * np.log10(powers)
    above = powers[levels >= ABSOLUTE_GATE_LUFS]
    if above.size == 0:
        return ABSOLUTE_GATE_LUFS
    relative = -0.691 + 10 * np.log10(above.mean()) + RELATIVE_GATE_LU
    kept = powers[(levels > relative) & (levels > ABSOLUTE_GATE_LUFS)]
    if kept.size == 0:
        return ABSOLUTE_GATE_LUFS
    return float(-0.691 + 10 * np.log10(kept.mean()))


def integrated_loudness(audio: np.ndarray, sample_rate: int,
                        spans: list[tuple[int, int]] | None = None) -> float:
    """BS.1770 integrated loudness (LUFS) of (channels, frames); -70 for silence or very short sounds.

    With ``spans`` (frame ranges [start, stop) outside which ``audio`` is silent, each with room for
    the K-weighting's tail), only the spans are filtered, on the calling thread (the mixer calls this
    from its own pool, one role per thread), and summed over 100 ms steps (a 400 ms block is four of
    them) with no frame-length array; the silence between them is gated out. A span whose two channels
    are the same samples (a mono part) is filtered once and its powers doubled: the same sums."""
    if audio.shape[1] < int(BLOCK_SECONDS * sample_rate):
        return ABSOLUTE_GATE_LUFS
    if spans is None:
        return gated_loudness(block_powers(k_weighted_powers(audio, sample_rate), sample_rate))
    step = int(round(STEP_SECONDS * sample_rate))
    sums = np.zeros(-(-audio.shape[1] // step))
    ba = k_weighting_ba(sample_rate)
    for a, b in spans:
        part = audio[:, a:b]
        if identical_channels(part):
            squares = k_weighted_squares(part[:1], ba)
            squares *= 2
        else:
            squares = k_weighted_squares(part, ba)
        add_step_sums(sums, squares, a, step)
    return gated_loudness(blocks_of_steps(sums, audio.shape[1], sample_rate))


def identical_channels(audio: np.ndarray) -> bool:
    """Whether (channels, frames) ``audio`` is two channels of the same samples: one channel read twice
    (a broadcast view), or two equal ones (the first frames are compared first, so a stereo part is
    told apart without a pass over it)."""
    if audio.shape[0] != 2:
        return False
    return audio.strides[0] == 0 or (np.array_equal(audio[0, :IDENTITY_PROBE], audio[1, :IDENTITY_PROBE])
                                     and np.array_equal(audio[0], audio[1]))


def true_peak_db(audio: np.ndarray) -> float:
    """True peak (dBTP) of (channels, frames): the peak of the signal oversampled 4x (BS.1770 Annex 2)."""
    peak = float(oversampled_envelope(audio).max()) if audio.size else 0.0
    return float(20 * np.log10(max(peak, 1e-9)))


def level_spread_db(audio: np.ndarray, sample_rate: int, window_s: float = SPREAD_WINDOW_S) -> float:
    """Macro-dynamics of (channels, frames) ``audio``: the 90th minus the 25th percentile of window RMS
    levels (dB) over windows of ``window_s`` (a bar, for a song's bars), counting only windows within
    ``LIVE_RANGE_DB`` of the loudest."""
    size = max(1, int(round(window_s * sample_rate)))
    count = audio.shape[1] // size
    if count == 0:
        return 0.0
    power = window_sums(frame_powers(audio[:, : count * size]), size) / (audio.shape[0] * size)
    level = 10 * np.log10(power + 1e-20)
    live = level[level > level.max() - LIVE_RANGE_DB]
    return float(np.percentile(live, 90) - np.percentile(live, 25))


def window_sums(values: np.ndarray, size: int) -> np.ndarray:
    """Sums (float64) of ``values`` (n,) over consecutive windows of ``size``, the last one partial:
    (ceil(n / size),)."""
    whole = values.size // size
    sums = np.empty(-(-values.size // size))
    np.sum(values[: whole * size].reshape(whole, size), axis=1, dtype=np.float64, out=sums[:whole])
    if whole < sums.size:
        sums[whole] = values[whole * size:].sum(dtype=np.float64)
    return sums
