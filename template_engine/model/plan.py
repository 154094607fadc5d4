"""The section plan of a new song: a structure the artist used, fitted to the length asked for, and
the roles that play in each section, drawn with the artist's frequencies."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from project_ingest.score import BEATS_PER_BAR, Score, Section
from sample_library.roles import ROLES
from template_engine.model.tokens import PHRASE_BARS

ALWAYS_PLAYS = 0.5  # a role playing in at least this share of a section type's sections always plays in it
NEVER_PLAYS = 0.15  # ... and one at or below this share never does; in between, it is drawn


@dataclass
class SongPlan:
    """Sections with the roles that play in each."""

    sections: list[Section]
    roles: list[list[str]]


@dataclass
class PlanStats:
    """How often (0..1) each role plays in each section type, and the artist's section orders as
    (type, bars, energy) per song."""

    presence: dict[str, dict[str, float]]
    structures: list[list[tuple[str, int, float]]]


def learn_plan_stats(corpus: list[tuple[str, Score]]) -> PlanStats:
    """How often each role plays in each section type, and the artist's section orders (bars)."""
    presence: dict[str, dict[str, list[int]]] = {}
    for _, score in corpus:
        for s in score.sections:
            row = presence.setdefault(s.kind, {})
            for role in ROLES:
                played = any(s.start_bar * BEATS_PER_BAR <= n.start < s.end_bar * BEATS_PER_BAR for n in score.tracks.get(role, []))
                row.setdefault(role, []).append(int(played))
    return PlanStats(presence={k: {r: float(np.mean(v)) for r, v in row.items()} for k, row in presence.items()},
                     structures=[[(s.kind, s.bars, s.energy) for s in score.sections] for _, score in corpus])


def plan_song(stats: PlanStats, rng: np.random.Generator, bars: int | None) -> SongPlan:
    """A structure the artist used, fitted to ``bars`` (multiple of 4) by stretching or trimming the
    longest sections, and the roles of each section drawn with the artist's frequencies."""
    structure = [list(s) for s in stats.structures[int(rng.integers(len(stats.structures)))]]
    if bars:
        target = max(PHRASE_BARS, int(bars) // PHRASE_BARS * PHRASE_BARS)
        total = sum(s[1] for s in structure)
        guard = 0
        while total != target and guard < 200:
            guard += 1
            if total < target:
                i = max(range(len(structure)), key=lambda j: (structure[j][0] == "drop", structure[j][1], -j))
                if structure[i][1] >= 16:
                    structure.insert(i + 1, [structure[i][0], 4, structure[i][2]])
                else:
                    structure[i][1] += 4
                total += 4
            else:
                i = max(range(len(structure)), key=lambda j: (structure[j][1], j))
                if structure[i][1] > 4:
                    structure[i][1] -= 4
                else:
                    structure.pop(i)
                total -= 4
    sections, start, roles = [], 0, []
    for kind, length, energy in structure:
        length = max(1, int(length))
        sections.append(Section(kind, start, length, float(energy)))
        start += length
        probs = stats.presence.get(kind, {})
        chosen = [r for r in ROLES if probs.get(r, 0) >= ALWAYS_PLAYS or (probs.get(r, 0) > NEVER_PLAYS and rng.random() < probs[r])]
        roles.append(chosen or [max(probs, key=probs.get)] if probs else chosen)
    return SongPlan(sections, roles)
