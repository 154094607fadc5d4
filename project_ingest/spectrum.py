"""The long-term spectrum of a sound, a stem or a mix: Welch's average of Hann-windowed segments,
read as third-octave band levels (dB, their mean removed: a curve's shape, not its level).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy

BAND_CENTRES = 1000.0 * 2.0 ** (np.arange(-16, 13) / 3.0)  # 25 Hz .. 16 kHz, third octaves
WELCH_SEGMENT = 4096


def band_levels_db(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    """Long-term third-octave band levels (dB), mean over bands removed: shape (29,).

    The spectrum is Welch's average of Hann-windowed 4096-frame segments (no overlap, each segment's
    mean removed), up to a constant factor, which the mean removal takes away; for the same reason
    silent segments, which add nothing but a constant factor, are not transformed."""
    return spectrum_band_levels_db(*segment_power_spectrum(mono, sample_rate), sample_rate)


def spectrum_band_levels_db(freqs: np.ndarray, power: np.ndarray, sample_rate: int) -> np.ndarray:
    """Third-octave band levels (dB), mean over bands removed, of a power spectrum (any units) at
    ``freqs`` (Hz): shape (29,). A band narrower than the bin spacing reads the spectrum at its centre."""
    out = np.empty(BAND_CENTRES.size)
    for i, fc in enumerate(BAND_CENTRES):
        lo, hi = fc / 2 ** (1 / 6), min(fc * 2 ** (1 / 6), sample_rate / 2)
        sel = (freqs >= lo) & (freqs < hi)
        band = power[sel].mean() if sel.any() else np.interp(fc, freqs, power)
        out[i] = 10 * np.log10(band + 1e-20)
    return out - out.mean()


def segment_power_spectrum(mono: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (Hz) and mean power (arbitrary units) of the sounding WELCH_SEGMENT-frame segments
    of ``mono`` (frames,), each detrended to zero mean and Hann-windowed: shapes (WELCH_SEGMENT // 2 + 1,).
    A signal shorter than one segment is zero-padded to one; the last partial segment is dropped."""
    if mono.size < WELCH_SEGMENT:
        mono = np.pad(mono, (0, WELCH_SEGMENT - mono.size))
    segments = np.asarray(mono[: mono.size // WELCH_SEGMENT * WELCH_SEGMENT], dtype=np.float32).reshape(-1, WELCH_SEGMENT)
    heard = segments.any(axis=1)
    if heard.any() and not heard.all():
        segments = segments[heard]
    return segment_freqs(sample_rate), segments_power(segments) / segments.shape[0]


def sound_power_spectrum(mono: np.ndarray) -> np.ndarray:
    """Summed power (arbitrary units) of a sound (frames,) in WELCH_SEGMENT-frame segments at every
    quarter segment that holds any of it, each detrended to zero mean and Hann-windowed, float64:
    (WELCH_SEGMENT // 2 + 1,). The squared Hann windows at a quarter-segment hop sum to a constant,
    so every frame of the sound counts alike, as it does on average in a long track whose notes fall
    anywhere in its segments (its onset at a segment's edge, alone, would be windowed away). The
    long-term spectrum of a track is its sounds' spectra, each weighted by how often and how loud it
    plays."""
    hop = WELCH_SEGMENT // 4
    padded = np.zeros(-(-mono.size // hop) * hop + 2 * (WELCH_SEGMENT - hop), dtype=np.float32)
    padded[WELCH_SEGMENT - hop:WELCH_SEGMENT - hop + mono.size] = mono
    return segments_power(np.lib.stride_tricks.sliding_window_view(padded, WELCH_SEGMENT)[::hop])


def segment_freqs(sample_rate: int) -> np.ndarray:
    """The frequencies (Hz) of the bins of a segment's spectrum: (WELCH_SEGMENT // 2 + 1,)."""
    return scipy.fft.rfftfreq(WELCH_SEGMENT, 1 / sample_rate)


def segments_power(segments: np.ndarray) -> np.ndarray:
    """Summed power of float32 segments (count, WELCH_SEGMENT), each detrended to zero mean and
    Hann-windowed, float64: (WELCH_SEGMENT // 2 + 1,). The segments are windowed in one copy and their
    powers summed without an array of them."""
    windowed = segments - segments.mean(axis=1, keepdims=True)
    windowed *= _hann()
    spectra = scipy.fft.rfft(windowed, axis=1)
    power = np.einsum("ij,ij->j", spectra.real, spectra.real, dtype=np.float64)
    power += np.einsum("ij,ij->j", spectra.imag, spectra.imag, dtype=np.float64)
    return power


@lru_cache(maxsize=1)
def _hann() -> np.ndarray:
    """The periodic Hann window of a segment (WELCH_SEGMENT,) float32, as ``scipy.signal.get_window``
    gives it for spectral analysis."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WELCH_SEGMENT) / WELCH_SEGMENT)).astype(np.float32)
