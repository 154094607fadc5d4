"""Transition hits: an artist's fx at section boundaries are learned and placed by the plan, once
per section, not written into every phrase (where a phrase's repeats would repeat them)."""

from project_ingest.corpus import load_corpus
from project_ingest.score import BeatNote, Key, Score, Section
from template_engine.model.decoder import load_decoder
from template_engine.model.generate import generate_songs
from template_engine.model.transitions import TransitionHit, learn_transitions, place_transitions


def _song(fx: list[BeatNote]) -> Score:
    sections = [Section("intro", 0, 8, 0.3), Section("build", 8, 8, 0.6), Section("drop", 16, 16, 1.0)]
    lead = [BeatNote(b * 4.0, 1.0, 72, 90) for b in range(32)]
    return Score(126.0, Key(9, "minor"), sections, {"lead": lead, "fx": fx})


def test_hits_at_the_boundaries_are_learned_and_a_melodic_fx_part_is_not():
    impacts_and_risers = [BeatNote(56.0, 8.0, 60, 100), BeatNote(64.0, 1.0, 48, 110)]
    corpus = [("a", _song(impacts_and_risers)), ("b", _song(impacts_and_risers[1:]))]
    hits = learn_transitions(corpus, "fx")
    assert hits == [TransitionHit("build", "end", 8.0, 8.0, 60, 100), TransitionHit("drop", "start", 0.0, 1.0, 48, 110)]
    melodic = [BeatNote(64.0 + 2 * i, 1.0, 60 + i % 5, 90) for i in range(24)]
    assert learn_transitions([("a", _song(melodic)), ("b", _song(melodic))], "fx") is None


def test_hits_are_placed_once_in_each_section_that_plays_the_role():
    hits = [TransitionHit("build", "end", 8.0, 8.0, 60, 100), TransitionHit("drop", "start", 0.0, 1.0, 48, 110)]
    sections = [Section("build", 0, 8, 0.6), Section("drop", 8, 16, 1.0), Section("build", 24, 4, 0.6),
                Section("drop", 28, 8, 1.0)]
    placed = place_transitions(sections, [["fx"], ["fx"], ["fx"], ["lead"]], {"fx": hits})
    assert [(n.start, n.pitch, n.duration) for n in placed["fx"]] == [(24.0, 60, 8.0), (32.0, 48, 1.0), (104.0, 60, 8.0)]
    restating = place_transitions(sections, [["fx"], ["fx"], ["fx"], ["lead"]], {"fx": hits}, sources=[0, 1, 2, 1])
    assert (112.0, 48) in [(n.start, n.pitch) for n in restating["fx"]]  # the last drop restates the first


def test_generated_songs_play_the_artists_fx_hits_and_no_others(trained_bundle):
    corpus = load_corpus(trained_bundle.path)
    hits = learn_transitions(corpus, "fx")
    assert hits, "the tiny artist's fx are impacts and risers at the boundaries"
    model, tok = load_decoder(trained_bundle)
    batch = generate_songs(model, tok, corpus, count=2, seed=3, bpm=None, key=None, bars=32)
    for song in batch.songs:
        fx = song.score.tracks.get("fx", [])
        per_section = [[n for n in fx if s.start_bar * 4 <= n.start < s.end_bar * 4] for s in song.score.sections]
        assert all(len(notes) <= len(hits) for notes in per_section)
        assert {(n.pitch, n.duration) for n in fx} <= {(h.pitch, h.duration) for h in hits}
