"""The copy guard over whole songs: a line of the artist's lifted in order across a phrase boundary
(the last bars of a breakdown and the first of the build after it) is as much a copy as a phrase
lifted whole, and only shows once the song is put together. Measured as ``template evaluate``
measures it (``bar_novelty.in_order_runs``)."""

from __future__ import annotations

from project_ingest.form import phrase_bars
from project_ingest.score import Score
from sample_library.roles import PITCHED_ROLES
from template_engine.evaluate.bar_novelty import BarTrack, bar_patterns, in_order_runs
from template_engine.model.form_plan import SectionForm, source_of
from template_engine.model.plan import SongPlan
from template_engine.model.tokens import PHRASE_BARS

PhraseKey = tuple[int, str]  # (section index, part) of the phrase a bar is played from


def artist_bars(corpus: list[tuple[str, Score]]) -> dict[str, list[BarTrack]]:
    """Per pitched role, the bars of each of the artist's songs that play it."""
    return {role: [bar_patterns(role, s.tracks[role], s.bars) for _, s in corpus if role in s.tracks]
            for role in PITCHED_ROLES}


def copied_runs(score: Score, artist: dict[str, list[BarTrack]]) -> list[tuple[str, int]]:
    """(role, bar) for each pitched track of ``score`` and each bar where a run of its bars copied in
    order from one of the artist's songs reaches ``PHRASE_BARS`` bars."""
    out = []
    for role, notes in score.tracks.items():
        if role in PITCHED_ROLES and artist.get(role):
            runs = in_order_runs(bar_patterns(role, notes, score.bars), artist[role])
            out += [(role, bar) for bar, length in enumerate(runs) if length == PHRASE_BARS]
    return out


def phrase_at(plan: SongPlan, forms: list[SectionForm], parts: set[PhraseKey], bar: int) -> PhraseKey | None:
    """The phrase (among ``parts``) that song bar ``bar`` is played from, as ``generate.assemble``
    lays the phrases out (``phrase_bars``): a section's blocks of ``PHRASE_BARS`` play its source's
    main phrase, the last its end phrase (the end phrase alone where the source has no main one)."""
    for i, s in enumerate(plan.sections):
        if s.start_bar <= bar < s.end_bar:
            part, _ = phrase_bars(s)[bar - s.start_bar]
            source = source_of(forms, i)
            return next((k for k in ((source, part), (source, "end")) if k in parts), None)
    return None
