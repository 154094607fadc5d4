"""A song's form before its notes: which sections play an earlier one again, and which are written
over the song's progression, the way the artist's songs do it (``project_ingest.form``).

The theme is the first of the song's most energetic sections (usually the first drop): written
freely, it states the progression and the hook. A later section of a type already heard restates
that section's phrases as often as the artist's songs restate that type; another section is written
over the theme's harmonic tracks (bass, sub, chords, pad: the progression) as often as the artist's
sections of that type share their harmony, and plays the theme's hook (its melodic tracks) as often
as the artist's sections of that type play a hook heard elsewhere; the rest are written freely.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from project_ingest.form import HARMONIC_ROLES, FormStats
from template_engine.model.plan import SongPlan


@dataclass(frozen=True)
class SectionForm:
    """``restates``: the earlier section whose phrases this one plays again; ``harmony_from``: the
    section whose harmonic tracks this one is written over, and whose hook (melodic tracks) it
    plays too when ``hook``; all unset for a freely written one."""

    restates: int | None = None
    harmony_from: int | None = None
    hook: bool = False


def theme_section(plan: SongPlan) -> int:
    """The first of the most energetic sections that has a harmonic role, else the first of the most
    energetic sections."""
    top = max(s.energy for s in plan.sections)
    candidates = [i for i, s in enumerate(plan.sections) if s.energy >= top - 1e-9]
    harmonic = [i for i in candidates if set(plan.roles[i]) & set(HARMONIC_ROLES)]
    return (harmonic or candidates)[0]


def plan_form(plan: SongPlan, stats: FormStats, rng: np.random.Generator) -> list[SectionForm]:
    """The form of each section of ``plan``; a restating section takes its source's roles."""
    theme = theme_section(plan)
    forms: list[SectionForm] = []
    last_of_kind: dict[str, int] = {}
    for i, s in enumerate(plan.sections):
        earlier = last_of_kind.get(s.kind)
        if i != theme and earlier is not None and rng.random() < stats.restate.get(s.kind, 0.0):
            forms.append(SectionForm(restates=earlier))
            plan.roles[i] = list(plan.roles[earlier])
        elif i != theme and rng.random() < stats.shared_harmony.get(s.kind, 0.0):
            forms.append(SectionForm(harmony_from=theme, hook=bool(rng.random() < stats.shared_hook.get(s.kind, 0.0))))
        else:
            forms.append(SectionForm())
        last_of_kind[s.kind] = i
    return forms


def source_of(forms: list[SectionForm], i: int) -> int:
    """The section whose phrases section ``i`` plays: itself, or what it restates, followed back."""
    while forms[i].restates is not None:
        i = forms[i].restates
    return i
