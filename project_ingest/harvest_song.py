"""Harvesting one song: drum and fx hits (``harvest``) and pitched notes (``harvest_notes``) sliced
out of its frozen stems at the MIDI onsets, so every role can sound with the artist's own sounds.

A pitched stem that ducks under the kick carries the ducking in every note sliced from it; the
renderer applies the learned ducking again at every generated kick, so before slicing, the song's
measured ducking curve is divided out of the stem (at most ``MAX_UNDUCK_DB`` of gain).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from project_ingest.classify import RoleAssignment
from project_ingest.harvest import Hit, slice_hits
from project_ingest.harvest_notes import NoteHarvest, PlayedNote, choose_zones, slice_notes
from project_ingest.mix_analysis import ducking_gain
from project_ingest.score import BeatNote
from sample_library.roles import DRUM_ROLES

HITS_PER_ROLE = 4
HIT_ROLES = (*DRUM_ROLES, "fx")  # harvested as hits, played as recorded; every other role as notes
MAX_UNDUCK_DB = 24.0

Assignments = list[tuple[RoleAssignment, Path | None]]


@dataclass
class SongHarvest:
    """One song's harvest: hits per drum or fx role, notes (kept and rejected) per pitched role."""

    hits: dict[str, list[Hit]] = field(default_factory=dict)
    notes: dict[str, NoteHarvest] = field(default_factory=dict)


def harvest_song(stems: dict[Path, np.ndarray], assignments: Assignments, *, spb: float, sr: int,
                 kicks: np.ndarray, sidechains: dict[str, dict]) -> SongHarvest:
    """Hits and notes of every role from its stems (channels, frames); ``kicks`` are the song's kick
    onsets (s), ``sidechains`` each role's measured ducking (``mix_analysis`` figures), if any."""
    harvest = SongHarvest()
    for a, stem in assignments:
        if stem not in stems or not a.notes:
            continue
        on_stem = [n for b, s in assignments if s == stem and b.notes for n in b.notes]
        if a.role in HIT_ROLES:
            every = np.array(sorted(n.start * spb for n in on_stem))
            got = slice_hits(stems[stem], sr, np.array([n.start * spb for n in a.notes]),
                             np.array([n.velocity for n in a.notes]), np.array([n.pitch for n in a.notes]),
                             all_onsets=every, keep=HITS_PER_ROLE)
            harvest.hits.setdefault(a.role, []).extend(got)
            continue
        audio = unducked(stems[stem], sr, sidechains.get(a.role), kicks, spb)
        notes = slice_notes(audio, sr, [played(n, spb) for n in a.notes], stem_notes=[played(n, spb) for n in on_stem])
        total = harvest.notes.setdefault(a.role, NoteHarvest())
        total.kept += notes.kept
        total.rejected.update(notes.rejected)
    for notes in harvest.notes.values():
        notes.kept = choose_zones(notes.kept)
    return harvest


def unducked(audio: np.ndarray, sr: int, sidechain: dict | None, kicks: np.ndarray, spb: float) -> np.ndarray:
    """``audio`` (channels, frames) with the measured ducking curve divided out at every kick."""
    if not sidechain or kicks.size == 0:
        return audio
    curve = np.clip(np.array(sidechain["curve_db"][sidechain.get("pre_points", 0):], dtype=float), -MAX_UNDUCK_DB, 0.0)
    gain = ducking_gain(kicks, audio.shape[1], sr, curve_db=curve, points_per_beat=sidechain["points_per_beat"],
                        seconds_per_beat=spb)
    return (audio / gain[None, :]).astype(np.float32)


def played(note: BeatNote, spb: float) -> PlayedNote:
    """A note in beats as played on the stem, in seconds."""
    return PlayedNote(note.start * spb, (note.start + note.duration) * spb, note.pitch, note.velocity)


def harvest_report(harvests: list[SongHarvest]) -> dict[str, dict]:
    """Per pitched role over every song: notes kept as one-shots (how many are chords, how many sound
    whole octaves away from their MIDI, as the artist's preset did), and notes rejected per reason."""
    report: dict[str, dict] = {}
    for harvest in harvests:
        for role, notes in harvest.notes.items():
            entry = report.setdefault(role, {"kept": 0, "chords": 0, "octave_shifted": 0, "rejected": {}})
            entry["kept"] += len(notes.kept)
            entry["chords"] += sum(n.chord for n in notes.kept)
            entry["octave_shifted"] += sum(n.octave_shift != 0 for n in notes.kept)
            for reason, n in notes.rejected.items():
                entry["rejected"][reason] = entry["rejected"].get(reason, 0) + n
    return dict(sorted(report.items()))
