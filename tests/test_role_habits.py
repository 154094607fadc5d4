"""The artist's habits per role hold what the sampler may write: onsets, pitches, note lengths and
the chord tones of the parts the artist keeps on the chords."""

from dataclasses import replace

import numpy as np
import pytest

from project_ingest.corpus import load_corpus
from project_ingest.form import bar_tones
from project_ingest.score import BeatNote, Key, Score, Section, step_in_bar
from sample_library.roles import ROLES
from template_engine.model.chord_tones import PieceTones, chord_roles
from template_engine.model.dataset import song_phrases
from template_engine.model.decoder import load_decoder
from template_engine.model.generate import PhraseWriter, follow_chords, over_progression
from template_engine.model.phrases import PhraseJob, SamplingSettings, write_phrases
from template_engine.model.role_habits import UNKNOWN_PHRASE_NOTES, Habits, artist_phrases, learn_habits, role_tokens
from template_engine.model.tokens import Phrase, advance, allowed_mask, start_state


def _song(tonic: int, pad_root: int) -> Score:
    """16 bars: a pad held a bar from each downbeat, a bass on the eighths, a kick on the beats."""
    pad = [BeatNote(b * 4.0, 4.0, pad_root + i, 90) for b in range(16) for i in (0, 3, 7)]
    bass = [BeatNote(b * 4.0 + k * 0.5, 0.5, 36 + tonic, 100) for b in range(16) for k in range(8)]
    kick = [BeatNote(b * 4.0 + k, 0.25, 36, 110) for b in range(16) for k in range(4)]
    tracks = {"pad": pad, "bass": bass, "kick": kick}
    return Score(128, Key(tonic, "minor"), [Section("drop", 0, 16, 1.0)], tracks, names={r: r for r in tracks})


def _uniform_track(tok, role: str, allowed: np.ndarray, rng: np.random.Generator) -> list[BeatNote]:
    """A track drawn uniformly among the tokens the grammar and ``allowed`` (vocab,) let through."""
    state, ids = start_state(role), []
    for _ in range(80):
        mask = allowed_mask(tok, [state])[0] & allowed
        choice = int(rng.choice(np.nonzero(mask)[0]))
        if choice == tok.track_end:
            break
        ids.append(choice)
        state = advance(tok, state, choice)
    return tok.decode_track(ids)


def test_habits_are_counted_in_c_from_the_artists_phrases():
    habits = learn_habits(artist_phrases([_song(0, 60), _song(2, 62)]))
    assert set(habits["pad"].positions) == {0} and set(habits["pad"].lengths) == {4.0}
    assert sorted(set(habits["pad"].pitches)) == [60, 63, 67]  # D minor moved down to C
    assert set(habits["kick"].positions) == {0, 4, 8, 12}


def test_a_track_drawn_under_the_habits_keeps_them(trained_bundle):
    """Anything the grammar allows, drawn at random, still starts, lasts and sits where the artist's
    notes do; without the habits the same draw leaves them (so the check can fail)."""
    _, tok = load_decoder(trained_bundle)
    habits = role_tokens(tok, learn_habits(artist_phrases([_song(0, 60)])))
    rng = np.random.default_rng(0)
    for role, positions, lengths, pitches in (("pad", {0}, {4.0}, (60, 67)), ("bass", set(range(0, 16, 2)), {0.5}, (36, 36)),
                                              ("kick", {0, 4, 8, 12}, None, None)):
        free, kept = [], []
        for _ in range(12):
            free += _uniform_track(tok, role, np.ones(tok.vocab_size, dtype=bool), rng)
            kept += _uniform_track(tok, role, habits[ROLES.index(role)], rng)
        assert kept and {step_in_bar(n.start) for n in kept} <= positions, role
        assert not {step_in_bar(n.start) for n in free} <= positions, role
        if lengths is not None and pitches is not None:
            assert {n.duration for n in kept} <= lengths, role
            assert all(pitches[0] <= n.pitch <= pitches[1] for n in kept), role


def _arp_song() -> Score:
    """A build of 8 bars with the arp in eighths, then a drop of 8 with it in sixteenths."""
    build = [BeatNote(b * 4.0 + k * 0.5, 0.5, 60 + 4 * (k % 3), 90) for b in range(8) for k in range(8)]
    drop = [BeatNote(32 + b * 4.0 + k * 0.25, 0.25, 60 + 4 * (k % 3), 90) for b in range(8) for k in range(16)]
    return Score(128, Key(0, "minor"), [Section("build", 0, 8, 0.6), Section("drop", 8, 8, 1.0)], {"arp": build + drop},
                 names={"arp": "arp"})


def test_a_section_type_keeps_its_own_habit_for_a_role(trained_bundle):
    """The arp the artist plays in eighths in builds comes out in eighths in a build, while the drop,
    where it plays sixteenths, and the role's habit over all sections let sixteenths through."""
    _, tok = load_decoder(trained_bundle)
    habits, arp, rng = Habits.learn(tok, [_arp_song()]), ROLES.index("arp"), np.random.default_rng(2)
    drawn = {}
    for name, row in (("build", habits.section_tokens["build"][arp]), ("drop", habits.section_tokens["drop"][arp]),
                      ("any", habits.role_tokens[arp])):
        drawn[name] = [n for _ in range(12) for n in _uniform_track(tok, "arp", row, rng)]
    assert drawn["build"] and {n.duration for n in drawn["build"]} == {0.5}
    assert {step_in_bar(n.start) for n in drawn["build"]} <= set(range(0, 16, 2))
    assert 0.25 in {n.duration for n in drawn["drop"]} and 0.25 in {n.duration for n in drawn["any"]}


def test_generation_writes_with_the_artists_habits(trained_bundle):
    """A pad the artist holds from the downbeat comes out held from the downbeat, in its register."""
    model, tok = load_decoder(trained_bundle)
    songs = [s for _, s in load_corpus(trained_bundle.path)]
    habits = learn_habits(artist_phrases(songs))
    role = max((r for r in ("pad", "chords", "bass") if r in habits), key=lambda r: len(habits[r].pitches))
    phrase = Phrase("drop", 1.0, "main", 0, "minor", {role: []})
    sampling = SamplingSettings(temperature=2.0, habits=Habits.learn(tok, songs))
    written, _ = write_phrases(model, tok, [phrase] * 4, seed=3, sampling=sampling)
    notes = [n for w in written for n in w.get(role, [])]
    habit = habits[role]
    assert notes
    assert {step_in_bar(n.start) for n in notes} <= habit.common(habit.positions)
    assert all(min(habit.pitches) <= n.pitch <= max(habit.pitches) for n in notes)


def _chord_song(lead_off: bool) -> Score:
    """16 bars of C - F - G - Am: chords on the downbeats, a pad on their tones, a lead on or off them."""
    roots = [60, 65, 67, 69]
    triads = [[r, r + (3 if r == 69 else 4), r + 7] for r in roots]
    chords = [BeatNote(b * 4.0, 2.0, p, 90) for b in range(16) for p in triads[b % 4]]
    pad = [BeatNote(b * 4.0, 4.0, p - 12, 80) for b in range(16) for p in triads[b % 4]]
    lead = [BeatNote(b * 4.0 + 1, 1.0, triads[b % 4][0] + (2 if lead_off else 0), 100) for b in range(16)]
    tracks = {"chords": chords, "pad": pad, "lead": lead}
    return Score(128, Key(0, "major"), [Section("drop", 0, 16, 1.0)], tracks, names={r: r for r in tracks})


def test_roles_kept_on_the_chords_are_learned():
    assert chord_roles(song_phrases(_chord_song(lead_off=True))) == {"pad"}
    assert chord_roles(song_phrases(_chord_song(lead_off=False))) == {"pad", "lead"}


def test_a_part_on_the_chords_plays_only_chord_tones(trained_bundle):
    """Drawn at random under the chords of each bar, every note is a tone of its bar's chord; drawn
    without them, some are not."""
    _, tok = load_decoder(trained_bundle)
    chords = bar_tones(_chord_song(False).tracks["chords"][:12], 4)
    tones, rng = PieceTones.of(tok), np.random.default_rng(1)
    kept, free = [], []
    for _ in range(12):
        for out, on in ((kept, True), (free, False)):
            state, ids = start_state("pad"), []
            for _ in range(60):
                mask = allowed_mask(tok, [state])[0]
                if on:
                    mask &= tones.on_chords(state.bars, chords)
                choice = int(rng.choice(np.nonzero(mask)[0]))
                if choice == tok.track_end:
                    break
                ids.append(choice)
                state = advance(tok, state, choice)
            out += tok.decode_track(ids)
    def off(notes):
        return [n for n in notes if not chords[int(n.start // 4)] >> (n.pitch % 12) & 1]
    assert kept and not off(kept)
    assert off(free)


@pytest.mark.parametrize("role,heard", [("pad", "track"), ("pad", "harmony"), ("chords", "harmony")])
def test_a_written_part_follows_the_chords_it_hears(trained_bundle, role, heard):
    """With the chords as a track of its phrase, or as the harmony of a phrase without chords of its
    own (a breakdown over the drop's progression), a pad kept on the chords plays their tones; so
    do the chords a section writes anew over another's progression."""
    model, tok = load_decoder(trained_bundle)
    song = _chord_song(False)
    chord_notes = song.tracks["chords"][:12]
    if heard == "track":
        phrase = Phrase("drop", 1.0, "main", 0, "major", {"chords": chord_notes, role: []})
    else:
        phrase = Phrase("breakdown", 0.3, "main", 0, "major", {role: []}, harmony=chord_notes)
    habits = Habits.learn(tok, [song])
    written, _ = write_phrases(model, tok, [phrase] * 4, seed=5, sampling=SamplingSettings(temperature=2.0, habits=habits))
    chords = bar_tones(chord_notes, 4)
    notes = [n for w in written for n in w.get(role, [])]
    assert notes and all(chords[int(n.start // 4)] >> (n.pitch % 12) & 1 for n in notes)


def test_a_bass_written_before_the_chords_is_written_again_on_them(trained_bundle):
    """The bass comes before the chords in the role order, so it is written again over them: every
    note lands on a tone of its bar's chord, and the phrase keeps its other tracks."""
    model, tok = load_decoder(trained_bundle)
    song = _chord_song(False)
    song.tracks["bass"] = [BeatNote(b * 4.0 + k, 1.0, 36 + [0, 5, 7, 9][b % 4], 100) for b in range(16) for k in range(4)]
    habits = Habits.learn(tok, [song])
    assert "bass" in habits.chord_roles
    writer = PhraseWriter(model, tok, {}, set(), {}, 1.0, SamplingSettings(temperature=2.0, habits=habits))
    off = [BeatNote(k * 2.0, 1.0, 37 + k % 3, 100) for k in range(8)]
    first = {"bass": off, "chords": song.tracks["chords"][:12], "lead": song.tracks["lead"][:4]}
    written = [dict(first) for _ in range(3)]
    phrase = Phrase("drop", 1.0, "main", 0, "major", {r: [] for r in first})
    follow_chords(writer, [phrase] * 3, written, seed=2)
    chords = bar_tones(song.tracks["chords"][:12], 4)
    for w in written:
        assert w["bass"] != off and w["chords"] == first["chords"] and w["lead"] == first["lead"]
        assert all(chords[int(n.start // 4)] >> (n.pitch % 12) & 1 for n in w["bass"])


def test_a_section_over_the_theme_plays_the_parts_its_form_names_and_keeps_the_rest_on_its_chords():
    chords = _chord_song(False).tracks["chords"][:12]
    source = {"chords": chords, "pad": [BeatNote(0.0, 4.0, 48, 80)], "lead": [BeatNote(1.0, 1.0, 72, 100)]}
    job = PhraseJob(3, "main", Phrase("breakdown", 0.3, "main", 0, "major", {"chords": [], "pad": [], "lead": []}))
    phrase = over_progression(job, source, ("lead",))
    assert phrase.harmony == chords
    assert phrase.tracks == {"chords": [], "pad": [], "lead": source["lead"]}
    playing = over_progression(job, source, ("chords", "pad"))
    assert playing.harmony == [] and playing.tracks == {"chords": chords, "pad": source["pad"], "lead": []}


def test_a_section_over_the_theme_leaves_its_part_out_in_the_bars_its_form_rests():
    source = {"lead": [BeatNote(b * 4.0 + 1, 1.0, 72 + b, 100) for b in range(4)], "pad": [BeatNote(0.0, 4.0, 48, 80)]}
    job = PhraseJob(3, "main", Phrase("breakdown", 0.3, "main", 0, "major", {"pad": [], "lead": []}))
    every_other = over_progression(job, source, ("lead",), (("lead", "main", 1), ("lead", "main", 3), ("lead", "end", 0)))
    assert every_other.tracks["lead"] == [source["lead"][0], source["lead"][2]]
    resting = over_progression(job, source, ("lead",), tuple(("lead", "main", j) for j in range(4)))
    assert resting.tracks == {"pad": []}


def _two_octaves_song(root: int) -> Score:
    """A C major song whose pad holds a triad on ``root`` every bar."""
    pad = [BeatNote(b * 4.0, 4.0, root + i, 90) for b in range(16) for i in (0, 4, 7)]
    return Score(128, Key(0, "major"), [Section("drop", 0, 16, 1.0)], {"pad": pad}, names={"pad": "pad"})


def test_a_part_keeps_within_the_artists_span_of_its_own_notes(trained_bundle):
    """The artist's pads sit an octave apart from song to song but span a fifth within a phrase: a
    pad written under the habits spans at most that, one written without the span roams the
    register."""
    model, tok = load_decoder(trained_bundle)
    songs = [_two_octaves_song(48), _two_octaves_song(72)]
    habits = Habits.learn(tok, songs)
    assert habits.spans[ROLES.index("pad")] == 7 and habits.spans[ROLES.index("kick")] == -1
    phrase = Phrase("drop", 1.0, "main", 0, "major", {"pad": []})

    def spans(h: Habits) -> list[int]:
        written, _ = write_phrases(model, tok, [phrase] * 6, seed=7, sampling=SamplingSettings(temperature=2.0, habits=h))
        return [max(n.pitch for n in w["pad"]) - min(n.pitch for n in w["pad"]) for w in written if w.get("pad")]

    kept, free = spans(habits), spans(replace(habits, spans=np.full(len(ROLES), -1)))
    assert kept and max(kept) <= 7
    assert max(free) > 7


def test_a_part_written_anew_over_the_theme_keeps_near_the_themes_register():
    source = {"chords": [BeatNote(0.0, 4.0, p, 90) for p in (60, 64, 67)], "kick": [BeatNote(0.0, 0.25, 36, 110)],
              "pad": [BeatNote(0.0, 4.0, 48, 80), BeatNote(0.0, 4.0, 55, 80)]}
    job = PhraseJob(2, "main", Phrase("breakdown", 0.3, "main", 0, "major", {"chords": [], "kick": [], "pad": []}))
    assert over_progression(job, source, ("pad",)).registers == {"chords": (60, 67)}
    assert over_progression(job, source, ()).registers == {"chords": (60, 67), "pad": (48, 55)}


def test_the_notes_a_phrase_holds_are_learned_per_section_type(trained_bundle):
    """The arp in eighths in the build's phrases (32 notes) and sixteenths in the drop's (64): a phrase
    to write expects each role's notes of its section type, their mean over the song in a section
    type the artist has none of, and a role the artist never plays its default; read back the same."""
    _, tok = load_decoder(trained_bundle)
    habits = Habits.learn(tok, [_arp_song()])
    assert habits.expected_notes("build", ["arp"]) == 32
    assert habits.expected_notes("drop", ["arp"]) == 64
    assert habits.expected_notes("breakdown", ["arp"]) == 48
    assert habits.expected_notes("drop", ["arp", "lead"]) == 64 + UNKNOWN_PHRASE_NOTES
    assert Habits.from_dict(tok, habits.to_dict()).phrase_notes == habits.phrase_notes
