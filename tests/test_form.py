"""Song form: the measures see a song bring its ideas back, the artist's habits are learned, and a
generated song restates and builds on its theme as its form says."""

import numpy as np

from project_ingest.corpus import load_corpus
from project_ingest.form import HARMONIC_ROLES, FormStats, form_measures, learn_form
from project_ingest.score import BeatNote, Key, Score, Section
from template_engine.model.decoder import load_decoder
from template_engine.model.generate import generate_songs
from template_engine.model.transitions import PLACED_ROLES, learn_transitions

PROGRESSION = [(57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62)]  # Am F C G, one chord a bar


def song(lead_bars: list[int], *, sections: list[Section] | None = None) -> Score:
    """Chords changing every bar (the progression, looped) and a lead whose bar b plays motif
    ``lead_bars[b]``; bars are 4 beats."""
    bars = len(lead_bars)
    chords = [BeatNote(4 * b, 4, p, 90) for b in range(bars) for p in PROGRESSION[b % 4]]
    lead = [BeatNote(4 * b + k, 1, 50 + 2 * motif + k, 100) for b, motif in enumerate(lead_bars) for k in range(4)]
    return Score(128.0, Key(9, "minor"), sections or [Section("drop", 0, bars, 1.0)], {"chords": chords, "lead": lead})


def bars_of(notes: list[BeatNote], first_bar: int, bars: int) -> list[tuple[float, int]]:
    """(beat from ``first_bar``, pitch) of the notes starting within ``bars`` bars of it."""
    return [(n.start - first_bar * 4, n.pitch) for n in notes if first_bar * 4 <= n.start < (first_bar + bars) * 4]


def test_a_looped_song_recurs_and_a_through_composed_one_does_not():
    looped = form_measures(song([0, 1, 2, 3] * 4))
    assert looped.exact_recurrence == 1.0 and looped.harmony_recurrence == 1.0
    assert looped.distinct_harmonies_per_16 <= 4 * 16 / 16 + 1e-9
    through = form_measures(song(list(range(16))))
    assert through.exact_recurrence == 0.5  # the chords recur, the lead never does
    assert through.harmony_recurrence < looped.harmony_recurrence
    assert through.distinct_harmonies_per_16 > 2 * looped.distinct_harmonies_per_16


def test_the_artists_restated_drops_are_learned():
    sections = [Section("intro", 0, 8, 0.3), Section("drop", 8, 8, 1.0), Section("breakdown", 16, 8, 0.4),
                Section("drop", 24, 8, 1.0)]
    motifs = [10, 11, 12, 13, 14, 15, 16, 17] + [0, 1, 2, 3] * 2 + [20, 21, 22, 23, 24, 25, 26, 27] + [0, 1, 2, 3] * 2
    form = learn_form([song(motifs, sections=sections)])
    assert form.restate == {"drop": 1.0}
    assert form.shared_harmony["drop"] == 1.0 and form.songs[0]["exact_recurrence"] > 0.5


def test_which_of_the_themes_parts_a_section_plays_as_they_are_is_learned():
    """A breakdown that plays the drop's lead but holds the chords the drop stabs."""
    sections = [Section("drop", 0, 8, 1.0), Section("breakdown", 8, 8, 0.4)]
    held = song([0, 1, 2, 3] * 4, sections=sections)
    stabs = [BeatNote(4 * b + k, 1, n.pitch, 90) for n in held.tracks["chords"] if n.start < 32
             for b in [int(n.start // 4)] for k in range(4)]
    held.tracks["chords"] = stabs + [n for n in held.tracks["chords"] if n.start >= 32]
    form = learn_form([held])
    assert form.theme_parts == {"breakdown": {"chords": 0.0, "lead": 1.0}}
    assert form.shared_harmony["breakdown"] == 1.0


def test_the_bars_in_which_a_section_plays_the_themes_part_are_learned():
    """A breakdown that plays the drop's lead every other bar, and a build that brings it in for
    its last phrase only."""
    sections = [Section("drop", 0, 8, 1.0), Section("breakdown", 8, 8, 0.4), Section("build", 16, 8, 0.6)]
    sparse = song([0, 1, 2, 3] * 6, sections=sections)
    sparse.tracks["lead"] = [n for n in sparse.tracks["lead"]
                             if n.start < 32 or (n.start < 64 and int(n.start // 4) % 2 == 0) or n.start >= 80]
    form = learn_form([sparse])
    assert form.theme_parts["breakdown"]["lead"] == form.theme_parts["build"]["lead"] == 1.0
    assert form.theme_bars["breakdown"]["lead"] == {"main": [1.0, 0.0, 1.0, 0.0], "end": [1.0, 0.0, 1.0, 0.0]}
    assert form.theme_bars["build"]["lead"] == {"main": [0.0] * 4, "end": [1.0] * 4}
    assert FormStats.from_dict(form.to_dict()) == form


def test_generated_songs_restate_and_play_over_their_theme_as_planned(trained_bundle):
    model, tok = load_decoder(trained_bundle)
    corpus = load_corpus(trained_bundle.path)
    kinds = ("intro", "build", "drop", "breakdown", "bridge", "outro")
    always = FormStats(restate={k: 1.0 for k in kinds}, shared_harmony={k: 1.0 for k in kinds},
                       theme_parts={k: {r: 1.0 for r in HARMONIC_ROLES} for k in kinds})
    batch = generate_songs(model, tok, corpus, count=3, seed=2, bpm=128, key=Key(9, "minor"), bars=64, form=always)
    placed = {role for role in PLACED_ROLES if learn_transitions(corpus, role) is not None}
    checked = 0
    for generated in batch.songs:
        score, forms = generated.score, generated.form
        for i, f in enumerate(forms):
            s = score.sections[i]
            if f.restates is not None:
                src = score.sections[f.restates]
                pairs = [(s.end_bar - 4, src.end_bar - 4)] + ([(s.start_bar, src.start_bar)] if min(s.bars, src.bars) > 4 else [])
                for role, notes in score.tracks.items():
                    if role in placed:  # transition hits sit at the section's own boundaries (test_transitions)
                        continue
                    for mine, theirs in pairs:  # the same end phrase, and the same main phrase
                        assert bars_of(notes, mine, 4) == bars_of(notes, theirs, 4), (role, i)
                checked += 1
            elif f.harmony_from is not None:  # the section's first phrase against the theme's of the same part
                theme = score.sections[f.harmony_from]
                for role in set(f.plays) & set(score.tracks):
                    theme_bar = theme.start_bar if s.bars > 4 and theme.bars > 4 else theme.end_bar - 4
                    mine, theirs = bars_of(score.tracks[role], s.start_bar, 4), bars_of(score.tracks[role], theme_bar, 4)
                    if mine and theirs:  # a role the theme lacks is written over the others
                        assert mine == theirs, (role, i)
                checked += 1
    assert checked >= 3
    assert np.mean([form_measures(g.score).exact_recurrence for g in batch.songs]) > 0.5


def _chord_of_bar(notes: list[BeatNote], bar: int) -> frozenset[int]:
    """Pitch classes of the notes sounding in ``bar`` (4 beats)."""
    return frozenset(n.pitch % 12 for n in notes if n.start < (bar + 1) * 4 and n.start + n.duration > bar * 4)


def test_chords_that_change_every_bar_are_followed_bar_by_bar(trained_bundle):
    """The tiny corpus changes chord every bar; a song planned to share its theme's progression (and
    to play none of its tracks as they are) plays chords on the theme's chord in every bar of each
    section that shares it, and those change too."""
    corpus = load_corpus(trained_bundle.path)
    for _, score in corpus:
        chords = [_chord_of_bar(score.tracks["chords"], b) for b in range(score.bars)]
        sounding = [(a, b) for a, b in zip(chords, chords[1:]) if a and b]
        assert np.mean([a != b for a, b in sounding]) > 0.7
    model, tok = load_decoder(trained_bundle)
    always = FormStats(shared_harmony={k: 1.0 for k in ("intro", "build", "drop", "breakdown", "bridge", "outro")})
    batch = generate_songs(model, tok, corpus, count=3, seed=4, bpm=126, key=Key(2, "minor"), bars=48, form=always)
    followed = 0
    for generated in batch.songs:
        chords = generated.score.tracks.get("chords", [])
        for i, f in enumerate(generated.form):
            if f.harmony_from is None or f.restates is not None or not chords:
                continue
            s, theme = generated.score.sections[i], generated.score.sections[f.harmony_from]
            theme_start = theme.start_bar if s.bars > 4 and theme.bars > 4 else theme.end_bar - 4
            mine = [frozenset(n.pitch % 12 for n in chords if int(n.start // 4) == s.start_bar + b) for b in range(4)]
            planned = [_chord_of_bar(chords, theme_start + b) for b in range(4)]
            if all(planned) and any(mine):  # chords written anew start on the theme's, bar by bar
                assert all(m <= p for m, p in zip(mine, planned)), (i, mine, planned)
                assert len(set(planned)) >= 2
                followed += 1
    assert followed >= 2
