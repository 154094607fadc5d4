"""Transition hits: the few one-shot events an artist places at section boundaries (an impact or a
crash on a drop's first beat, a riser through the end of a build), learned from the corpus and placed by the
plan instead of written phrase by phrase.

A phrase's notes repeat with it (a section plays its main phrase again and again), and a model asked
for an fx track in every phrase of a drop fills each one: the demo's candidates had 49-135 fx notes
per song where the artist's songs have 4-5. So where the artist's hits sit at fixed places around the
boundaries (``EXPLAINED_SHARE`` of them or more, and a couple per section at most), every hit that
at least ``MIN_SHARE`` of a section type's sections have, at the same place, pitch and length, is
placed in every such section of a new song whose plan gives it the role; otherwise the model writes
the role as any other.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from project_ingest.score import BEATS_PER_BAR, BeatNote, Score, Section

PLACED_ROLES = ("fx", "cymbal")
MIN_SHARE = 0.5
MAX_HITS_PER_SECTION = 2.0  # more notes than this per section that plays the role is a part, not hits
EXPLAINED_SHARE = 0.8
GRID = 4  # places and lengths are read to the sixteenth


@dataclass(frozen=True)
class TransitionHit:
    """One hit of a section type: ``offset`` beats after its start (``anchor`` "start") or before its
    end ("end"), its length (beats), MIDI pitch and velocity."""

    kind: str
    anchor: str
    offset: float
    duration: float
    pitch: int
    velocity: int

    def note(self, section: Section) -> BeatNote:
        """The hit in ``section`` (beats from the song's start)."""
        start = section.start_bar * BEATS_PER_BAR + self.offset if self.anchor == "start" \
            else section.end_bar * BEATS_PER_BAR - self.offset
        return BeatNote(start, self.duration, self.pitch, self.velocity)


def _place(note: BeatNote, section: Section) -> tuple[str, float]:
    """The anchor and offset (beats, on the sixteenth grid) of ``note`` in ``section``: from the nearer boundary."""
    after = note.start - section.start_bar * BEATS_PER_BAR
    before = section.end_bar * BEATS_PER_BAR - note.start
    anchor, offset = ("start", after) if after <= before else ("end", before)
    return anchor, round(offset * GRID) / GRID


def learn_transitions(corpus: list[tuple[str, Score]], role: str) -> list[TransitionHit] | None:
    """The hits of ``role`` the plan places, or None when the artist's notes of the role are not
    mostly such hits, or more than ``MAX_HITS_PER_SECTION`` per section that plays it (the model then
    writes the role)."""
    keys: Counter[tuple] = Counter()
    velocities: dict[tuple, list[int]] = {}
    sections: Counter[str] = Counter()
    playing: set[tuple[str, int]] = set()  # (song, section start bar) of the sections the role plays in
    notes = 0
    for title, score in corpus:
        seen: set[tuple] = set()
        for s in score.sections:
            sections[s.kind] += 1
        for n in score.tracks.get(role, []):
            section = next((s for s in score.sections
                            if s.start_bar * BEATS_PER_BAR <= n.start < s.end_bar * BEATS_PER_BAR), None)
            if section is None:
                continue
            notes += 1
            playing.add((title, section.start_bar))
            key = (section.kind, *_place(n, section), round(n.duration * GRID) / GRID, n.pitch)
            velocities.setdefault(key, []).append(n.velocity)
            if (key, section.start_bar) not in seen:
                seen.add((key, section.start_bar))
                keys[key] += 1
    kept = [k for k, count in keys.items() if count >= MIN_SHARE * sections[k[0]]]
    explained = sum(len(velocities[k]) for k in kept)
    if not notes or explained < EXPLAINED_SHARE * notes or notes > MAX_HITS_PER_SECTION * len(playing):
        return None
    return [TransitionHit(k[0], k[1], k[2], k[3], k[4], int(np.median(velocities[k]))) for k in sorted(kept)]


def place_transitions(sections: list[Section], roles: list[list[str]], hits: dict[str, list[TransitionHit]],
                      sources: list[int] | None = None) -> dict[str, list[BeatNote]]:
    """Role -> the hits of every section whose planned ``roles`` include the role, in time order. A
    section restating another (``sources[i]``, itself where it restates none) plays the hits of
    its source's type and roles, as it plays its source's phrases."""
    sources = sources if sources is not None else list(range(len(sections)))
    out: dict[str, list[BeatNote]] = {}
    for role, role_hits in hits.items():
        notes = [h.note(s) for s, j in zip(sections, sources) if role in roles[j]
                 for h in role_hits if h.kind == sections[j].kind]
        if notes:
            out[role] = sorted((n for n in notes if n.start >= 0), key=lambda n: (n.start, n.pitch))
    return out
