"""The mixing chain runs only where a track sounds, and that changes nothing a producer can hear;
sweeps open the low-pass through their section and rides follow their level curve (read as
``np.interp`` reads a polyline)."""

import numpy as np
import pytest
import soundfile as sf

from project_ingest.mix_analysis import ducking_gain
from sample_library.loudness import integrated_loudness
from sample_library.spans import sounding_spans
from template_engine.render import mixing

SR = 44100


def _sparse_track(seed: int = 0) -> np.ndarray:
    """Ten seconds of silence with three loud decaying noise bursts, stereo: (2, frames)."""
    rng = np.random.default_rng(seed)
    audio = np.zeros((2, 10 * SR), dtype=np.float32)
    for at in (0.5, 1.1, 6.0):
        n = int(0.4 * SR)
        burst = rng.standard_normal((2, n)) * np.exp(-np.arange(n) / (0.05 * SR))
        audio[:, int(at * SR):int(at * SR) + n] += burst.astype(np.float32)
    return audio


def test_spans_hold_every_sound_and_its_tail():
    audio = _sparse_track()
    spans = sounding_spans(audio, SR, tail_s=0.25)
    inside = np.zeros(audio.shape[1], dtype=bool)
    for a, b in spans:
        inside[a:b] = True
    assert not np.any(audio[:, ~inside])
    last = np.flatnonzero(np.any(audio != 0, axis=0))[-1]
    assert any(a <= last and b >= last + int(0.25 * SR) for a, b in spans)
    assert len(spans) == 2 and sum(b - a for a, b in spans) < 0.4 * audio.shape[1]


def test_chain_on_spans_equals_chain_on_whole_track():
    audio = _sparse_track()
    spans = sounding_spans(audio, SR)
    whole = [(0, audio.shape[1])]
    on_spans, on_whole = audio.copy(), audio.copy()
    for track, where in ((on_spans, spans), (on_whole, whole)):
        mixing.compress_to_crest(track, SR, 6.0, where)
        mixing.set_width(track, 0.3, where)
    assert not np.allclose(on_whole, audio)
    assert np.max(np.abs(on_spans - on_whole)) < 1e-3 * np.max(np.abs(on_whole))
    assert abs(integrated_loudness(on_spans, SR, spans=spans) - integrated_loudness(on_whole, SR)) < 0.01


def test_crest_factor_of_spans_is_that_of_the_spans_joined():
    from project_ingest.mix_analysis import crest_factor_db

    audio = _sparse_track(seed=3)
    audio[:, -SR // 3:] = 0.05  # a span that runs to the end, off the frame grid
    spans = sounding_spans(audio, SR)
    joined = np.concatenate([audio[:, a:b] for a, b in spans], axis=1)
    assert len(spans) == 3 and spans[-1][1] == audio.shape[1]
    assert crest_factor_db(audio, SR, spans) == crest_factor_db(joined, SR)
    assert crest_factor_db(audio, SR, spans[:1]) != crest_factor_db(joined, SR)


@pytest.mark.parametrize("change", [0.5, 1.5])
def test_width_reaches_the_learned_side_to_mid_ratio_and_keeps_the_mid(change):
    from project_ingest.mix_analysis import stereo_width

    track = _sparse_track(seed=2)
    track[1] = 0.7 * track[0] + 0.3 * track[1]
    spans = sounding_spans(track, SR)
    mid, target = track[0] + track[1], change * stereo_width(track)
    mixing.set_width(track, target, spans)
    assert abs(stereo_width(track) - target) < 1e-3
    np.testing.assert_allclose(track[0] + track[1], mid, atol=1e-5)


def test_ducking_gain_from_an_offset_is_that_slice_of_the_whole():
    curve = -12.0 * np.exp(-np.arange(64) / 10)
    kicks = np.arange(8) * 0.5
    full = ducking_gain(kicks, 4 * SR, SR, curve_db=curve, points_per_beat=64, seconds_per_beat=0.5)
    start = 57_330
    part = ducking_gain(kicks, SR, SR, curve_db=curve, points_per_beat=64, seconds_per_beat=0.5, start=start)
    assert np.array_equal(part, full[start:start + SR])
    assert abs(20 * np.log10(full.min()) + 12.0) < 0.01


def _band_db(audio: np.ndarray) -> float:
    """Energy (dB) of the left channel between 2 and 5 kHz."""
    spectrum = np.abs(np.fft.rfft(audio[0])) ** 2
    freqs = np.fft.rfftfreq(audio.shape[1], 1 / SR)
    return float(10 * np.log10(spectrum[(freqs > 2000) & (freqs < 5000)].sum()))


def test_sweep_opens_the_lowpass_through_its_section():
    rng = np.random.default_rng(4)
    audio = (rng.standard_normal((2, 4 * SR)) * 0.1).astype(np.float32)
    dry = audio.copy()
    plan = mixing.Automation(rides=[], sweeps=[(0, audio.shape[1], np.array([0.0, 1.0]), np.array([-2.0, 0.0]))])
    plan.sweep(audio, SR, [(0, audio.shape[1])])
    first, last = slice(0, SR // 2), slice(-SR // 2, None)
    assert _band_db(audio[:, first]) < _band_db(dry[:, first]) - 12
    assert abs(_band_db(audio[:, last]) - _band_db(dry[:, last])) < 1.0


def test_ride_follows_the_level_curve_over_its_section():
    start, stop = 1000, 1000 + 2 * SR
    plan = mixing.Automation(rides=[(start, stop, np.array([0.0, 0.5, 1.0]), np.array([-6.0, 0.0, 3.0]))], sweeps=[])
    gain_db = 20 * np.log10(plan.ride_gain(0, 3 * SR))
    assert gain_db[start - 1] == 0.0 and gain_db[stop] == 0.0
    assert abs(gain_db[start] + 6.0) < 0.01 and abs(gain_db[stop - 1] - 3.0) < 0.01
    assert abs(gain_db[start + (stop - start) // 4] + 3.0) < 0.01


def test_piecewise_linear_reads_as_np_interp_at_every_frame():
    from template_engine.render.dsp import piecewise_linear

    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(2, 10))
        xp, fp = np.sort(rng.uniform(-100.0, 5000.0, n)), rng.uniform(-20.0, 20.0, n)
        xp[1] = xp[0] if n > 3 else xp[1]  # a step: two points at one frame
        start = int(rng.integers(-200, 4000))
        stop = start + int(rng.integers(0, 3000))
        got = piecewise_linear(xp, fp, start, stop)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, np.interp(np.arange(start, stop), xp, fp), atol=1e-4)


def test_a_stem_written_a_block_at_a_time_is_the_file_of_its_whole_array(tmp_path):
    from sample_library.audio_io import WRITE_BLOCK, write_wav
    from template_engine.render.span_audio import SpanAudio, SummedAudio

    rng = np.random.default_rng(9)
    frames = 3 * WRITE_BLOCK + 99
    tracks = []
    for spans in ([(10, 500), (WRITE_BLOCK - 7, WRITE_BLOCK + 300)], [(2 * WRITE_BLOCK + 5, frames)]):
        audio = np.zeros((2, frames), dtype=np.float32)
        for a, b in spans:
            audio[:, a:b] = rng.standard_normal((2, b - a)) * 0.3
        kept = SpanAudio.keep(audio, spans)
        kept.scale(0.7)
        tracks.append(kept)
    for name, stem in (("track", tracks[0]), ("group", SummedAudio(tracks))):
        write_wav(tmp_path / f"{name}-blocks.wav", stem, SR)
        write_wav(tmp_path / f"{name}-whole.wav", stem.dense(), SR)
        assert (tmp_path / f"{name}-blocks.wav").read_bytes() == (tmp_path / f"{name}-whole.wav").read_bytes()
    write_wav(tmp_path / "group.flac", SummedAudio(tracks), SR)
    back, _ = sf.read(str(tmp_path / "group.flac"), dtype="float32", always_2d=True)
    assert np.abs(back.T - SummedAudio(tracks).dense()).max() < 2 ** -22


def test_a_track_kept_as_its_spans_is_the_track():
    from template_engine.render.span_audio import SpanAudio, SummedAudio

    rng = np.random.default_rng(7)
    audio = np.zeros((2, 44100 * 3), dtype=np.float32)
    audio[:, 1000:20000] = rng.standard_normal((2, 19000))
    audio[:, 90000:100000] = rng.standard_normal((2, 10000))
    kept = SpanAudio.keep(audio, sounding_spans(audio, 44100))
    assert np.array_equal(kept.dense(), audio) and sum(p.size for p in kept.pieces) < audio.size / 2
    assert kept.peak() == float(np.abs(audio).max())
    assert np.array_equal(SummedAudio([kept, kept]).dense(), audio + audio)
    kept.scale(0.5)
    kept.scale(0.5)
    assert np.array_equal(kept.dense(), audio * np.float32(0.25)) and kept.peak() == 0.25 * float(np.abs(audio).max())
    total = np.ones_like(audio)
    kept.add_into(total, 2.0)
    np.testing.assert_allclose(total, 1 + 0.5 * audio, rtol=1e-6)
    kept.free()
    with pytest.raises(RuntimeError, match="freed"):
        kept.dense()


@pytest.mark.parametrize("frames", [4410, mixing.LONG_CLIP_FRAMES + 7])
def test_an_eq_clip_filter_is_the_linear_phase_convolution_of_a_note_or_a_whole_song(frames):
    from scipy.signal import convolve

    correction = np.zeros(mixing.BAND_CENTRES.size)
    correction[20:] = 6.0  # a treble shelf
    fir = mixing.eq_fir(correction, SR)
    clip = np.random.default_rng(frames).standard_normal((2, frames)).astype(np.float32)
    filtered, shift = mixing.fir_clip_filter(fir)(clip)
    assert filtered.dtype == np.float32 and filtered.shape == (2, frames + fir.size - 1) and shift == -(fir.size // 2)
    for channel in range(2):
        np.testing.assert_allclose(filtered[channel], convolve(clip[channel].astype(np.float64), fir), rtol=0, atol=2e-4)


def test_a_tracks_spectrum_from_its_distinct_clips_is_that_of_the_placed_track():
    from project_ingest.spectrum import band_levels_db
    from sample_library.sampler import Performance

    rng = np.random.default_rng(7)
    t = np.arange(int(0.3 * SR)) / SR
    kick = np.sin(2 * np.pi * 55 * t) * np.exp(-t / 0.08)
    kick[:64] += rng.standard_normal(64) * 0.8  # the click: all its treble is in its first 1.5 ms
    hat = rng.standard_normal(int(0.05 * SR)) * np.exp(-np.arange(int(0.05 * SR)) / (0.01 * SR))
    clips = [np.stack([c, c]).astype(np.float32) for c in (kick, 0.3 * hat)]
    beat = int(0.5 * SR)
    notes = [(i % 2, i * beat // 2 + int(rng.integers(0, 400)), float(rng.uniform(0.5, 1.0))) for i in range(400)]
    perf = Performance(clips=clips, notes=notes)
    placed = perf.place(100 * SR + SR).mean(axis=0)
    from_clips = mixing.performance_band_levels_db(perf, SR)
    np.testing.assert_allclose(from_clips, band_levels_db(placed, SR), atol=0.5)  # the clicks' treble too


def test_a_mono_part_mixed_as_one_channel_is_the_stereo_track():
    from sample_library.sampler import Performance
    from template_engine.render.span_audio import SpanAudio

    rng = np.random.default_rng(11)
    tone = (np.sin(2 * np.pi * 110 * np.arange(SR // 2) / SR) * np.exp(-np.arange(SR // 2) / SR * 4)).astype(np.float32)
    notes = [(0, int(i * SR * 0.75) + int(rng.integers(0, 300)), float(rng.uniform(0.4, 1.0))) for i in range(12)]
    mono = Performance(clips=[np.stack([tone, tone])], notes=notes)
    one, two = mono.place(10 * SR, mono_as_one=True), mono.place(10 * SR)
    assert one.shape == (1, 10 * SR) and np.array_equal(np.broadcast_to(one, two.shape), two)
    spans = sounding_spans(two, SR)
    assert sounding_spans(one, SR) == spans
    assert mixing.level_gain_db(one, SR, -6.0, spans) == mixing.level_gain_db(two, SR, -6.0, spans)
    kept = SpanAudio.keep(one, spans, channels=2)
    assert kept.shape == (2, 10 * SR) and np.array_equal(kept.dense(), two)
    assert np.array_equal(kept.block(SR, 2 * SR), two[:, SR:2 * SR])
    sends, stereo_sends = np.zeros_like(two), np.zeros_like(two)
    kept.add_into(sends, 0.3)
    SpanAudio.keep(two, spans).add_into(stereo_sends, 0.3)
    assert np.array_equal(sends, stereo_sends) and sends.any()
    wide = Performance(clips=[np.stack([tone, 0.5 * tone])], notes=notes)
    assert wide.place(10 * SR, mono_as_one=True).shape == (2, 10 * SR)
