"""The copy guard's catalogue: every phrase pattern of the artist's songs, and how much of a new
song's phrases are found in it."""

from __future__ import annotations

from project_ingest.score import BeatNote, Score, beat_step
from sample_library.roles import DRUM_ROLES
from template_engine.model.dataset import song_phrases
from template_engine.model.tokens import PhraseSlicer


def pattern_signature(role: str, notes: list[BeatNote]) -> tuple | None:
    """A phrase's pattern: drums by onsets and notes; pitched roles transposition-invariant."""
    if not notes:
        return None
    if role in DRUM_ROLES:
        return tuple((beat_step(n.start), n.pitch) for n in notes)
    base = notes[0].pitch
    return tuple((beat_step(n.start), beat_step(n.duration), n.pitch - base) for n in notes)


def catalogue(corpus: list[tuple[str, Score]]) -> tuple[dict[tuple, set[str]], float]:
    """Every (role, pattern) of the artist's songs with the songs it occurs in, and the artist's own
    self-borrowing: the share of a song's role-phrases also found in another of its songs."""
    table: dict[tuple, set[str]] = {}
    found: list[tuple[str, tuple]] = []
    for title, score in corpus:
        for ph in song_phrases(score):
            for role, notes in ph.tracks.items():
                sig = pattern_signature(role, notes)
                if sig is not None:
                    table.setdefault((role, sig), set()).add(title)
                    found.append((title, (role, sig)))
    shared = sum(len(table[key] - {title}) > 0 for title, key in found)
    return table, shared / max(len(found), 1)


def copy_rate(written: list[dict[str, list[BeatNote]]], table: dict[tuple, set[str]]) -> tuple[float, list[bool]]:
    """Share of generated role-phrases found verbatim in the catalogue, and which phrases hold a copy
    of a pattern of four notes or more (a copied drum groove as much as a copied melody)."""
    copied, total, flags = 0, 0, []
    for phrase in written:
        flag = False
        for role, notes in phrase.items():
            sig = pattern_signature(role, notes)
            if sig is None:
                continue
            total += 1
            hit = (role, sig) in table
            copied += hit
            flag |= hit and len(notes) >= 4
        flags.append(flag)
    return copied / max(total, 1), flags


def line_catalogue(corpus: list[tuple[str, Score]]) -> set[tuple]:
    """Every (role, pattern) of a pitched track over ``PHRASE_BARS`` bars, starting at every bar of
    the artist's songs: the lines a new phrase must not lift whole, wherever they sit in a song."""
    lines = set()
    for _, score in corpus:
        for role, notes in score.tracks.items():
            if role in DRUM_ROLES:
                continue
            slicer = PhraseSlicer(notes)
            for bar in range(score.bars):
                sig = pattern_signature(role, slicer.at(bar))
                if sig is not None:
                    lines.add((role, sig))
    return lines


def copied_lines(written: list[dict[str, list[BeatNote]]], lines: set[tuple]) -> list[bool]:
    """Which phrases hold a pitched line of four notes or more that a song of the catalogue plays
    whole (``line_catalogue``: a bass line or melody lifted in order, at any transposition)."""
    return [any(role not in DRUM_ROLES and len(notes) >= 4 and (role, pattern_signature(role, notes)) in lines
                for role, notes in phrase.items()) for phrase in written]
