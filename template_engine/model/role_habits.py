"""The artist's habits per role, as the tokens the sampler lets each role use.

A pad the artist always holds for a bar from its downbeat is not written in sixteenths off the beat,
and a lead the artist keeps within an octave does not leap three. From the artist's phrases moved to
C (as the model learns and writes them), each role may start notes only on the sixteenths of the bar
where at least ``MIN_SHARE`` of its notes start; a pitched role also only from the lowest to the
highest pitch the artist plays in it, with the note lengths (REMI duration tokens) of at least
``MIN_SHARE`` of its notes. Where the artist plays a role at least ``MIN_SECTION_NOTES`` times in one
section type, that section's own habit holds it there (an arp in eighths in builds and in sixteenths
in drops). Roles the artist never plays keep the whole vocabulary. Roles the artist keeps on the
chords (``chord_tones``) play only chord tones where their phrase has chords.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from project_ingest.score import BeatNote, Score, step_in_bar
from sample_library.roles import DRUM_ROLES, ROLES
from template_engine.model.chord_tones import CHORD_ROLE, PieceTones, chord_roles
from template_engine.model.dataset import key_shift, song_phrases
from template_engine.model.tokens import ArtistTokenizer, GrammarState, Phrase

MIN_SHARE = 0.01
MIN_SECTION_NOTES = 32
NOTE_SPACING = 16.0  # beats between the notes tokenised one after another, longer than any phrase's note
ANY_SECTION = ""  # ``phrase_notes``'s key for every section type together
UNKNOWN_PHRASE_NOTES = 16.0  # a role the artist never plays: a phrase of quarter notes


@dataclass
class RoleHabit:
    """What one role's notes look like in the artist's phrases: pitches (in C), lengths (beats) and
    onsets (sixteenths in the bar), counted, and each phrase's span (semitones from its lowest note
    to its highest)."""

    pitches: list[int] = field(default_factory=list)
    lengths: Counter[float] = field(default_factory=Counter)
    positions: Counter[int] = field(default_factory=Counter)
    spans: list[int] = field(default_factory=list)

    def add(self, notes: list[BeatNote], shift: int) -> None:
        """Count one phrase's track of the role (``shift``: semitones to C)."""
        self.pitches.extend(n.pitch + shift for n in notes)
        self.lengths.update(n.duration for n in notes)
        self.positions.update(step_in_bar(n.start) for n in notes)
        if notes:
            self.spans.append(max(n.pitch for n in notes) - min(n.pitch for n in notes))

    def common(self, counts: Counter) -> set:
        """The values of ``counts`` that make up at least ``MIN_SHARE`` of the notes."""
        return {value for value, count in counts.items() if count >= MIN_SHARE * len(self.pitches)}


def artist_phrases(songs: list[Score]) -> list[tuple[int, Phrase]]:
    """Every phrase of ``songs``, with the semitones that move its song to C."""
    return [(key_shift(song.key.tonic), ph) for song in songs for ph in song_phrases(song)]


def learn_habits(phrases: list[tuple[int, Phrase]]) -> dict[str, RoleHabit]:
    """Each role's habit over the artist's phrases (``artist_phrases``)."""
    habits: dict[str, RoleHabit] = {}
    for shift, ph in phrases:
        for role, notes in ph.tracks.items():
            habits.setdefault(role, RoleHabit()).add(notes, 0 if role in DRUM_ROLES else shift)
    return habits


def section_habits(phrases: list[tuple[int, Phrase]]) -> dict[str, dict[str, RoleHabit]]:
    """Per section type, the habit of each role (``learn_habits``) the artist plays at least
    ``MIN_SECTION_NOTES`` notes of in sections of that type; the others are left out."""
    kinds = sorted({ph.section for _, ph in phrases})
    by_kind = {kind: learn_habits([(shift, ph) for shift, ph in phrases if ph.section == kind]) for kind in kinds}
    return {kind: {role: h for role, h in habits.items() if len(h.pitches) >= MIN_SECTION_NOTES}
            for kind, habits in by_kind.items()}


def phrase_notes(phrases: list[Phrase]) -> dict[str, dict[str, float]]:
    """Per section type, and over all of them (``ANY_SECTION``), each role's mean number of notes in
    the phrases that play it."""
    counts: dict[str, dict[str, list[int]]] = {}
    for ph in phrases:
        for role, notes in ph.tracks.items():
            if notes:
                for kind in (ph.section, ANY_SECTION):
                    counts.setdefault(kind, {}).setdefault(role, []).append(len(notes))
    return {kind: {role: float(np.mean(n)) for role, n in by_role.items()} for kind, by_role in counts.items()}


def role_tokens(tok: ArtistTokenizer, habits: dict[str, RoleHabit]) -> np.ndarray:
    """Boolean (len(ROLES), tok.vocab_size): the tokens each role may be written with. A BPE token
    is kept for a role when all its onsets, and for a pitched role all its pitches and note lengths,
    are the artist's for that role (``habits``); framing tokens are always kept."""
    allowed = np.ones((len(ROLES), tok.vocab_size), dtype=bool)
    token_of = duration_tokens(tok, {d for h in habits.values() for d in h.lengths})
    for ri, role in enumerate(ROLES):
        habit = habits.get(role)
        if habit is None:
            continue
        positions = habit.common(habit.positions)
        ok = np.array([p <= positions for p in tok.position_sets])
        if role not in DRUM_ROLES:
            by_token = Counter[int]()
            for length, count in habit.lengths.items():
                by_token[token_of[length]] += count
            lengths = habit.common(by_token)
            ok &= (tok.pitch_hi < 0) | ((tok.pitch_lo >= min(habit.pitches)) & (tok.pitch_hi <= max(habit.pitches)))
            ok &= np.array([d <= lengths for d in tok.duration_sets])
        allowed[ri, :tok.n_bpe] = ok
    return allowed


def role_spans(habits: dict[str, RoleHabit]) -> np.ndarray:
    """Per role (len(ROLES),): the widest span (semitones) of its track in one of the artist's
    phrases; -1 for drums and for roles the artist does not play."""
    return np.array([max(habits[r].spans) if r in habits and habits[r].spans and r not in DRUM_ROLES else -1
                     for r in ROLES], dtype=np.int64)


def duration_tokens(tok: ArtistTokenizer, lengths: set[float]) -> dict[float, int]:
    """The REMI duration token (base id) each note length (beats) is written with."""
    ordered = sorted(lengths)
    apart = [BeatNote(i * NOTE_SPACING, d, 60, 100) for i, d in enumerate(ordered)]
    tokens = [b for b in tok.track_base_ids(apart) if b in tok.duration_ids]
    return dict(zip(ordered, tokens))


@dataclass
class Habits:
    """What the sampler lets each role write: its tokens (``role_tokens``, boolean (len(ROLES),
    vocab)), and per section type the tokens of the roles it has its own habit for
    (``section_tokens``, the same shape, the role's own row elsewhere); for the roles kept on the
    chords, the chord tones of each bar (``tones``); and per pitched role the widest span
    (``role_spans``) its notes keep within, with each token's lowest and highest pitch
    (``pitch_range``, (2, vocab); 999 and -1 where it has none); and how many notes a phrase of
    each role holds (``phrase_notes``)."""

    role_tokens: np.ndarray
    section_tokens: dict[str, np.ndarray]
    chord_roles: frozenset[str]
    tones: PieceTones
    spans: np.ndarray
    pitch_range: np.ndarray
    phrase_notes: dict[str, dict[str, float]]

    @classmethod
    def learn(cls, tok: ArtistTokenizer, songs: list[Score]) -> Habits:
        phrases = artist_phrases(songs)
        habits = learn_habits(phrases)
        by_section = {kind: role_tokens(tok, {**habits, **own}) for kind, own in section_habits(phrases).items()}
        return cls.of(tok, role_tokens(tok, habits), by_section, chord_roles([ph for _, ph in phrases]),
                      role_spans(habits), phrase_notes([ph for _, ph in phrases]))

    @classmethod
    def of(cls, tok: ArtistTokenizer, tokens: np.ndarray, section_tokens: dict[str, np.ndarray],
           chord_roles: frozenset[str], spans: np.ndarray, notes: dict[str, dict[str, float]]) -> Habits:
        """The habits with what ``tok`` alone decides (its tokens' chord tones and pitch ranges)."""
        pitch_range = np.array([[999], [-1]], dtype=np.int64).repeat(tok.vocab_size, axis=1)
        pitch_range[:, :tok.n_bpe] = tok.pitch_lo, tok.pitch_hi
        return cls(tokens, section_tokens, chord_roles, PieceTones.of(tok), spans, pitch_range, notes)

    def to_dict(self) -> dict:
        """What was learned from the artist's songs, as JSON (``from_dict``)."""
        return {"role_tokens": packed(self.role_tokens),
                "section_tokens": {kind: packed(t) for kind, t in self.section_tokens.items()},
                "chord_roles": sorted(self.chord_roles), "spans": self.spans.tolist(), "phrase_notes": self.phrase_notes}

    @classmethod
    def from_dict(cls, tok: ArtistTokenizer, d: dict) -> Habits:
        shape = (len(ROLES), tok.vocab_size)
        return cls.of(tok, unpacked(d["role_tokens"], shape),
                      {kind: unpacked(t, shape) for kind, t in d["section_tokens"].items()},
                      frozenset(d["chord_roles"]), np.array(d["spans"], dtype=np.int64),
                      {kind: {role: float(n) for role, n in notes.items()} for kind, notes in d["phrase_notes"].items()})

    def expected_notes(self, section: str, roles: list[str]) -> float:
        """The notes the artist plays in a phrase of a ``section`` type in ``roles``: each role's mean
        there, else over every section, else ``UNKNOWN_PHRASE_NOTES``."""
        here, anywhere = self.phrase_notes.get(section, {}), self.phrase_notes.get(ANY_SECTION, {})
        return float(sum(here.get(r, anywhere.get(r, UNKNOWN_PHRASE_NOTES)) for r in roles))

    def restrict(self, mask: np.ndarray, sections: list[str], states: list[GrammarState],
                 chords: list[np.ndarray | None], heard: list[tuple[int, int] | None]) -> np.ndarray:
        """``mask`` (rows, vocab) narrowed per row to its role's tokens in its phrase's section type
        (``sections``); then, for the chord roles, to the
        chord tones of its phrase's ``chords`` (``bar_tones``, or None before they are written), the
        chords themselves keeping to them when they are known before the chords are written (the
        harmony of a section written over another's progression); then to the pitches that keep the
        role's track, with the lowest and highest pitch it has ``heard`` (MIDI; None before its first
        note), within the role's span. A step that would leave a row no token is skipped for that row."""
        out = mask.copy()
        for j, (section, state, tones, played) in enumerate(zip(sections, states, chords, heard)):
            for narrower in self._narrowers(section, state, tones, played):
                kept = out[j] & narrower
                if kept.any():
                    out[j] = kept
        return out

    def _narrowers(self, section: str, state: GrammarState, chords: np.ndarray | None,
                   heard: tuple[int, int] | None) -> list[np.ndarray]:
        out = [self.section_tokens.get(section, self.role_tokens)[state.role]]
        if chords is not None and (ROLES[state.role] in self.chord_roles or ROLES[state.role] == CHORD_ROLE):
            out.append(self.tones.on_chords(state.bars, chords))
        span = int(self.spans[state.role])
        if span >= 0:
            lo, hi = self.pitch_range
            heard_lo, heard_hi = heard if heard is not None else (999, -1)
            out.append((hi < 0) | (np.maximum(hi, heard_hi) - np.minimum(lo, heard_lo) <= span))
        return out


def packed(mask: np.ndarray) -> str:
    """A boolean array's bits, as hex."""
    return np.packbits(mask).tobytes().hex()


def unpacked(bits: str, shape: tuple[int, int]) -> np.ndarray:
    """The boolean array of ``shape`` that ``packed`` wrote; ValueError where the bits are not of it."""
    flat = np.unpackbits(np.frombuffer(bytes.fromhex(bits), dtype=np.uint8))
    if flat.size != -(-shape[0] * shape[1] // 8) * 8:
        raise ValueError(f"{flat.size} bits are not an array of {shape}")
    return flat[:shape[0] * shape[1]].reshape(shape).astype(bool)
