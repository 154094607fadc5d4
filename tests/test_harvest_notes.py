"""Pitched one-shots harvested from a frozen stem: notes that sound alone are sliced in tune, detuned
or overlapping notes are rejected with a reason, chords become chord one-shots, a long note's loop
holds without a click, and a role with no samples still sounds."""

import numpy as np
import pytest

from project_ingest.harvest_notes import PlayedNote, choose_zones, slice_notes
from sample_library.pitch import estimate_f0, hz_to_midi, midi_to_hz
from sample_library.sampler import Instrument, Note, zone_from_audio

SR = 44100


def tone(pitch: float, held: float, *, release: float = 0.3, sr: int = SR) -> np.ndarray:
    """A synth note (mono): four harmonics, 5 ms attack, sustain at 0.7, exponential release."""
    t = np.arange(int((held + release * 4) * sr)) / sr
    f = midi_to_hz(pitch)
    wave = sum(np.sin(2 * np.pi * k * f * t + k) / k for k in range(1, 5))
    env = np.minimum(t / 0.005, 1.0) * (0.7 + 0.3 * np.exp(-t / 0.1))
    env[t > held] *= np.exp(-(t[t > held] - held) / release)
    return (0.3 * wave * env).astype(np.float32)


def stem_of(notes: list[tuple[float, float, float]], seconds: float, *, sounding=None) -> np.ndarray:
    """A stereo stem (2, frames) playing (start s, held s, pitch) notes; ``sounding`` overrides the
    pitch actually played per note (a detuned note)."""
    out = np.zeros(int(seconds * SR), dtype=np.float32)
    for i, (start, held, pitch) in enumerate(notes):
        audio = tone(sounding[i] if sounding else pitch, held)
        a = int(start * SR)
        out[a:a + audio.size] += audio[:max(0, out.size - a)]
    return np.stack([out, out])


def played(notes):
    return [PlayedNote(start, start + held, int(pitch), 100) for start, held, pitch in notes]


def measured_cents(audio: np.ndarray, pitch: int) -> float:
    f0, _ = estimate_f0(audio.mean(axis=0)[int(0.03 * SR):].astype(np.float64), SR,
                        fmin=midi_to_hz(pitch - 13), fmax=midi_to_hz(pitch + 13))
    return 100 * (hz_to_midi(f0) - pitch)


@pytest.mark.parametrize("pitch", [36, 48, 60, 72, 84])
def test_a_note_alone_is_sliced_and_sounds_its_midi_note_within_10_cents(pitch):
    notes = [(0.5, 0.6, pitch), (3.0, 0.8, pitch + 3)]
    harvest = slice_notes(stem_of(notes, 6.0), SR, played(notes))
    assert len(harvest.kept) == 2 and not harvest.rejected
    for got, (_, held, p) in zip(harvest.kept, notes):
        assert got.pitches == (p,) and abs(got.root_midi - p) * 100 < 10
        assert abs(measured_cents(got.audio, p)) < 10
        assert got.sustain_end == pytest.approx(held, abs=0.01)
        assert got.audio.shape[1] / SR > held + 0.5


def test_detuned_and_transposed_notes_are_rejected_with_their_reason():
    notes = [(0.5, 0.6, 60), (3.0, 0.6, 64), (5.5, 0.6, 67)]
    harvest = slice_notes(stem_of(notes, 8.0, sounding=[60.3, 65.0, 67.0]), SR, played(notes))
    assert [k.pitches for k in harvest.kept] == [(67,)]
    assert harvest.rejected == {"detuned from the MIDI note": 1, "pitch disagrees with the MIDI": 1}


def test_a_preset_an_octave_below_its_midi_is_kept_and_plays_as_the_artist_did():
    notes = [(0.5, 0.6, 60)]
    (got,) = slice_notes(stem_of(notes, 3.0, sounding=[48.0]), SR, played(notes)).kept
    assert got.octave_shift == -12 and abs(got.root_midi - 60) * 100 < 10
    zone = zone_from_audio("low", got.audio, SR, SR, root_midi=got.root_midi)
    out = Instrument(role="lead", zones=[zone], sample_rate=SR).render([Note(0.0, 0.5, 62, 100)], SR)
    assert abs(measured_cents(out, 50)) < 10  # MIDI 62 sounds 50, an octave down, like the stem did


def test_overlapping_notes_give_a_clear_report_and_chords_become_chord_one_shots():
    staggered = [(0.5, 1.0, 60), (1.0, 1.0, 64), (1.5, 1.0, 67), (2.0, 1.0, 71)]
    harvest = slice_notes(stem_of(staggered, 5.0), SR, played(staggered))
    assert not harvest.kept and harvest.rejected == {"overlaps another note": 4}
    chord = [(0.5, 1.0, 60), (0.5, 1.0, 64), (0.5, 1.0, 67)]
    harvest = slice_notes(stem_of(chord, 4.0), SR, played(chord))
    (one,) = harvest.kept
    assert one.chord and one.pitches == (60, 64, 67) and one.root_midi == 60


def test_a_note_under_a_long_held_note_started_far_earlier_is_rejected_as_overlapping():
    held = [(0.5, 9.0, 48), (1.0, 0.3, 55), (3.0, 0.3, 60), (6.0, 0.3, 67), (12.0, 0.5, 72)]
    harvest = slice_notes(stem_of(held, 15.0), SR, played(held))
    assert harvest.rejected == {"overlaps another note": 4}
    assert [k.pitches for k in harvest.kept] == [(72,)]


def test_a_note_with_the_previous_ones_tail_under_it_is_rejected_as_bleed():
    notes = [(0.5, 0.5, 60), (1.05, 0.5, 62)]  # the first note's 0.3 s release is still loud at 1.05 s
    harvest = slice_notes(stem_of(notes, 3.0), SR, played(notes))
    assert harvest.rejected["bleed from the previous note"] == 1


def test_zones_spread_across_the_range_single_notes_first():
    notes = [(0.5 + 2 * i, 0.5, p) for i, p in enumerate([40, 41, 52, 53, 64, 65, 76])]
    harvest = slice_notes(stem_of(notes, 16.0), SR, played(notes))
    chosen = choose_zones(harvest.kept, keep=4)
    zones = sorted({int(c.root_midi // 5) for c in chosen})
    assert len(chosen) == 4 and len(zones) == 4


def test_a_6_second_pad_note_loops_to_hold_16_seconds_without_a_click():
    rng = np.random.default_rng(0)
    t = np.arange(int(9.0 * SR)) / SR  # held 6 s, then a long release (time constant 1.2 s)
    pad = sum(np.sin(2 * np.pi * midi_to_hz(57) * k * (1 + 0.002 * rng.standard_normal()) * t) / k for k in range(1, 6))
    pad = (0.2 * pad * np.minimum(t / 0.3, 1.0) * np.where(t > 6.0, np.exp(-(t - 6.0) / 1.2), 1.0)).astype(np.float32)
    stem = np.zeros((2, int(10 * SR)), dtype=np.float32)
    stem[:, int(0.5 * SR):int(0.5 * SR) + pad.size] = pad
    (note,) = slice_notes(stem, SR, [PlayedNote(0.5, 6.5, 57, 100)]).kept
    zone = zone_from_audio("pad", note.audio, SR, SR, root_midi=note.root_midi, sustain_end=note.sustain_end)
    inst = Instrument(role="pad", zones=[zone], sample_rate=SR, sustained=True, release=0.3)
    out = inst.render([Note(0.0, 16.0, 57, 100)], int(17 * SR))
    held = out[:, int(0.5 * SR):int(15.9 * SR)]
    own_jump = np.abs(np.diff(stem, axis=1)).max()
    assert np.abs(np.diff(held, axis=1)).max() <= own_jump
    window = SR // 4
    levels = [np.sqrt(np.mean(held[:, i:i + window] ** 2)) for i in range(0, held.shape[1] - window, window)]
    assert max(levels) / min(levels) < 10 ** (1.5 / 20)  # it holds, every quarter second: no release in the loop


def test_chord_one_shots_play_once_per_chord():
    chord_zone = zone_from_audio("c", np.ones((2, 2000), dtype=np.float32), SR, SR, root_midi=60.0, chord=True)
    inst = Instrument(role="chords", zones=[chord_zone], sample_rate=SR)
    notes = [Note(0.0, 0.5, 60, 127), Note(0.0, 0.5, 64, 127), Note(0.0, 0.5, 67, 127), Note(1.0, 1.5, 62, 127)]
    assert [start for _, start, _ in inst.perform(notes, SR * 2).notes] == [0, SR]
