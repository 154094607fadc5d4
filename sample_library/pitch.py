"""Pitch: note names, MIDI numbers, and a YIN fundamental-frequency tracker with an octave check."""

from __future__ import annotations

import re

import numpy as np

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_NOTE_OFFSETS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_NAME_RE = re.compile(r"(?<![A-Za-z0-9])([A-Ga-g])(#|b|s|sharp)?(-?[0-8])(?![0-9])")


def hz_to_midi(freq: float) -> float:
    """Frequency in Hz -> fractional MIDI note number (A4 = 440 Hz = 69)."""
    return 69.0 + 12.0 * np.log2(freq / 440.0)


def midi_to_hz(note: float) -> float:
    """Fractional MIDI note number -> frequency in Hz."""
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def midi_to_name(note: int) -> str:
    """MIDI note number -> scientific pitch name (60 -> 'C4')."""
    return f"{NOTE_NAMES[note % 12]}{note // 12 - 1}"


def note_from_name(name: str) -> int | None:
    """The MIDI note written in a file name, as in ``Bass_C#2.wav`` or ``Lead F3``; None if there is none.

    Only the last match counts (``Pad_A_minor_C3`` -> C3).
    """
    matches = list(_NAME_RE.finditer(name))
    if not matches:
        return None
    letter, accidental, octave = matches[-1].groups()
    semitone = _NOTE_OFFSETS[letter.upper()]
    if accidental in ("#", "s", "sharp"):
        semitone += 1
    elif accidental == "b":
        semitone -= 1
    return (int(octave) + 1) * 12 + semitone


def estimate_f0(mono: np.ndarray, sample_rate: int, *, fmin: float = 30.0, fmax: float = 2000.0,
                threshold: float = 0.15) -> tuple[float | None, float]:
    """Estimate the fundamental of a pitched one-shot with YIN over its steady part.

    Parameters
    ----------
    mono : np.ndarray, shape (frames,)
    sample_rate : int, Hz
    fmin, fmax : float, Hz
        Search range.

    Returns
    -------
    f0 : float or None
        Median fundamental in Hz over the voiced frames, None when the sound is not pitched.
    confidence : float
        Share of analysed frames that were voiced, times their mean periodicity (0..1).
    """
    frame = 4096 if fmin < 60 else 2048
    max_lag = min(int(sample_rate / fmin), frame // 2)
    min_lag = max(2, int(sample_rate / fmax))
    hop = frame // 2
    peak = np.max(np.abs(mono)) if mono.size else 0.0
    if peak <= 0 or mono.size < frame + max_lag:
        mono = np.pad(mono, (0, max(0, frame + max_lag - mono.size)))
    starts = list(range(0, mono.size - frame - max_lag + 1, hop))[:40]
    f0s, periodicities = [], []
    for start in starts:
        seg = mono[start:start + frame + max_lag].astype(np.float64)
        if np.sqrt(np.mean(seg ** 2)) < 1e-3 * max(peak, 1e-9):
            continue
        d = _yin_difference(seg, frame, max_lag)
        cmnd = _cumulative_mean_normalised(d)
        lag = _first_dip(cmnd, min_lag, threshold)
        if lag is None:
            continue
        lag = _refine_octave(cmnd, lag, min_lag)
        exact = _parabolic(cmnd, lag)
        f0s.append(sample_rate / exact)
        periodicities.append(1.0 - cmnd[lag])
    if not starts:
        return None, 0.0
    voiced = len(f0s) / len(starts)
    if not f0s or voiced < 0.3:
        return None, float(voiced * (np.mean(periodicities) if periodicities else 0.0))
    return float(np.median(f0s)), float(voiced * np.mean(periodicities))


def _yin_difference(seg: np.ndarray, frame: int, max_lag: int) -> np.ndarray:
    n = 1 << int(np.ceil(np.log2(frame + max_lag)) + 1)
    spec = np.fft.rfft(seg, n)
    window = np.fft.rfft(seg[:frame][::-1], n)
    corr = np.fft.irfft(spec * window, n)[frame - 1:frame - 1 + max_lag + 1]
    energy = np.cumsum(np.concatenate([[0.0], seg ** 2]))
    e0 = energy[frame] - energy[0]
    lags = np.arange(max_lag + 1)
    e_lag = energy[lags + frame] - energy[lags]
    return np.maximum(e0 + e_lag - 2.0 * corr, 0.0)


def _cumulative_mean_normalised(d: np.ndarray) -> np.ndarray:
    out = np.ones_like(d)
    cums = np.cumsum(d[1:])
    lags = np.arange(1, d.size)
    out[1:] = d[1:] * lags / np.maximum(cums, 1e-12)
    return out


def _first_dip(cmnd: np.ndarray, min_lag: int, threshold: float) -> int | None:
    below = np.nonzero(cmnd[min_lag:] < threshold)[0]
    if below.size == 0:
        lag = int(np.argmin(cmnd[min_lag:]) + min_lag)
        return lag if cmnd[lag] < 0.35 else None
    lag = int(below[0] + min_lag)
    while lag + 1 < cmnd.size and cmnd[lag + 1] < cmnd[lag]:
        lag += 1
    return lag


def _refine_octave(cmnd: np.ndarray, lag: int, min_lag: int) -> int:
    """Prefer half the lag (an octave up) when it is nearly as periodic: YIN's typical error."""
    half = lag // 2
    if half >= min_lag:
        lo, hi = max(min_lag, half - 2), min(cmnd.size - 1, half + 2)
        best = int(np.argmin(cmnd[lo:hi + 1]) + lo)
        if cmnd[best] < cmnd[lag] + 0.02 and cmnd[best] < 0.1:
            return best
    return lag


def _parabolic(y: np.ndarray, i: int) -> float:
    if 0 < i < y.size - 1:
        a, b, c = y[i - 1], y[i], y[i + 1]
        denom = a - 2 * b + c
        if abs(denom) > 1e-12:
            return i + 0.5 * (a - c) / denom
    return float(i)
