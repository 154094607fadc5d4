"""The copy guard over whole songs: a line of the artist's lifted in order across a phrase boundary is
found where ``template evaluate`` finds it, traced to the phrase that plays it, and written again."""

import pytest

from project_ingest.score import BeatNote, Key, Score, Section
from template_engine.evaluate.bar_novelty import bar_patterns, in_order_runs
from template_engine.model.copy_runs import artist_bars, copied_runs, phrase_at
from template_engine.model.decoder import load_decoder
from template_engine.model.form_plan import SectionForm
from template_engine.model.generate import PhraseWriter, _SongSketch, assemble, break_copied_runs
from template_engine.model.phrases import SamplingSettings
from template_engine.model.plan import SongPlan
from template_engine.model.tokens import Phrase


def _artist_bar(bar: int, at: int, shift: int = 0) -> list[BeatNote]:
    """Bar ``bar`` of the artist's chords, played at song bar ``at``: two notes ``bar + 1`` semitones
    apart, so every bar of the artist's line differs from the others."""
    return [BeatNote(at * 4.0, 2.0, 60 + shift, 90), BeatNote(at * 4.0 + 2, 2.0, 61 + bar + shift, 90)]


def _song(bars: list[tuple[int, int]], length: int) -> Score:
    """A song of ``length`` bars whose chords play the artist's bars as (artist bar, transposition)
    from bar 2 on."""
    notes = [n for at, (bar, shift) in enumerate(bars, start=2) for n in _artist_bar(bar, at, shift)]
    return Score(128, Key(0, "minor"), [Section("drop", 0, length, 1.0)], {"chords": notes}, names={"chords": "chords"})


ARTIST = [("artist", _song([(b, 0) for b in range(16)], 18))]


def test_a_line_lifted_across_phrases_is_found_where_its_run_reaches_a_phrase():
    artist = artist_bars(ARTIST)
    lifted = _song([(5, 3), (6, 3), (7, 3), (8, 3), (9, 3)], 12)  # five bars in order, moved up 3
    assert copied_runs(lifted, artist) == [("chords", 5)]
    runs = in_order_runs(bar_patterns("chords", lifted.tracks["chords"], 12), artist["chords"])
    assert max(runs) == 5
    patchwork = _song([(5, 3), (6, 3), (1, 3), (2, 3), (9, 3), (10, 3)], 12)  # borrowed bars, never four in order
    moved = _song([(5, 3), (6, 3), (7, 5), (8, 5)], 12)  # in order, but not under one transposition
    assert copied_runs(patchwork, artist) == copied_runs(moved, artist) == []


def test_each_bar_is_traced_to_the_phrase_assemble_plays_there():
    sections = [Section("intro", 0, 8, 0.2), Section("drop", 8, 8, 1.0), Section("breakdown", 16, 6, 0.3),
                Section("drop", 22, 8, 1.0), Section("outro", 30, 4, 0.2)]
    forms = [SectionForm(), SectionForm(), SectionForm(), SectionForm(restates=1), SectionForm()]
    keys = [(0, "main"), (0, "end"), (1, "main"), (1, "end"), (2, "main"), (2, "end"), (4, "end")]
    parts = {key: {"lead": [BeatNote(b * 4.0, 1.0, 40 + k, 90) for b in range(4)]} for k, key in enumerate(keys)}
    plan = SongPlan(sections, [["lead"]] * len(sections))
    score = assemble(plan, parts, forms, 128, Key(0, "minor"), {})
    played = {int(n.start // 4): keys[n.pitch - 40] for n in score.tracks["lead"]}
    assert len(played) == 34
    assert all(phrase_at(plan, forms, set(parts), bar) == key for bar, key in played.items())


@pytest.mark.parametrize("played", [False, True])
def test_the_phrase_that_completes_a_lifted_run_is_written_again(trained_bundle, played):
    """The breakdown's end plays two of the artist's bars and the build's first phrase, written over
    the progression (or playing the theme's part as it is), the next two: the build's phrase is
    written again, its part anew, and the song no longer lifts the line; a song that lifts nothing
    is left as it is."""
    model, tok = load_decoder(trained_bundle)
    writer = PhraseWriter(model, tok, {}, set(), artist_bars(ARTIST), 1.0, SamplingSettings(temperature=1.5))
    plan = SongPlan([Section("breakdown", 0, 4, 0.3), Section("build", 4, 4, 0.6)], [["chords"], ["chords"]])
    forms = [SectionForm(), SectionForm(harmony_from=0)]
    sketch = _SongSketch(plan, forms, Key(0, "minor"), 128.0, [])
    for second, lifted in ((7, True), (12, False)):
        build = _artist_bar(6, 0) + _artist_bar(second, 1)
        over = {(0, 1, "end"): Phrase("build", 0.6, "end", 0, "minor", {"chords": build if played else []})}
        parts = {(0, "end"): {"chords": _artist_bar(4, 2) + _artist_bar(5, 3)}, (1, "end"): {"chords": build}}
        before = dict(parts[(1, "end")])
        rewritten, _ = break_copied_runs(writer, [sketch], [parts], over, {}, seed=0)
        assert (rewritten != []) == lifted
        assert (parts[(1, "end")] != before) == lifted
        assert copied_runs(assemble(plan, parts, forms, 128.0, Key(0, "minor"), {}), writer.bars) == []
