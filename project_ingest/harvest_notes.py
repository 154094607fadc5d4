"""Pitched one-shots harvested from frozen stems: the artist's own notes, sliced where they sound alone.

A note (or a chord: notes starting within ``CHORD_WINDOW_S`` of each other) is kept when nothing else
on its stem sounds from its onset to the end of its release tail, the stem is quiet just before it
(no bleed from the previous note), it is long enough, and, for a single note, the pitch the stem
actually sounds agrees with the MIDI note. Presets often sound whole octaves away from their MIDI
(a bass patch tuned two octaves down): the octaves are the artist's sound and are kept
(``NoteSlice.octave_shift``), so a generated note plays as the artist's did. Beyond the octaves, more
than a quarter tone away the stem plays another note, more than ``IN_TUNE_CENTS`` away it is
detuned; both are rejected. The root stored is the MIDI note plus the measured fine tuning, so a
repitched note lands in tune. Per role, the cleanest slice of each zone (a span of
``ZONE_SEMITONES`` semitones) and velocity layer is kept, single notes before chords.

Times are in seconds, audio channels-first (channels, frames).
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from sample_library.pitch import estimate_f0, hz_to_midi, midi_to_hz

CHORD_WINDOW_S = 0.02
ATTACK_SEARCH_S = (0.005, 0.03)  # before and after the MIDI onset, where the attack is looked for
PRE_ROLL_S = 0.001
BLEED_WINDOW_S = 0.01
MIN_CLEAN_DB = 20.0  # the stem just before the onset is at least this far under the note's peak
TAIL_FLOOR_DB = -50.0  # the release tail ends where the stem falls this far under the peak
MAX_RELEASE_S = 3.0
MAX_SLICE_S = 12.0
MIN_SLICE_S = 0.12
QUARTER_TONE = 0.5  # semitones
IN_TUNE_CENTS = 10.0
MAX_OCTAVE_SHIFT = 3
ATTACK_SKIP_S = 0.03  # the pitch is measured on the held part, after the attack
END_FADE_S = 0.005
ZONE_SEMITONES = 5
VELOCITY_LAYERS = (64, 96)  # bounds of the soft, medium and hard layers
KEEP_PER_ROLE = 12
OVERLAP_MARGIN_S = 0.01  # room for rounding when notes held across an onset are looked up by their start


@dataclass(frozen=True)
class PlayedNote:
    """A MIDI note on a stem: start and end (note-off) in seconds, pitch, velocity."""

    start: float
    end: float
    pitch: int
    velocity: int


@dataclass
class NoteSlice:
    """A harvested note: audio (channels, frames) from the attack to the end of the release; the
    pitches it was played with; its root (measured, fractional MIDI; the lowest note for a chord);
    where the held part ends (seconds into the slice); how clean it is (dB above the stem just
    before it); and the whole octaves (semitones) the preset sounds away from its MIDI."""

    audio: np.ndarray
    pitches: tuple[int, ...]
    velocity: int
    root_midi: float
    sustain_end: float
    cleanliness_db: float
    octave_shift: int = 0

    @property
    def chord(self) -> bool:
        return len(self.pitches) > 1


@dataclass
class NoteHarvest:
    """What one role's stems gave: the slices kept, and the notes rejected per reason."""

    kept: list[NoteSlice] = field(default_factory=list)
    rejected: Counter = field(default_factory=Counter)


def onset_groups(notes: list[PlayedNote]) -> list[list[PlayedNote]]:
    """Notes grouped by onset: those starting within ``CHORD_WINDOW_S`` of a group's first note."""
    groups: list[list[PlayedNote]] = []
    for n in sorted(notes, key=lambda n: (n.start, n.pitch)):
        if groups and n.start - groups[-1][0].start < CHORD_WINDOW_S:
            groups[-1].append(n)
        else:
            groups.append([n])
    return groups


def slice_notes(audio: np.ndarray, sample_rate: int, notes: list[PlayedNote], *,
                stem_notes: list[PlayedNote] | None = None) -> NoteHarvest:
    """Every clean note or chord of ``notes`` sliced out of ``audio``; ``stem_notes`` are all the
    notes played on the stem (default ``notes``), which must not sound during a slice."""
    harvest = NoteHarvest()
    every = SortedNotes.of(stem_notes if stem_notes is not None else notes)
    envelope = np.abs(audio).max(axis=0)
    for group in onset_groups(notes):
        got = _slice_group(audio, envelope, sample_rate, group, every)
        if isinstance(got, str):
            harvest.rejected[got] += len(group)
        else:
            harvest.kept.append(got)
    return harvest


@dataclass
class SortedNotes:
    """The notes played on a stem sorted by start, their starts (s) and the longest note's length (s):
    the notes that may sound around an onset are found by bisection, not by a scan of the stem."""

    notes: list[PlayedNote]
    starts: list[float]
    longest: float

    @classmethod
    def of(cls, notes: list[PlayedNote]) -> SortedNotes:
        ordered = sorted(notes, key=lambda n: n.start)
        return cls(ordered, [n.start for n in ordered], max((n.end - n.start for n in ordered), default=0.0))

    def around(self, start: float, end: float) -> list[PlayedNote]:
        """The notes that start before ``end`` and may still sound at ``start`` (s), in order: every
        note held across ``start`` or starting within [start, end), and perhaps a few more."""
        lo = bisect.bisect_left(self.starts, start - self.longest - OVERLAP_MARGIN_S)
        return self.notes[lo:bisect.bisect_left(self.starts, max(start, end))]

    def first_start_from(self, at: float, skip: set[PlayedNote]) -> float | None:
        """The start (s) of the first note not in ``skip`` that starts at ``at`` or later."""
        return next((n.start for n in self.notes[bisect.bisect_left(self.starts, at):] if n not in skip), None)


def _slice_group(audio: np.ndarray, envelope: np.ndarray, sr: int, group: list[PlayedNote],
                 every: SortedNotes) -> NoteSlice | str:
    """One onset group as a slice, or the reason it cannot be one."""
    t0, off = group[0].start, max(n.end for n in group)
    members = set(group)
    if any(n.start < t0 - 1e-3 < n.end - 1e-3 or t0 - 1e-3 <= n.start < off
           for n in every.around(t0 - 1e-3, off) if n not in members):
        return "overlaps another note"
    later = every.first_start_from(off, members)
    limit = min(later if later is not None else envelope.size / sr, off + MAX_RELEASE_S, t0 + MAX_SLICE_S)
    start = _attack_frame(envelope, sr, t0)
    if start is None:
        return "silent on the stem"
    stop = min(int(limit * sr), envelope.size)
    segment = envelope[start:stop]
    if segment.size < MIN_SLICE_S * sr or off - t0 < ATTACK_SKIP_S:
        return "too short"
    peak = float(segment.max())
    before = float(envelope[max(0, start - int(BLEED_WINDOW_S * sr)):start].max()) if start > 0 else 0.0
    clean = 20 * np.log10(peak / max(before, 1e-9))
    if clean < MIN_CLEAN_DB:
        return "bleed from the previous note"
    audible = np.nonzero(segment > peak * 10 ** (TAIL_FLOOR_DB / 20))[0]
    end = start + int(audible[-1]) + 1
    held = max(0.0, off - start / sr)
    root, shift = float(min(n.pitch for n in group)), 0
    if len(group) == 1:
        measured = _measured_pitch(audio[:, start:end], sr, group[0].pitch, held)
        if measured is None:
            return "no pitch found"
        shift = 12 * int(round((measured - group[0].pitch) / 12))
        fine = measured - group[0].pitch - shift
        if abs(shift) > 12 * MAX_OCTAVE_SHIFT or abs(fine) > QUARTER_TONE:
            return "pitch disagrees with the MIDI"
        if abs(fine) * 100 > IN_TUNE_CENTS:
            return "detuned from the MIDI note"
        root = group[0].pitch + fine
    clip = audio[:, start:end].astype(np.float32)
    fade = min(clip.shape[1], int(END_FADE_S * sr))
    clip[:, clip.shape[1] - fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
    return NoteSlice(clip, tuple(sorted(n.pitch for n in group)), max(n.velocity for n in group), root,
                     min(held, clip.shape[1] / sr), float(clean), shift)


def _attack_frame(envelope: np.ndarray, sr: int, t0: float) -> int | None:
    """The frame just before the attack near ``t0``: where the stem first reaches a tenth of its
    level in the search window, less a millisecond; None where the stem is silent there."""
    lo = max(0, int(round((t0 - ATTACK_SEARCH_S[0]) * sr)))
    search = envelope[lo:int(round((t0 + ATTACK_SEARCH_S[1]) * sr))]
    if search.size == 0 or search.max() <= 1e-4:
        return None
    first = int(np.argmax(search >= 0.1 * search.max()))
    return max(0, lo + first - int(PRE_ROLL_S * sr))


def _measured_pitch(clip: np.ndarray, sr: int, expected: int, held: float) -> float | None:
    """The pitch (fractional MIDI) ``clip`` sounds after its attack, searched from
    ``MAX_OCTAVE_SHIFT`` octaves below ``expected`` to an octave above; None when it is not pitched
    (or its fundamental is under 20 Hz). A note held long enough is
    measured on its held part; a short one on its release too, which sounds the same pitch."""
    a = int(ATTACK_SKIP_S * sr)
    b = int(held * sr) if held >= MIN_SLICE_S else clip.shape[1]
    mono = clip[:, a:b].mean(axis=0) if b - a > int(0.05 * sr) else clip.mean(axis=0)
    fmin = max(20.0, midi_to_hz(expected - 12 * MAX_OCTAVE_SHIFT - 1))
    fmax = min(sr / 4, midi_to_hz(expected + 13))
    f0, _ = estimate_f0(mono.astype(np.float64), sr, fmin=fmin, fmax=fmax)
    return None if f0 is None else float(hz_to_midi(f0))


def choose_zones(slices: list[NoteSlice], keep: int = KEEP_PER_ROLE) -> list[NoteSlice]:
    """The cleanest slice of each (zone, velocity layer), single notes before chords, at most ``keep``,
    spread across the range: zones are taken in turn from the cleanest set until ``keep`` are chosen."""
    singles = [s for s in slices if not s.chord]
    pool = singles or slices
    best: dict[tuple[int, int], NoteSlice] = {}
    for s in sorted(pool, key=lambda s: (-min(s.cleanliness_db, 60.0), -s.audio.shape[1])):
        cell = (int(s.root_midi // ZONE_SEMITONES), int(np.searchsorted(VELOCITY_LAYERS, s.velocity, side="right")))
        best.setdefault(cell, s)
    by_zone: dict[int, list[NoteSlice]] = {}
    for (zone, _), s in sorted(best.items()):
        by_zone.setdefault(zone, []).append(s)
    chosen: list[NoteSlice] = []
    while len(chosen) < keep and any(by_zone.values()):
        for zone in sorted(by_zone):
            if by_zone[zone] and len(chosen) < keep:
                chosen.append(by_zone[zone].pop(0))
    return chosen
