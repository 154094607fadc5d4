"""The loudness meter agrees with pyloudnorm; the true-peak meter finds inter-sample peaks; the
master reaches its loudness under the true-peak ceiling, and its limiter never recovers faster than
its release."""

import numpy as np
import pyloudnorm
import pytest
from scipy.signal import resample_poly

from sample_library.loudness import OVERSAMPLE, integrated_loudness, oversampled_peaks, true_peak_db
from template_engine.render.master import gain_reduction_db, master, peak_envelope_db

SR = 44100


def _beat_mix(seconds: float = 12.0, seed: int = 0) -> np.ndarray:
    """A kick every half second over a quieter noise bed: peaky, like a pre-master EDM mix."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(int(0.3 * SR)) / SR
    kick = np.sin(2 * np.pi * (50 + 120 * np.exp(-t * 30)) * t) * np.exp(-t * 12)
    mix = rng.standard_normal((2, n)) * 0.03
    for start in range(0, n - t.size, SR // 2):
        mix[:, start:start + t.size] += 0.5 * kick
    return mix.astype(np.float32)


@pytest.mark.parametrize("sample_rate", [44100, 48000])
def test_loudness_matches_pyloudnorm(sample_rate):
    rng = np.random.default_rng(1)
    n = sample_rate * 5 + 77
    audio = (rng.standard_normal((2, n)) * np.linspace(0, 0.4, n) ** 2).astype(np.float32)
    want = pyloudnorm.Meter(sample_rate).integrated_loudness(audio.T.astype(np.float64))
    assert abs(integrated_loudness(audio, sample_rate) - want) < 0.01


def test_loudness_on_any_spans_equals_loudness_of_the_whole():
    rng = np.random.default_rng(2)
    audio = np.zeros((2, SR * 6 + 1234), dtype=np.float32)
    spans = [(12345, 70001), (100003, 153940), (200000, audio.shape[1])]
    for (a, b), level in zip(spans, [0.3, 0.05, 0.1]):
        audio[:, a:b - SR // 3] = rng.standard_normal((2, b - SR // 3 - a)) * level
    audio[:, 153940 - SR // 3:153940] = 0.5 * rng.standard_normal((2, SR // 3))
    assert abs(integrated_loudness(audio, SR, spans=spans) - integrated_loudness(audio, SR)) < 0.01


def test_true_peak_finds_the_peak_between_samples():
    t = np.arange(SR) / SR
    quarter_rate_sine = np.sin(2 * np.pi * SR / 4 * t + np.pi / 4).astype(np.float32)[None, :].repeat(2, axis=0)
    assert abs(np.abs(quarter_rate_sine).max() - 10 ** (-3.01 / 20)) < 1e-3
    assert abs(true_peak_db(quarter_rate_sine)) < 0.2  # the interpolator reads +0.12 dB at a quarter of the rate


def test_oversampled_peaks_are_those_of_the_polyphase_resampler():
    rng = np.random.default_rng(3)
    audio = (rng.standard_normal((2, 5000)) * 0.3).astype(np.float32)
    up = resample_poly(audio, OVERSAMPLE, 1, axis=-1).reshape(2, -1, OVERSAMPLE)
    assert np.abs(oversampled_peaks(audio) - np.abs(up).max(axis=-1)).max() < 1e-5


@pytest.mark.parametrize("target", [-14.0, -9.0, -7.0])
def test_master_reaches_target_under_ceiling(target):
    out, report = master(_beat_mix(), SR, target_lufs=target, ceiling_dbtp=-1.0)
    assert abs(integrated_loudness(out, SR) - target) < 0.5
    assert true_peak_db(out) <= -1.0
    assert abs(report.loudness - integrated_loudness(out, SR)) < 1e-6


def test_limiter_recovers_no_faster_than_release():
    peaks = peak_envelope_db(_beat_mix())
    reduction = gain_reduction_db(peaks, 20.0, -1.1, SR, release_db_per_s=20.0)
    assert reduction.max() > 6
    assert np.diff(reduction).min() >= -20.0 / SR - 1e-9
    assert np.all(peaks + 20.0 - reduction <= -1.1 + 1e-6)
