"""The evaluator's metrics on cases with a known answer: a copied song, a transposed copy, random notes."""

import numpy as np
import pytest

from project_ingest.score import BeatNote, Key, Score
from template_engine.demo.compose import compose_song
from template_engine.evaluate.bar_novelty import self_borrowing, song_novelty, summary
from template_engine.evaluate.style_metrics import overlapped_area, sanity, style_fit
from template_engine.model.dataset import transposed


@pytest.fixture(scope="module")
def artist() -> list[Score]:
    return [compose_song(seed) for seed in range(6)]


def _random_song(like: Score, seed: int = 0) -> Score:
    rng = np.random.default_rng(seed)
    tracks = {}
    for role, notes in like.tracks.items():
        tracks[role] = sorted((BeatNote(float(rng.integers(like.bars * 16)) / 4, float(rng.choice([0.25, 0.75, 1.5, 3])),
                                        int(rng.integers(30, 96)), int(rng.integers(20, 127))) for _ in notes),
                              key=lambda n: n.start)
    return Score(like.bpm, like.key, like.sections, tracks, names={r: r for r in tracks})


def test_a_copied_song_has_copy_rate_one_and_a_long_copied_run(artist):
    copy = artist[2]
    figures = summary(song_novelty(copy, artist))
    busiest = max(len({int(n.start // 4) for n in notes}) for notes in copy.tracks.values())
    assert figures["copied_share"] == 1.0
    assert figures["longest_in_order"] == figures["longest_copied_run"] == busiest


def test_a_transposed_training_song_is_caught(artist):
    song = artist[1]
    moved = Score(song.bpm, Key((song.key.tonic + 5) % 12, song.key.mode), song.sections,
                  transposed(song.tracks, 5), names=song.names)
    tracks = song_novelty(moved, artist)
    for role in ("lead", "chords", "bass", "arp"):
        if role in tracks:
            assert tracks[role].copied_share == 1.0, role
    pitched_busiest = max(len({int(n.start // 4) for n in song.tracks[r]}) for r in ("lead", "chords", "bass", "arp")
                          if r in song.tracks)
    assert summary(tracks)["pitched_longest_in_order"] >= pitched_busiest


def test_the_artists_fx_hits_and_drums_are_not_a_copied_line(artist):
    song = artist[3]
    kept = {r: ns for r, ns in song.tracks.items() if r in ("kick", "hats", "fx")}
    figures = summary(song_novelty(Score(song.bpm, song.key, song.sections, kept, names=song.names), artist))
    assert figures["longest_in_order"] >= 4 and figures["pitched_longest_in_order"] == 0


def test_a_new_song_copies_less_than_a_copy(artist):
    fresh = summary(song_novelty(_random_song(artist[0]), artist))
    assert fresh["copied_share"] < 0.2 and fresh["longest_in_order"] <= 2
    assert self_borrowing(artist)["copied_share"] < 1.0


def test_random_notes_score_far_from_the_artist(artist):
    def mean_fit(song):
        fit = style_fit([song], artist[:5])
        return np.mean([v["overlap"] for v in fit.values()])
    in_style, random = mean_fit(compose_song(99)), mean_fit(_random_song(artist[0]))
    assert in_style > random + 0.3
    assert sanity(_random_song(artist[0]))["scale_consistency"] < sanity(compose_song(99))["scale_consistency"] - 0.2


def test_overlapped_area_of_identical_and_disjoint_sets():
    same = overlapped_area([1.0, 1.2, 0.9, 1.1], [1.0, 1.2, 0.9, 1.1])
    apart = overlapped_area([1.0, 1.2, 0.9, 1.1], [10.0, 10.2, 9.9, 10.1])
    assert same > 0.95 and apart < 0.01


def test_the_same_rhythm_over_another_progression_is_not_a_copied_line(artist):
    """Every bar of the bass is the artist's (its rhythm and shape), but each bar moved by another
    interval: the bars are copied, the line is not."""
    song = artist[3]
    moves = (-3, 4, -1, 2, 5)
    bass = [BeatNote(n.start, n.duration, n.pitch + moves[int(n.start // 4) % len(moves)], n.velocity)
            for n in song.tracks["bass"]]
    moved = Score(song.bpm, song.key, song.sections, {"bass": bass}, names={"bass": "bass"})
    tracks = song_novelty(moved, artist)
    assert tracks["bass"].copied_share == 1.0 and tracks["bass"].longest_in_order <= 3
    assert song_novelty(Score(song.bpm, song.key, song.sections, {"bass": song.tracks["bass"]}),
                        artist)["bass"].longest_in_order > 8


def test_the_copy_guard_knows_a_lifted_line_wherever_it_sat_and_at_any_transposition(artist):
    """A four-bar bass line cut from the middle of a section of the artist's song, transposed, is a
    lifted line; the same rhythm with its bars moved apart is not."""
    from template_engine.model.copy_guard import copied_lines, line_catalogue
    from template_engine.model.tokens import phrase_slice

    lines = line_catalogue([(f"song {i}", s) for i, s in enumerate(artist)])
    song = artist[4]
    lifted = [BeatNote(n.start, n.duration, n.pitch + 7, n.velocity) for n in phrase_slice(song.tracks["bass"], 6)]
    moved = [BeatNote(n.start, n.duration, n.pitch + (-3, 4, -1, 2)[int(n.start // 4)], n.velocity) for n in lifted]
    assert copied_lines([{"bass": lifted}, {"bass": moved}], lines) == [True, False]
