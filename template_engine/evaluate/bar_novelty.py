"""How much of a song is the artist's catalogue again, bar by bar.

A bar of a track is its pattern of onsets (16ths), lengths and pitches; pitched tracks are taken
relative to the bar's lowest note, so a transposed copy is still a copy. Per track: the share of
non-empty bars found anywhere in the artist's catalogue for that role, the longest run of such bars,
and the longest run copied in order from one song of the artist (a phrase lifted whole: its bars in
the same order, and for a pitched track under one transposition for the whole run, so a bass that
plays the same rhythm over another progression is not a copied line). Runs are counted in non-empty
bars and go on through empty bars once they have started on a copied bar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from project_ingest.score import BEATS_PER_BAR, BeatNote, Score, beat_step
from sample_library.roles import DRUM_ROLES, PITCHED_ROLES

Pattern = tuple | None


@dataclass
class BarTrack:
    """One track bar by bar: each bar's pattern (None when empty) and its lowest pitch (0 for drums
    and empty bars), shapes (bars,)."""

    patterns: list[Pattern]
    bases: list[int]


def bar_patterns(role: str, notes: list[BeatNote], bars: int) -> BarTrack:
    """The track's bars: patterns of (sixteenth, length, pitch above the bar's lowest note)."""
    per_bar: list[list[BeatNote]] = [[] for _ in range(bars)]
    for n in notes:
        b = int(n.start // BEATS_PER_BAR)
        if 0 <= b < bars:
            per_bar[b].append(n)
    out = BarTrack([], [])
    for b, ns in enumerate(per_bar):
        base = 0 if role in DRUM_ROLES or not ns else min(n.pitch for n in ns)
        out.bases.append(base)
        out.patterns.append(tuple(sorted((beat_step(n.start - b * BEATS_PER_BAR), beat_step(n.duration), n.pitch - base)
                                         for n in ns)) if ns else None)
    return out


@dataclass
class TrackNovelty:
    """Copied share of non-empty bars, longest run of copied bars, longest run copied in order (bars)."""

    copied_share: float
    longest_copied_run: int
    longest_in_order: int
    bars: int


def _longest_run(flags: list[bool | None]) -> int:
    """Longest run of True (counted in True bars), carried through None (an empty bar) once started."""
    best = run = 0
    for f in flags:
        if f is None:
            continue
        run = run + 1 if f else 0
        best = max(best, run)
    return best


def in_order_runs(track: BarTrack, catalogue: list[BarTrack]) -> list[int]:
    """Per bar of ``track`` (bars,): the longest run of its bars up to that one equal to consecutive
    bars of one catalogue song under one transposition, counted in non-empty bars; a run starts on a
    non-empty bar and goes on through bars empty in both. 0 where no run reaches the bar."""
    index: dict[tuple, list[tuple[int, int, int]]] = {}
    for s, song in enumerate(catalogue):
        for j, (p, base) in enumerate(zip(song.patterns, song.bases)):
            if p is not None:
                index.setdefault(p, []).append((s, j, base))
    runs: dict[tuple[int, int], tuple[int, int]] = {}  # (song, bar) -> (bars in the run, transposition)
    out = []
    for x, x_base in zip(track.patterns, track.bases):
        if x is None:
            runs = {(s, j + 1): run for (s, j), run in runs.items()
                    if j + 1 < len(catalogue[s].patterns) and catalogue[s].patterns[j + 1] is None}
        else:
            grown = {}
            for s, j, y_base in index.get(x, ()):
                length, shift = runs.get((s, j - 1), (0, 0))
                grown[(s, j)] = (length + 1 if length and shift == x_base - y_base else 1, x_base - y_base)
            runs = grown
        out.append(max((length for length, _ in runs.values()), default=0))
    return out


def track_novelty(track: BarTrack, catalogue: list[BarTrack]) -> TrackNovelty:
    """One track's bars against the same role's bars in each catalogue song."""
    known = {p for song in catalogue for p in song.patterns if p is not None}
    flags = [p in known for p in track.patterns if p is not None]
    copied_flags = [None if p is None else p in known for p in track.patterns]
    return TrackNovelty(copied_share=float(np.mean(flags)) if flags else 0.0,
                        longest_copied_run=_longest_run(copied_flags),
                        longest_in_order=max(in_order_runs(track, catalogue), default=0),
                        bars=len(flags))


def song_novelty(score: Score, artist: list[Score]) -> dict[str, TrackNovelty]:
    """Every track of ``score`` against the artist's songs (the same role in each)."""
    out = {}
    for role, notes in score.tracks.items():
        catalogue = [bar_patterns(role, s.tracks[role], s.bars) for s in artist if role in s.tracks]
        out[role] = track_novelty(bar_patterns(role, notes, score.bars), catalogue)
    return out


def summary(tracks: dict[str, TrackNovelty]) -> dict[str, float | int]:
    """A song's figures over all its tracks, and over its pitched tracks alone (drum grooves are
    shared across a genre, and fx hits sit where the artist places them at section boundaries; a
    melody or bass line lifted whole is what a producer would call a copy): copied share of
    non-empty bars, the longest copied run and the longest run copied in order."""
    def figures(rows: list[TrackNovelty], prefix: str) -> dict[str, float | int]:
        bars = sum(t.bars for t in rows)
        return {f"{prefix}copied_share": round(sum(t.copied_share * t.bars for t in rows) / max(bars, 1), 3),
                f"{prefix}longest_copied_run": max((t.longest_copied_run for t in rows), default=0),
                f"{prefix}longest_in_order": max((t.longest_in_order for t in rows), default=0)}

    pitched = [t for role, t in tracks.items() if role in PITCHED_ROLES]
    return {**figures(list(tracks.values()), ""), **figures(pitched, "pitched_")}


def self_borrowing(artist: list[Score]) -> dict[str, float | int]:
    """The artist's own habit: each song against the others, averaged (share) and at most (runs)."""
    rows = [summary(song_novelty(s, artist[:i] + artist[i + 1:])) for i, s in enumerate(artist)]
    keys = [f"{p}{k}" for p in ("", "pitched_") for k in ("copied_share", "longest_copied_run", "longest_in_order")]
    if not rows:
        return {k: 0 for k in keys}
    return {k: round(float(np.mean([r[k] for r in rows])), 3) if k.endswith("share") else max(r[k] for r in rows)
            for k in keys}
