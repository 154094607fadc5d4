"""The loudness meter agrees with pyloudnorm; the true-peak meter finds inter-sample peaks; the
master reaches its loudness under the true-peak ceiling with the limiter within its budget, keeps the
song's sections apart, and its limiter never recovers faster than its release; ``template master``
masters a file and refuses to overwrite one."""

import shutil

import numpy as np
import pyloudnorm
import pytest
import scipy.ndimage
import soundfile as sf
from click.testing import CliRunner
from scipy.signal import lfilter, resample_poly

from sample_library.audio_io import write_wav
from sample_library.loudness import (
    FILTER_BLOCK,
    INTERPOLATOR_CHUNK,
    INTERPOLATOR_FFT,
    OVERSAMPLE,
    integrated_loudness,
    k_weighted_powers,
    k_weighting_ba,
    level_spread_db,
    oversampled_envelope,
    true_peak_db,
    window_sums,
)
from template_engine.cli import main
from template_engine.render.master import (
    gain_reduction_db,
    master,
    peak_envelope_db,
    per_frame,
)
from template_engine.render.soft_clip import soft_clip, soft_clip_db

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


@pytest.mark.parametrize("sample_rate", [22050, 44100, 48000, 96000, 192000])
def test_loudness_matches_pyloudnorm(sample_rate):
    rng = np.random.default_rng(1)
    n = sample_rate * 5 + 77
    audio = (rng.standard_normal((2, n)) * np.linspace(0, 0.4, n) ** 2).astype(np.float32)
    want = pyloudnorm.Meter(sample_rate).integrated_loudness(audio.T.astype(np.float64))
    assert abs(integrated_loudness(audio, sample_rate) - want) < 0.01


def test_k_weighting_in_blocks_is_the_filter_run_on_the_whole_stem():
    rng = np.random.default_rng(4)
    audio = np.zeros((2, 3 * FILTER_BLOCK + 321), dtype=np.float32)
    audio[:, :FILTER_BLOCK + SR // 8] = rng.standard_normal((2, FILTER_BLOCK + SR // 8)) * 0.2  # over a block's end
    for start in range(FILTER_BLOCK + SR // 2, audio.shape[1], SR // 2):  # then notes and exact silence, as a stem has
        audio[:, start:start + SR // 8] = rng.standard_normal((2, SR // 8)) * 0.2
    whole = lfilter(*k_weighting_ba(SR), audio.astype(np.float64), axis=-1)
    want = np.square(whole).sum(axis=0)
    assert np.allclose(k_weighted_powers(audio, SR), want, rtol=1e-8, atol=1e-24)  # the denormal guard: 3e-9, -240 dB
    want_lufs = pyloudnorm.Meter(SR).integrated_loudness(audio.T.astype(np.float64))
    assert abs(integrated_loudness(audio, SR) - want_lufs) < 0.01


def test_loudness_on_any_spans_equals_loudness_of_the_whole():
    rng = np.random.default_rng(2)
    audio = np.zeros((2, SR * 6 + 1234), dtype=np.float32)
    spans = [(12345, 70001), (100003, 153940), (200000, audio.shape[1])]
    for (a, b), level in zip(spans, [0.3, 0.05, 0.1]):
        audio[:, a:b - SR // 3] = rng.standard_normal((2, b - SR // 3 - a)) * level
    audio[:, 153940 - SR // 3:153940] = 0.5 * rng.standard_normal((2, SR // 3))
    assert abs(integrated_loudness(audio, SR, spans=spans) - integrated_loudness(audio, SR)) < 0.01


def test_a_mono_part_held_as_two_channels_is_measured_as_both():
    rng = np.random.default_rng(3)
    audio = np.zeros((2, SR * 4), dtype=np.float32)
    audio[:, 5000:SR * 2] = rng.standard_normal(SR * 2 - 5000) * 0.2  # the same samples in both channels
    audio[:, SR * 3:] = rng.standard_normal((2, SR)) * 0.05  # stereo
    spans = [(0, SR * 2 + SR // 2), (SR * 3, audio.shape[1])]
    want = pyloudnorm.Meter(SR).integrated_loudness(audio.T.astype(np.float64))
    assert abs(integrated_loudness(audio, SR, spans=spans) - want) < 0.01
    assert abs(integrated_loudness(audio[:, :SR * 2], SR, spans=[(0, SR * 2)])
               - pyloudnorm.Meter(SR).integrated_loudness(audio[:, :SR * 2].T.astype(np.float64))) < 0.01


def test_true_peak_finds_the_peak_between_samples():
    t = np.arange(SR) / SR
    quarter_rate_sine = np.sin(2 * np.pi * SR / 4 * t + np.pi / 4).astype(np.float32)[None, :].repeat(2, axis=0)
    assert abs(np.abs(quarter_rate_sine).max() - 10 ** (-3.01 / 20)) < 1e-3
    assert abs(true_peak_db(quarter_rate_sine)) < 0.2  # the interpolator reads +0.12 dB at a quarter of the rate


@pytest.mark.parametrize("frames", [7, 5000, INTERPOLATOR_CHUNK * (INTERPOLATOR_FFT - 20) + 5])
def test_oversampled_envelope_is_that_of_the_polyphase_resampler(frames):
    rng = np.random.default_rng(3)
    audio = (rng.standard_normal((2, frames)) * 0.3).astype(np.float32)
    up = resample_poly(audio, OVERSAMPLE, 1, axis=-1).reshape(2, -1, OVERSAMPLE)
    assert np.abs(oversampled_envelope(audio) - np.abs(up).max(axis=(0, -1))).max() < 1e-5
    assert oversampled_envelope(audio[:, :0]).shape == (0,)


@pytest.mark.parametrize("target", [-14.0, -9.0, -7.0])
def test_master_reaches_target_under_ceiling(target):
    out, report = master(_beat_mix(), SR, target_lufs=target, ceiling_dbtp=-1.0)
    assert abs(integrated_loudness(out, SR) - target) < 0.5
    assert true_peak_db(out) <= -1.0
    assert abs(report.loudness - integrated_loudness(out, SR)) < 1e-6


def _song(seed: int = 4) -> tuple[np.ndarray, float]:
    """A quiet 8-bar intro (a pad), an 8-bar drop 8 dB louder (kicks, pad, noise) and one stray
    transient 6 dB over the kicks: (2, frames) at 120 BPM, and the bar length (s)."""
    rng = np.random.default_rng(seed)
    bar = 2.0
    n = int(16 * bar * SR)
    t = np.arange(n) / SR
    pad = 0.12 * np.sin(2 * np.pi * 220 * t) * (1 + 0.3 * np.sin(2 * np.pi * 0.5 * t))
    song = np.stack([pad, pad]) + 0.01 * rng.standard_normal((2, n))
    drop = _beat_mix(8 * bar, seed) * 1.5
    song[:, n // 2:n // 2 + drop.shape[1]] += drop
    burst = np.arange(int(0.004 * SR))
    at = int(12.3 * bar * SR)
    song[:, at:at + burst.size] += 2.0 * np.hanning(burst.size) * np.sin(2 * np.pi * 1000 * burst / SR)
    return song.astype(np.float32), bar


def _section_db(audio: np.ndarray, bar: float) -> tuple[float, float]:
    half = audio.shape[1] // 2
    return tuple(10 * np.log10(np.mean(np.square(audio[:, a:b], dtype=np.float64))) for a, b in ((0, half), (half, 2 * half)))


def test_master_keeps_the_sections_apart_with_a_gentle_limiter():
    song, bar = _song()
    out, report = master(song, SR, target_lufs=-8.0, spread_window_s=bar)
    assert abs(report.loudness + 8.0) < 0.5 and report.true_peak <= -1.0
    assert report.max_reduction_db <= 6.0
    assert report.clip_db > 3.0  # the stray transient went to the clipper, not the limiter
    intro, drop = _section_db(song, bar)
    intro_after, drop_after = _section_db(out, bar)
    assert abs((drop_after - intro_after) - (drop - intro)) <= 1.5
    assert abs(level_spread_db(out, SR, bar) - level_spread_db(song, SR, bar)) <= 1.5
    assert abs(report.spread_after_db - level_spread_db(out, SR, bar)) < 1e-6


def test_a_brickwall_master_would_have_flattened_the_song():
    """What the macro-dynamics keeper is for: the same loudness by limiting alone narrows the distance."""
    song, bar = _song()
    out, report = master(song, SR, target_lufs=-8.0, spread_window_s=bar)
    limited = song * np.float32(10 ** (report.gain_db / 20))
    limited *= (10 ** (-gain_reduction_db(peak_envelope_db(limited), 0.0, -1.1, SR) / 20)).astype(np.float32)
    intro, drop = _section_db(song, bar)
    assert (drop - intro) - np.subtract(*_section_db(limited, bar)[::-1]) > 2.0


def test_soft_clip_leaves_the_signal_under_its_knee_and_stays_under_its_ceiling():
    bed = 0.3 * np.sin(2 * np.pi * 200 * np.arange(SR) / SR)
    quiet = np.stack([bed, -bed]).astype(np.float32)
    burst = np.arange(400)
    quiet[:, 20000:20400] = 1.5 * np.hanning(burst.size) * np.sin(2 * np.pi * 500 * burst / SR)
    y = soft_clip(quiet, -1.0, knee_db=1.0)
    assert np.array_equal(y[:, :19000], quiet[:, :19000]) and np.array_equal(y[:, 21000:], quiet[:, 21000:])
    assert true_peak_db(y[:, 19000:21000]) < -0.8
    tone = (1.6 * np.sin(2 * np.pi * 100 * np.arange(SR // 10) / SR)).astype(np.float32)[None, :]
    assert true_peak_db(soft_clip(tone, -1.0)) < -0.9
    levels = np.array([-12.0, -2.0, 0.0, 4.0])
    bent = soft_clip_db(levels, -1.0)
    assert bent[0] == -12.0 and np.all(np.diff(bent) > 0) and bent.max() < -1.0


def test_the_clipper_bends_its_runs_in_batches_on_threads_as_it_would_one_at_a_time():
    from scipy.signal import resample_poly

    from template_engine.render.soft_clip import CLIP_PAD_FRAMES, OVERSAMPLE, resampler_taps

    mix = _beat_mix(seconds=6.0) * np.float32(3.0)
    mix[:, 3] = mix[:, -2] = 1.4  # runs at both ends of the song
    ceiling, knee = 10 ** (-1.0 / 20), 10 ** (-2.0 / 20)
    want = mix.copy()
    hot = np.flatnonzero(np.abs(mix).max(axis=0) > knee * 10 ** (-1 / 20))
    breaks = np.flatnonzero(np.diff(hot) > 4 * CLIP_PAD_FRAMES)
    runs = list(zip(hot[np.r_[0, breaks + 1]], hot[np.r_[breaks, hot.size - 1]]))
    assert len(runs) > 10
    for first, last in runs:
        a, b = max(first - 2 * CLIP_PAD_FRAMES, 0), min(last + 2 * CLIP_PAD_FRAMES + 1, mix.shape[1])
        up = resample_poly(mix[:, a:b], OVERSAMPLE, 1, axis=-1, window=resampler_taps())
        size = np.abs(up)
        up = np.where(size > knee, np.sign(up) * (knee + (ceiling - knee) * np.tanh(np.maximum(size - knee, 0) / (ceiling - knee))), up)
        down = resample_poly(up, 1, OVERSAMPLE, axis=-1, window=resampler_taps()).astype(np.float32)
        lo, hi = max(first - CLIP_PAD_FRAMES, 0), min(last + CLIP_PAD_FRAMES + 1, mix.shape[1])
        want[:, lo:hi] = down[:, lo - a:hi - a]
    np.testing.assert_allclose(soft_clip(mix, -1.0), want, atol=1e-6)


def test_template_master_writes_a_master_and_keeps_what_exists(tiny_bundle, tmp_path):
    root = tmp_path / "artists"
    shutil.copytree(tiny_bundle.path, root / "tiny")
    song, _ = _song()
    write_wav(tmp_path / "mix.wav", song, SR)
    args = ["--artists-dir", str(root), "master", str(tmp_path / "mix.wav"), "--artist", "tiny", "--lufs", "-10",
            "--bpm", "120", "-o", str(tmp_path / "out.wav")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    audio, rate = sf.read(tmp_path / "out.wav", always_2d=True)
    assert rate == SR and abs(integrated_loudness(audio.T, SR) + 10.0) < 0.5 and true_peak_db(audio.T) <= -0.95
    assert "LUFS (target -10.0)" in result.output and "loud-to-quiet spread" in result.output and "(bars)" in result.output
    assert "tonal balance" in result.output  # the tiny artist's projects come with their masters
    before = (tmp_path / "out.wav").read_bytes()
    again = CliRunner().invoke(main, args[:-2] + ["-o", str(tmp_path / "out.wav")] + ["--lufs", "-12"])
    assert again.exit_code == 2 and "out.wav" in again.output and "--force" in again.output
    assert (tmp_path / "out.wav").read_bytes() == before
    (tmp_path / "tiny.wav").write_bytes(b"RIFF....not audio")
    bad = CliRunner().invoke(main, args[:3] + [str(tmp_path / "tiny.wav"), "--artist", "tiny", "-o", str(tmp_path / "x.wav")])
    assert bad.exit_code == 2 and "tiny.wav" in bad.output and not (tmp_path / "x.wav").exists()


def test_limiter_recovers_no_faster_than_release():
    peaks = peak_envelope_db(_beat_mix())
    reduction = gain_reduction_db(peaks, 20.0, -1.1, SR, release_db_per_s=20.0)
    assert reduction.max() > 6
    assert np.diff(reduction).min() >= -20.0 / SR - 1e-9
    assert np.all(peaks + 20.0 - reduction <= -1.1 + 1e-6)


@pytest.mark.parametrize("release", [100.0, 1e5])
def test_limiter_works_only_near_its_peaks_with_the_reduction_of_the_whole_song(release):
    """Peaks at the song's edges, close together and far apart, released slowly or at once: the
    reduction worked stretch by stretch equals the recursion r[t] = max(need[t], r[t-1] - release)
    over the look-ahead's box of running maxima, computed over the whole song at once."""
    rate, half = 1000.0, 2
    peaks = np.full(3000, -30.0)
    peaks[[0, 1, 40, 45, 1500, 1650, 2998, 2999]] = [3.0, 1.0, 6.0, 2.0, 9.0, 2.0, 4.0, 0.5]
    need = np.maximum(peaks + 1.0, 0.0)
    boxed = scipy.ndimage.uniform_filter1d(scipy.ndimage.maximum_filter1d(need, 2 * half + 1), 2 * half + 1)
    whole = boxed.copy()
    for t in range(1, whole.size):
        whole[t] = max(boxed[t], whole[t - 1] - release / rate)
    reduction = gain_reduction_db(peaks, 0.0, -1.0, rate, lookahead_s=half / rate, release_db_per_s=release)
    np.testing.assert_allclose(reduction, np.maximum(whole, need), rtol=0, atol=1e-9)
    assert reduction[1610] == 0.0 and (reduction[1595] > 0.0) == (release < 1000)  # 10 dB at 0.1 dB a frame


@pytest.mark.parametrize(("size", "frames"), [(4, 23), (5, 23), (7, 3), (6, 1), (3, 0), (8, 48)])
def test_window_values_reach_every_frame_as_a_linear_interpolation_between_window_centres(size, frames):
    values = np.random.default_rng(size).normal(size=max(1, -(-frames // size)))
    centres = (np.arange(values.size) + 0.5) * size
    np.testing.assert_array_equal(per_frame(values, size, frames),
                                  np.interp(np.arange(frames), centres, values).astype(np.float32))


def test_master_moves_the_tonal_balance_toward_the_artists_masters():
    from pedalboard import HighShelfFilter, Pedalboard

    from project_ingest.spectrum import band_levels_db
    from template_engine.render.tone_match import MAX_TONE_DB, spectrum_db, tone_correction_db, tone_distance_db

    bright = (np.random.default_rng(3).standard_normal((2, 20 * SR)) * 0.05).astype(np.float32)
    dull = Pedalboard([HighShelfFilter(cutoff_frequency_hz=3000, gain_db=-5.0)])(bright, SR)
    target = band_levels_db(bright.mean(axis=0), SR)
    correction = tone_correction_db(spectrum_db(dull, SR), target)
    assert np.abs(correction).max() <= MAX_TONE_DB + 1e-9 and correction[-1] > 2.5 and abs(correction[0]) < 1.0
    out, report = master(dull, SR, target_lufs=-10.0, tone_db=target)
    assert report.tone_before_db == pytest.approx(tone_distance_db(spectrum_db(dull, SR), target))
    assert report.tone_after_db < report.tone_before_db / 2
    assert abs(report.loudness + 10.0) < 0.5 and report.true_peak <= -1.0
    assert np.abs(tone_correction_db(spectrum_db(bright, SR), target)).max() < 0.5  # a mix that already sounds like it is left alone
    _, plain = master(dull, SR, target_lufs=-10.0)
    assert plain.tone_before_db is None and "tone_distance_before_db" not in plain.to_dict()


def test_window_sums_and_the_spread_are_taken_in_float64_over_float32_squares():
    rng = np.random.default_rng(8)
    values = rng.random(10 * 4410 + 17).astype(np.float32)
    want = [values[i:i + 4410].astype(np.float64).sum() for i in range(0, values.size, 4410)]
    assert np.allclose(window_sums(values, 4410), want, rtol=1e-12) and window_sums(values, 4410).size == 11
    quiet_then_loud = np.concatenate([0.01 * rng.standard_normal((2, 4 * SR)), 0.1 * rng.standard_normal((2, 4 * SR))], axis=1)
    assert level_spread_db(quiet_then_loud.astype(np.float32), SR, 1.0) == pytest.approx(20.0, abs=0.1)
