"""Song form: how a song brings its ideas back. Measured on any score (the artist's songs at ingest,
a candidate in ``template evaluate``), and the artist's habits kept in the bundle as ``form.json``.

Three measures, per song, over the pitched tracks:

- ``exact_recurrence``: the share of (track, bar) pairs with notes whose exact notes (sixteenth
  onsets in the bar and pitches) are played again by that track 8 or more bars away;
- ``harmony_recurrence``: the share of sounding bars whose pitch-class set (all pitched tracks
  together) comes back 8 or more bars away;
- ``distinct_harmonies_per_16``: distinct bar pitch-class sets per 16 sounding bars.

And the habits a generator follows (``learn_form``): for each section type, how often a section
restates an earlier one of the same type (most of its pitched bars identical), how often a
section's harmony is one the song already stated elsewhere, and how often its hook (the melodic
tracks' bars) is played elsewhere in the song.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from project_ingest.score import BEATS_PER_BAR, BeatNote, Score, Section, beat_step
from sample_library.roles import DRUM_ROLES

RECUR_DISTANCE_BARS = 8
RESTATED_SHARE = 0.5  # a section restates another when at least this share of its pitched bars match
MELODIC_ROLES = ("lead", "pluck", "arp", "vocal_chop")  # the hook
HARMONIC_ROLES = ("bass", "sub", "chords", "pad")  # the progression


@dataclass(frozen=True)
class FormMeasures:
    exact_recurrence: float | None
    harmony_recurrence: float | None
    distinct_harmonies_per_16: float | None


@dataclass
class FormStats:
    """The artist's form habits (``form.json``): per section type, the share of its sections that
    restate an earlier one of the same type, and the share whose harmony the song states elsewhere;
    the artist's own ``FormMeasures`` per song."""

    restate: dict[str, float] = field(default_factory=dict)
    shared_harmony: dict[str, float] = field(default_factory=dict)
    shared_hook: dict[str, float] = field(default_factory=dict)
    songs: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FormStats:
        return cls(restate=dict(d.get("restate", {})), shared_harmony=dict(d.get("shared_harmony", {})),
                   shared_hook=dict(d.get("shared_hook", {})), songs=list(d.get("songs", [])))


def bar_patterns(score: Score) -> dict[str, list[tuple | None]]:
    """Per pitched track, each bar's exact notes as (sixteenth in bar, pitch) pairs; None when silent."""
    out = {}
    for role, notes in score.tracks.items():
        if role in DRUM_ROLES:
            continue
        bars: list[list[tuple[int, int]]] = [[] for _ in range(score.bars)]
        for n in notes:
            bar = int(n.start // BEATS_PER_BAR)
            if 0 <= bar < score.bars:
                bars[bar].append((beat_step(n.start - bar * BEATS_PER_BAR), n.pitch))
        out[role] = [tuple(sorted(b)) if b else None for b in bars]
    return out


def bar_tones(notes: list[BeatNote], bars: int) -> np.ndarray:
    """The pitch classes sounding in each of ``bars`` bars, as 12-bit masks (bit ``pitch % 12``),
    shape (bars,) int64; 0 where nothing sounds."""
    out = np.zeros(bars, dtype=np.int64)
    for n in notes:
        first, last = int(n.start // BEATS_PER_BAR), int((n.start + n.duration - 1e-6) // BEATS_PER_BAR)
        for bar in range(max(first, 0), min(last, bars - 1) + 1):
            out[bar] |= 1 << (n.pitch % 12)
    return out


def bar_harmonies(score: Score) -> list[frozenset[int] | None]:
    """Each bar's pitch-class set over every pitched track; None when no pitched note sounds in it."""
    pitched = [n for role, notes in score.tracks.items() if role not in DRUM_ROLES for n in notes]
    return [frozenset(p for p in range(12) if mask >> p & 1) if mask else None
            for mask in bar_tones(pitched, score.bars)]


def _recurs(seq: list, i: int) -> bool:
    return any(seq[j] == seq[i] for j in range(len(seq)) if abs(j - i) >= RECUR_DISTANCE_BARS)


def form_measures(score: Score) -> FormMeasures:
    """The three form measures of ``score`` (None where it has no pitched bar)."""
    exact = [_recurs(seq, i) for seq in bar_patterns(score).values() for i in range(len(seq)) if seq[i] is not None]
    harmonies = bar_harmonies(score)
    sounding = [i for i, h in enumerate(harmonies) if h is not None]
    recurring = [_recurs(harmonies, i) for i in sounding]
    return FormMeasures(
        exact_recurrence=round(float(np.mean(exact)), 3) if exact else None,
        harmony_recurrence=round(float(np.mean(recurring)), 3) if recurring else None,
        distinct_harmonies_per_16=round(len({harmonies[i] for i in sounding}) * 16 / len(sounding), 2) if sounding else None)


def _section_bars(section: Section, seq: list) -> list:
    return seq[section.start_bar:section.end_bar]


def _restates(score: Score, index: int, patterns: dict[str, list[tuple | None]]) -> bool:
    """Whether section ``index`` restates an earlier section of its type (most pitched bars equal)."""
    s = score.sections[index]
    for earlier in score.sections[:index]:
        if earlier.kind != s.kind:
            continue
        same, total = 0, 0
        for seq in patterns.values():
            a, b = _section_bars(earlier, seq), _section_bars(s, seq)
            for x, y in zip(a, b):
                if x is not None or y is not None:
                    total += 1
                    same += x == y
        if total and same / total >= RESTATED_SHARE:
            return True
    return False


def _shares_harmony(score: Score, index: int, harmonies: list[frozenset[int] | None]) -> bool:
    """Whether most sounding bars of section ``index`` have a harmony heard elsewhere in the song."""
    s = score.sections[index]
    own = [h for h in _section_bars(s, harmonies) if h is not None]
    elsewhere = {h for i, h in enumerate(harmonies) if h is not None and not s.start_bar <= i < s.end_bar}
    return bool(own) and np.mean([h in elsewhere for h in own]) >= RESTATED_SHARE


def _shares_hook(score: Score, index: int, patterns: dict[str, list[tuple | None]]) -> bool | None:
    """Whether most melodic bars of section ``index`` are played elsewhere in the song by the same
    track; None when the section has no melodic bar."""
    s = score.sections[index]
    found = []
    for role, seq in patterns.items():
        if role not in MELODIC_ROLES:
            continue
        elsewhere = {p for i, p in enumerate(seq) if p is not None and not s.start_bar <= i < s.end_bar}
        found += [p in elsewhere for p in _section_bars(s, seq) if p is not None]
    return None if not found else bool(np.mean(found) >= RESTATED_SHARE)


def learn_form(scores: list[Score]) -> FormStats:
    """The form habits of the artist's songs."""
    habits: dict[str, dict[str, list[bool]]] = {"restate": {}, "shared_harmony": {}, "shared_hook": {}}
    for score in scores:
        patterns, harmonies = bar_patterns(score), bar_harmonies(score)
        seen: set[str] = set()
        for i, s in enumerate(score.sections):
            if s.kind in seen:
                habits["restate"].setdefault(s.kind, []).append(_restates(score, i, patterns))
            seen.add(s.kind)
            habits["shared_harmony"].setdefault(s.kind, []).append(_shares_harmony(score, i, harmonies))
            hook = _shares_hook(score, i, patterns)
            if hook is not None:
                habits["shared_hook"].setdefault(s.kind, []).append(hook)
    rates = {name: {k: round(float(np.mean(v)), 3) for k, v in sorted(h.items())} for name, h in habits.items()}
    return FormStats(**rates, songs=[asdict(form_measures(s)) for s in scores])
