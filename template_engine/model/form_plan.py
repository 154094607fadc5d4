"""A song's form before its notes: which sections play an earlier one again, and which are written
over the song's progression, the way the artist's songs do it (``project_ingest.form``).

The theme is the first of the song's most energetic sections (usually the first drop): written
freely, it states the progression and the hook. A later section of a type already heard restates
that section's phrases as often as the artist's songs restate that type; another section is written
over the theme's progression as often as the artist's sections of that type share their harmony,
playing each of the theme's tracks as it is as often as the artist's sections of that type do that
role's (``FormStats.theme_parts``), in the bars of its phrases where most of those sound it
(``FormStats.theme_bars``), its other parts written anew on the theme's chords; the rest are
written freely.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from project_ingest.form import SOUNDING_SHARE, FormStats, theme_index
from template_engine.model.plan import SongPlan


@dataclass(frozen=True)
class SectionForm:
    """``restates``: the earlier section whose phrases this one plays again; ``harmony_from``: the
    section whose progression this one is written over, ``plays`` the roles whose tracks it plays
    as they are there, and ``rests`` the (role, part, bar of the phrase) where it leaves such a
    track out; all unset for a freely written one."""

    restates: int | None = None
    harmony_from: int | None = None
    plays: tuple[str, ...] = ()
    rests: tuple[tuple[str, str, int], ...] = ()


def plan_form(plan: SongPlan, stats: FormStats, rng: np.random.Generator) -> list[SectionForm]:
    """The form of each section of ``plan``; a restating section takes its source's roles."""
    theme = theme_index(plan.sections, [set(rs) for rs in plan.roles])
    forms: list[SectionForm] = []
    last_of_kind: dict[str, int] = {}
    for i, s in enumerate(plan.sections):
        earlier = last_of_kind.get(s.kind)
        if i != theme and earlier is not None and rng.random() < stats.restate.get(s.kind, 0.0):
            forms.append(SectionForm(restates=earlier))
            plan.roles[i] = list(plan.roles[earlier])
        elif i != theme and rng.random() < stats.shared_harmony.get(s.kind, 0.0):
            shares = stats.theme_parts.get(s.kind, {})
            plays = tuple(r for r in plan.roles[i] if rng.random() < shares.get(r, 0.0))
            bars = stats.theme_bars.get(s.kind, {})
            rests = tuple((r, part, j) for r in plays for part, sounding in sorted(bars.get(r, {}).items())
                          for j, share in enumerate(sounding) if share < SOUNDING_SHARE)
            forms.append(SectionForm(harmony_from=theme, plays=plays, rests=rests))
        else:
            forms.append(SectionForm())
        last_of_kind[s.kind] = i
    return forms


def source_of(forms: list[SectionForm], i: int) -> int:
    """The section whose phrases section ``i`` plays: itself, or what it restates, followed back."""
    while forms[i].restates is not None:
        i = forms[i].restates
    return i
