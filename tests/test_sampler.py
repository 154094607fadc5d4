"""The sampler plays one-shots at the right pitch, without clicks, gaps or stuck notes."""

import numpy as np
import pytest

from sample_library.pitch import estimate_f0, hz_to_midi, midi_to_hz
from sample_library.sampler import Instrument, Note, Zone, find_loop, repitch, sustain

SR = 44100


def sine_zone(freq: float = 261.6256, seconds: float = 0.5, decay: float = 0.0) -> Zone:
    t = np.arange(int(seconds * SR)) / SR
    mono = 0.5 * np.sin(2 * np.pi * freq * t) * np.exp(-decay * t)
    return Zone(key="sine", audio=np.stack([mono, mono]).astype(np.float32), root_midi=hz_to_midi(freq))


def cents_between(f_measured: float, f_target: float) -> float:
    return 1200 * np.log2(f_measured / f_target)


@pytest.mark.parametrize("semitones", [-24, -17, -12, -5, -1, 0, 1, 7, 12, 19, 24])
def test_repitched_sine_within_5_cents(semitones: int) -> None:
    zone = sine_zone(seconds=1.0)
    inst = Instrument(role="lead", zones=[zone], sample_rate=SR, sustained=True)
    target = 60 + semitones
    audio = inst.render([Note(0.0, 0.8, target, 127)], int(SR * 1.0))
    f0, conf = estimate_f0(audio[0, 2000:int(0.7 * SR)], SR, fmin=40, fmax=3000)
    assert f0 is not None and conf > 0.8
    assert abs(cents_between(f0, midi_to_hz(target))) < 5


def test_release_has_no_click() -> None:
    inst = Instrument(role="lead", zones=[sine_zone()], sample_rate=SR, sustained=True, release=0.02)
    audio = inst.render([Note(0.0, 0.2, 60, 127)], SR)
    step = np.abs(np.diff(audio[0]))
    end = int(0.2 * SR)
    # after the release the buffer is silent, and no sample-to-sample jump exceeds the sine's own slope
    assert np.max(np.abs(audio[0, end + int(0.021 * SR):])) < 10 ** (-60 / 20)
    sine_slope = 0.5 * 2 * np.pi * 261.6256 / SR
    assert step.max() <= sine_slope * 1.01


@pytest.mark.parametrize("sample_rate", [44100, 48000])
def test_sustain_of_4s_from_half_second_pad_has_no_gap_or_click(sample_rate: int) -> None:
    t = np.arange(int(0.5 * sample_rate)) / sample_rate
    mono = 0.4 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 330.7 * t)
    zone = Zone(key="pad", audio=np.stack([mono, mono]).astype(np.float32), root_midi=hz_to_midi(220))
    inst = Instrument(role="pad", zones=[zone], sample_rate=sample_rate, sustained=True, release=0.1)
    audio = inst.render([Note(0.0, 4.0, 57, 127)], int(4.5 * sample_rate))
    mono_out = audio[0]
    # the note lasts 4 s: every 10 ms window until 4 s carries sound
    win = int(0.01 * sample_rate)
    rms = np.sqrt(np.mean(mono_out[:int(4.0 * sample_rate) // win * win].reshape(-1, win) ** 2, axis=1))
    assert rms.min() > 0.1
    # no click: the largest step stays within the source's own largest step (plus a small margin)
    assert np.max(np.abs(np.diff(mono_out))) < np.max(np.abs(np.diff(mono))) * 1.3
    assert np.max(np.abs(mono_out[int(4.11 * sample_rate):])) < 1e-3


def test_loop_is_inside_the_sample() -> None:
    zone = sine_zone(seconds=0.5)
    start, end, xf = find_loop(zone.audio, SR)
    assert xf <= start < end <= zone.audio.shape[1]
    long = sustain(zone.audio, (start, end, xf), 3 * SR)
    assert long.shape[1] == 3 * SR


def test_choke_cuts_open_hat_within_5ms() -> None:
    noise = np.random.default_rng(1).standard_normal(SR).astype(np.float32) * 0.3
    open_hat = Zone(key="oh", audio=np.stack([noise, noise]), trigger_note=46)
    closed_hat = Zone(key="ch", audio=np.zeros((2, 100), np.float32), trigger_note=42)
    inst = Instrument(role="hats", zones=[open_hat, closed_hat], sample_rate=SR,
                      choke_notes=frozenset({42, 46}))
    audio = inst.render([Note(0.0, 0.1, 46, 127), Note(0.25, 0.3, 42, 127)], SR)
    after = audio[0, int(0.255 * SR):]
    assert np.max(np.abs(after)) == 0.0
    assert np.max(np.abs(audio[0, :int(0.24 * SR)])) > 0.1


def test_same_seed_same_round_robin() -> None:
    zones = [Zone(key=str(i), audio=np.full((2, 50), 0.1 * (i + 1), np.float32)) for i in range(3)]
    notes = [Note(i * 0.01, i * 0.01 + 0.001, 36, 127) for i in range(30)]

    def order(seed: int) -> list[float]:
        audio = Instrument(role="kick", zones=zones, sample_rate=SR, seed=seed).render(notes, SR)
        return [round(float(audio[0, int(n.start * SR)]), 3) for n in notes]

    assert order(5) == order(5)
    first = order(5)
    assert all(a != b for a, b in zip(first, first[1:])), "round robin repeats the same sample back to back"
    assert len(set(first)) == 3


def test_velocity_curve_is_monotonic() -> None:
    inst = Instrument(role="kick", zones=[sine_zone()], sample_rate=SR)
    gains = [inst.velocity_gain(v) for v in range(1, 128)]
    assert all(a < b for a, b in zip(gains, gains[1:])) and gains[-1] == 1.0


def test_mono_bass_cuts_previous_note() -> None:
    inst = Instrument(role="bass", zones=[sine_zone(seconds=2.0)], sample_rate=SR, sustained=True, mono=True)
    audio = inst.render([Note(0.0, 1.0, 48, 127), Note(0.5, 1.0, 55, 127)], int(1.2 * SR))
    f0, _ = estimate_f0(audio[0, int(0.6 * SR):int(0.95 * SR)], SR)
    assert abs(cents_between(f0, midi_to_hz(55))) < 5


def test_repitch_changes_length_by_the_ratio() -> None:
    x = np.zeros((2, 44100), np.float32)
    assert abs(repitch(x, 12).shape[1] - 22050) <= 1
    assert abs(repitch(x, -12).shape[1] - 88200) <= 1


@pytest.mark.parametrize("sustained", [True, False])
def test_clip_filter_equals_the_filter_over_the_whole_track(sustained: bool) -> None:
    """A linear filter run once per distinct note clip lands exactly where it would over the track."""
    from scipy.signal import oaconvolve

    inst = Instrument(role="lead", zones=[sine_zone(decay=6.0)], sample_rate=SR, sustained=sustained, mono=True)
    notes = [Note(0.05 + 0.25 * i, 0.05 + 0.25 * i + 0.2, 60 + (i % 3) * 4, 40 + 20 * (i % 4)) for i in range(12)]
    length = int(3.5 * SR)
    fir = np.hanning(255).astype(np.float32)
    fir /= fir.sum()
    whole = oaconvolve(inst.render(notes, length), fir[None, :], mode="full", axes=-1)[:, 127:127 + length]
    per_clip = inst.render(notes, length, clip_filter=lambda clip: (
        oaconvolve(clip, fir[None, :], mode="full", axes=-1).astype(np.float32), -127))
    assert np.max(np.abs(per_clip - whole)) < 1e-5 * np.max(np.abs(whole))


@pytest.mark.parametrize("before_seconds, seconds", [(3.0, 0.4), (2.0, 4.0)])
def test_a_note_sounds_the_same_whatever_the_instrument_played_before(before_seconds: float, seconds: float) -> None:
    """A held note's clip depends on the note alone: not on a longer or shorter note of the same
    pitch played before on the same instrument (a song printed after another one by the same
    process, a phrase rendered after another)."""
    def pad() -> Instrument:
        return Instrument(role="pad", zones=[sine_zone(220.0, seconds=0.5, decay=1.0)], sample_rate=SR,
                          sustained=True, release=0.1)

    played = pad()
    played.render([Note(0.0, before_seconds, 57, 100)], int((before_seconds + 0.5) * SR))
    after = played.render([Note(0.0, seconds, 57, 100)], int((seconds + 0.5) * SR))
    alone = pad().render([Note(0.0, seconds, 57, 100)], int((seconds + 0.5) * SR))
    np.testing.assert_array_equal(after, alone)
