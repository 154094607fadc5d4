"""A small EDM composition routine that writes the demo artist's "past projects".

The demo artist has habits the product should learn: four-on-the-floor drops with claps on 2 and 4,
offbeat open hats, snare rolls that speed up through builds, a rolling eighth-note bass, minor
progressions, a lead motif that repeats with a varied fourth bar, arps in drops and breakdowns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from project_ingest.score import BEATS_PER_BAR, SCALES, BeatNote, Key, Score, Section
from sample_library.roles import DRUM_ROLES

STRUCTURES = (
    (("intro", 16), ("build", 8), ("drop", 16), ("breakdown", 16), ("build", 8), ("drop", 16), ("outro", 8)),
    (("intro", 8), ("build", 8), ("drop", 16), ("breakdown", 8), ("build", 8), ("drop", 16), ("outro", 8)),
    (("intro", 16), ("build", 8), ("drop", 16), ("breakdown", 16), ("build", 8), ("drop", 32), ("outro", 16)),
    (("intro", 8), ("drop", 8), ("breakdown", 8), ("build", 8), ("drop", 16), ("bridge", 8), ("build", 4),
     ("drop", 8), ("outro", 8)),
)
TINY_STRUCTURE = (("intro", 4), ("build", 4), ("drop", 4), ("outro", 4))
ENERGY = {"intro": 0.3, "build": 0.6, "drop": 1.0, "breakdown": 0.4, "bridge": 0.5, "outro": 0.25}
PROGRESSIONS = {"minor": ((0, 5, 2, 6), (0, 3, 5, 4), (0, 6, 5, 6), (5, 3, 0, 4)),
                "major": ((0, 4, 5, 3), (5, 3, 0, 4), (0, 3, 4, 4), (0, 5, 3, 4))}
TRACK_NAMES = {"kick": "Kick", "snare": "Snare Roll", "clap": "Clap", "hats": "HiHats", "perc": "Perc Loop",
               "cymbal": "Crash", "sub": "SUB", "bass": "Bass", "chords": "Chord Stabs",
               "lead": "Supersaw Lead", "pad": "Pad", "arp": "Arp", "vocal_chop": "Vox Chop", "fx": "Riser FX"}
ROLES_IN = {
    "intro": ("kick", "hats", "perc", "pad"),
    "build": ("snare", "clap", "hats", "chords", "lead", "arp", "fx", "kick"),
    "drop": ("kick", "clap", "hats", "perc", "cymbal", "sub", "bass", "chords", "lead", "arp", "vocal_chop", "fx"),
    "breakdown": ("pad", "chords", "lead", "vocal_chop"),
    "bridge": ("kick", "hats", "bass", "pad", "arp"),
    "outro": ("kick", "hats", "perc", "pad"),
}
RISER_NOTE, IMPACT_NOTE = 60, 48


def compose_song(seed: int, *, tiny: bool = False) -> Score:
    """Write one song: its sections, key, tempo and every role's notes (beats)."""
    rng = np.random.default_rng(seed)
    bpm = float(rng.integers(122, 133))
    mode = "minor" if rng.random() < 0.7 else "major"
    key = Key(int(rng.integers(12)), mode)
    structure = TINY_STRUCTURE if tiny else STRUCTURES[int(rng.integers(len(STRUCTURES)))]
    sections, bar = [], 0
    for kind, bars in structure:
        sections.append(Section(kind, bar, bars, ENERGY[kind]))
        bar += bars
    progression = PROGRESSIONS[mode][int(rng.integers(len(PROGRESSIONS[mode])))]
    motif = _motif(rng)
    chop_rhythm = sorted(rng.choice(16, size=5, replace=False).tolist())
    tracks: dict[str, list[BeatNote]] = {role: [] for role in TRACK_NAMES}
    for section in sections:
        for b in range(section.start_bar, section.end_bar):
            chord = _chord(key, progression[b % 4])
            rel = b - section.start_bar
            for role in ROLES_IN[section.kind]:
                tracks[role] += _bar_notes(role, section, rel, b, chord, key, motif, chop_rhythm, rng)
    tracks = {role: sorted(notes, key=lambda n: (n.start, n.pitch)) for role, notes in tracks.items() if notes}
    return Score(bpm=bpm, key=key, sections=sections, tracks=tracks,
                 names={role: TRACK_NAMES[role] for role in tracks})


def _chord(key: Key, degree: int) -> list[int]:
    """A triad on scale ``degree`` as pitch classes relative to C."""
    scale = SCALES[key.mode]
    return [(key.tonic + scale[(degree + step) % 7]) % 12 for step in (0, 2, 4)]


def _motif(rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """Two bars of lead rhythm: (onset in 16ths, length in 16ths, chord-tone index)."""
    onsets = sorted(set(rng.choice(np.arange(0, 32, 2), size=7, replace=False).tolist()) | {0})
    motif = []
    for i, on in enumerate(onsets):
        nxt = onsets[i + 1] if i + 1 < len(onsets) else 32
        motif.append((on, max(1, min(nxt - on, 6)), int(rng.integers(0, 5))))
    return motif


def _place(octave_base: int, pc: int) -> int:
    return octave_base + (pc - octave_base) % 12


def _n(bar: int, sixteenth: float, length: float, pitch: int, velocity: int) -> BeatNote:
    return BeatNote(bar * BEATS_PER_BAR + sixteenth / 4.0, length / 4.0, int(pitch), int(np.clip(velocity, 1, 127)))


@dataclass
class _Bar:
    """Where a bar sits: its section, its index in the section (``rel``) and in the song, the chord
    (pitch classes) under it, and a velocity humaniser."""

    section: Section
    rel: int
    bar: int
    chord: list[int]
    rng: np.random.Generator

    def jitter(self) -> int:
        return int(self.rng.integers(-6, 7))

    @property
    def progress(self) -> float:
        return self.rel / max(1, self.section.bars)


def _bar_notes(role: str, section: Section, rel: int, bar: int, chord: list[int], key: Key,
               motif: list[tuple[int, int, int]], chop_rhythm: list[int], rng: np.random.Generator) -> list[BeatNote]:
    """One bar of ``role`` in the demo artist's style."""
    at = _Bar(section, rel, bar, chord, rng)
    if role in DRUM_ROLES:
        notes = _drum_bar(role, at)
    else:
        notes = _pitched_bar(role, at, key, motif, chop_rhythm)
    if section.kind == "build" and rel == section.bars - 1 and role in ("kick", "hats", "perc"):
        notes = [n for n in notes if n.start - bar * BEATS_PER_BAR < 3]
    return notes


def _drum_bar(role: str, at: _Bar) -> list[BeatNote]:
    kind, progress, rel, bar, section, jitter = at.section.kind, at.progress, at.rel, at.bar, at.section, at.jitter
    notes: list[BeatNote] = []
    if role == "kick":
        if kind == "build" and progress >= 0.5:
            return []
        notes = [_n(bar, s, 1, 36, 118 + jitter()) for s in (0, 4, 8, 12)]
    elif role == "clap":
        if kind == "build" and progress < 0.5:
            return []
        notes = [_n(bar, s, 1, 39, 105 + jitter()) for s in (4, 12)]
    elif role == "snare":
        step = 4 if progress < 0.5 else 2 if progress < 0.75 else 1
        notes = [_n(bar, s, 1, 38, int(60 + 60 * (rel * 16 + s) / (section.bars * 16)) + jitter())
                 for s in range(0, 16, step)]
    elif role == "hats":
        for s in range(16):
            if kind == "drop" and s % 4 == 2:
                notes.append(_n(bar, s, 2, 46, 100 + jitter()))
            elif s % 2 == 0 or kind == "drop":
                notes.append(_n(bar, s, 1, 42, (92 if s % 4 == 2 else 70 if s % 2 == 0 else 55) + jitter()))
        if kind == "intro" and rel < 2:
            notes = notes[::2]
    elif role == "perc":
        notes = [_n(bar, s, 1, 37, 80 + jitter()) for s in (3, 7, 10, 14)]
    elif role == "cymbal":
        notes = [_n(bar, 0, 8, 49, 110)] if rel == 0 else []
    return notes


def _pitched_bar(role: str, at: _Bar, key: Key, motif: list[tuple[int, int, int]],
                 chop_rhythm: list[int]) -> list[BeatNote]:
    kind, progress, rel, bar, chord, section, jitter = (at.section.kind, at.progress, at.rel, at.bar, at.chord,
                                                        at.section, at.jitter)
    notes: list[BeatNote] = []
    if role == "sub":
        notes = [_n(bar, 0, 16, _place(28, chord[0]), 110)]
    elif role == "bass":
        root = _place(36, chord[0])
        notes = [_n(bar, s, 2, root + (12 if s in (6, 14) else 0), (112 if s % 4 == 2 else 92) + jitter())
                 for s in range(0, 16, 2)]
    elif role == "chords":
        voicing = sorted(_place(57, pc) for pc in chord)
        if kind in ("breakdown", "build"):
            notes = [_n(bar, 0, 16, p, 80 + jitter()) for p in voicing]
        else:
            for s in (0, 3, 6, 10):
                notes += [_n(bar, s, 2, p, 100 + jitter()) for p in voicing]
    elif role == "pad":
        notes = [_n(bar, 0, 16, p, 75) for p in sorted(_place(48, pc) for pc in chord)]
    elif role == "lead":
        if kind == "build" and progress < 0.5:
            return []
        scale = SCALES[key.mode]
        tones = [_place(67, pc) for pc in chord] + [_place(67, (key.tonic + scale[4]) % 12),
                                                   _place(67, (key.tonic + scale[6]) % 12)]
        half = (rel % 2) * 16
        for on, length, idx in motif:
            if half <= on < half + 16:
                varied = (rel % 4 == 3) and on >= half + 8
                pitch = tones[(idx + (2 if varied else 0)) % len(tones)]
                notes.append(_n(bar, on - half, length, pitch, (110 if on % 4 == 0 else 96) + jitter()))
    elif role == "arp":
        pattern = sorted(_place(72, pc) for pc in chord)
        pattern = pattern + [pattern[1] + 12 - 12 * (pattern[1] + 12 > 96)]
        step = 1 if kind == "drop" else 2
        notes = [_n(bar, s, step, pattern[(s // step) % len(pattern)], (88 if s % 4 == 0 else 70) + jitter())
                 for s in range(0, 16, step)]
    elif role == "vocal_chop":
        if kind == "breakdown" and rel % 2:
            return []
        notes = [_n(bar, s, 1.5, _place(72, chord[i % 3]), 100 + jitter()) for i, s in enumerate(chop_rhythm)]
    elif role == "fx":
        if kind == "build" and rel == section.bars - 2:
            notes = [_n(bar, 0, 32, RISER_NOTE, 100)]
        elif kind == "drop" and rel == 0:
            notes = [_n(bar, 0, 4, IMPACT_NOTE, 110)]
    return notes
