"""Tempo estimation from audio, for projects whose MIDI and metadata give none."""

from __future__ import annotations

import numpy as np


def estimate_tempo(mono: np.ndarray, sample_rate: int, *, low: float = 80.0, high: float = 180.0) -> float:
    """BPM from the autocorrelation of an onset-strength envelope (10 ms hop), searched in [low, high]."""
    hop = int(0.01 * sample_rate)
    n = mono.size // hop
    if n < 200:
        return 120.0
    energy = np.log1p(100 * np.sqrt(np.mean(mono[: n * hop].reshape(n, hop) ** 2, axis=1)))
    onset = np.maximum(np.diff(energy), 0.0)
    onset -= onset.mean()
    spec = np.fft.rfft(onset, 2 * onset.size)
    ac = np.fft.irfft(spec * np.conj(spec))[: onset.size]
    lags = np.arange(int(6000 / high), int(6000 / low) + 1)
    lags = lags[lags < ac.size]
    best = int(lags[np.argmax(ac[lags])])
    return float(round(6000.0 / best, 1))
