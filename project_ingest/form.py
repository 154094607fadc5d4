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
section's harmony is one the song already stated elsewhere, and, per pitched role, how often a
section written over the theme (the song's first most energetic section) plays the theme's track as
it is: the artist's breakdown may keep the drop's hook and progression but hold the chords the drop
stabs; and in which bars of its phrases such a section sounds that track (``theme_bars``): the
breakdown may play the drop's vocal chop every other bar, the build bring the lead in halfway.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from project_ingest.score import BEATS_PER_BAR, BeatNote, Score, Section, beat_step
from sample_library.roles import DRUM_ROLES

RECUR_DISTANCE_BARS = 8
RESTATED_SHARE = 0.5  # a section restates another when at least this share of its pitched bars match
HARMONIC_ROLES = ("bass", "sub", "chords", "pad")  # the progression
PHRASE_BARS = 4  # a section is laid out in phrases of this many bars, the last one its end phrase
SOUNDING_SHARE = 0.5  # a section over the theme plays its part in a bar where this share of the artist's do


@dataclass(frozen=True)
class FormMeasures:
    exact_recurrence: float | None
    harmony_recurrence: float | None
    distinct_harmonies_per_16: float | None


@dataclass
class FormStats:
    """The artist's form habits (``form.json``): per section type, the share of its sections that
    restate an earlier one of the same type, the share whose harmony the song states elsewhere, and
    per pitched role the share of those not restating that play the theme's track as it is, and
    for those, per part (main, end) the share that sound it in each bar of the phrase
    (``PHRASE_BARS`` shares); the artist's own ``FormMeasures`` per song."""

    restate: dict[str, float] = field(default_factory=dict)
    shared_harmony: dict[str, float] = field(default_factory=dict)
    theme_parts: dict[str, dict[str, float]] = field(default_factory=dict)
    theme_bars: dict[str, dict[str, dict[str, list[float]]]] = field(default_factory=dict)
    songs: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FormStats:
        return cls(restate=dict(d.get("restate", {})), shared_harmony=dict(d.get("shared_harmony", {})),
                   theme_parts={k: dict(v) for k, v in d.get("theme_parts", {}).items()},
                   theme_bars={k: {r: {part: list(shares) for part, shares in parts.items()} for r, parts in v.items()}
                               for k, v in d.get("theme_bars", {}).items()},
                   songs=list(d.get("songs", [])))


def theme_index(sections: list[Section], roles: list[set[str]]) -> int:
    """The theme: the first of the most energetic ``sections`` that plays a harmonic role (``roles``
    per section), else the first of the most energetic sections."""
    top = max(s.energy for s in sections)
    loudest = [i for i, s in enumerate(sections) if s.energy >= top - 1e-9]
    harmonic = [i for i in loudest if roles[i] & set(HARMONIC_ROLES)]
    return (harmonic or loudest)[0]


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


def _plays_theme(score: Score, index: int, theme: int, patterns: dict[str, list[tuple | None]]) -> dict[str, bool]:
    """Per pitched role that both section ``index`` and the ``theme`` play: whether most of the
    section's sounding bars of it are bars the theme plays."""
    s, t = score.sections[index], score.sections[theme]
    out = {}
    for role, seq in patterns.items():
        own, theirs = [p for p in _section_bars(s, seq) if p is not None], {p for p in _section_bars(t, seq) if p is not None}
        if own and theirs:
            out[role] = bool(np.mean([p in theirs for p in own]) >= RESTATED_SHARE)
    return out


def phrase_bars(section: Section) -> list[tuple[str, int]]:
    """Each bar of ``section`` as (part, bar in its phrase): blocks of ``PHRASE_BARS`` from its start,
    the last one its end phrase and the others its main phrase."""
    last = (section.bars - 1) // PHRASE_BARS
    return [("end" if b // PHRASE_BARS == last else "main", b % PHRASE_BARS) for b in range(section.bars)]


def _sounding_bars(section: Section, seq: list) -> dict[str, list[list[bool]]]:
    """Per part, per bar of the phrase: whether the track (``seq``, bar patterns) sounds there, once
    for every phrase of that part in ``section``."""
    out: dict[str, list[list[bool]]] = {}
    for (part, j), pattern in zip(phrase_bars(section), _section_bars(section, seq)):
        out.setdefault(part, [[] for _ in range(PHRASE_BARS)])[j].append(pattern is not None)
    return out


def _section_roles(score: Score, patterns: dict[str, list[tuple | None]]) -> list[set[str]]:
    return [{r for r, seq in patterns.items() if any(p is not None for p in _section_bars(s, seq))}
            for s in score.sections]


def learn_form(scores: list[Score]) -> FormStats:
    """The form habits of the artist's songs."""
    habits: dict[str, dict[str, list[bool]]] = {"restate": {}, "shared_harmony": {}}
    parts: dict[str, dict[str, list[bool]]] = {}
    sounding: dict[str, dict[str, dict[str, list[list[bool]]]]] = {}
    for score in scores:
        patterns, harmonies = bar_patterns(score), bar_harmonies(score)
        theme = theme_index(score.sections, _section_roles(score, patterns)) if score.sections else -1
        seen: set[str] = set()
        for i, s in enumerate(score.sections):
            restates = s.kind in seen and _restates(score, i, patterns)
            if s.kind in seen:
                habits["restate"].setdefault(s.kind, []).append(restates)
            seen.add(s.kind)
            habits["shared_harmony"].setdefault(s.kind, []).append(_shares_harmony(score, i, harmonies))
            if i != theme and not restates:
                for role, plays in _plays_theme(score, i, theme, patterns).items():
                    parts.setdefault(s.kind, {}).setdefault(role, []).append(plays)
                    for part, bars in (_sounding_bars(s, patterns[role]) if plays else {}).items():
                        kept = sounding.setdefault(s.kind, {}).setdefault(role, {}).setdefault(part, [[] for _ in bars])
                        for j, flags in enumerate(bars):
                            kept[j] += flags
    rates = {name: {k: round(float(np.mean(v)), 3) for k, v in sorted(h.items())} for name, h in habits.items()}
    theme_parts = {k: {r: round(float(np.mean(v)), 3) for r, v in sorted(rs.items())} for k, rs in sorted(parts.items())}
    theme_bars = {k: {r: {part: [round(float(np.mean(f)), 3) if f else 1.0 for f in bars] for part, bars in sorted(ps.items())}
                      for r, ps in sorted(rs.items())} for k, rs in sorted(sounding.items())}
    return FormStats(**rates, theme_parts=theme_parts, theme_bars=theme_bars,
                     songs=[asdict(form_measures(s)) for s in scores])
