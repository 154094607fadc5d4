"""Tokens: miditok REMI for each role's track, a BPE vocabulary over it, and our framing tokens.

A phrase (``PHRASE_BARS`` bars of a section, all its roles) is one sequence::

    Section_drop Energy_4 Part_main Key_5 Mode_minor
    Role_kick  <BPE ids of the kick's REMI tokens>  TrackEnd
    Role_bass  <...>                                TrackEnd
    ...                                             SongEnd

Each role is its own track from encoding to decoding (no program merging). Tempo and time
signature are not tokenised; they are set at render time. The grammar of REMI plus the framing is
compiled into per-token tables so a sampler can mask, in one vectorised step, every token that
would make the sequence invalid.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import symusic
from tokenizers import Tokenizer, models, trainers

from project_ingest.form import PHRASE_BARS
from project_ingest.score import BEATS_PER_BAR, SECTION_TYPES, BeatNote
from sample_library.roles import DRUM_ROLES, GM_DRUM_ROLE, ROLES
from template_engine.model.miditok_without_torch import REMI, TokenizerConfig, TokSequence

TPQ = 480
CHAR_OFFSET = 0x3400
ENERGY_LEVELS = 5
ROLE_PITCH_RANGE = {"sub": (21, 55), "bass": (24, 64), "fx": (21, 108)}
PITCHED_RANGE = (36, 100)
TYPES = ("Bar", "Position", "Pitch", "Velocity", "Duration")
_NEXT = {"Start": {"Bar"}, "Bar": {"Bar", "Position"}, "Position": {"Pitch"}, "Pitch": {"Velocity"},
         "Velocity": {"Duration"}, "Duration": {"Pitch", "Position", "Bar"}}
_CAN_END = {"Start", "Bar", "Duration"}


def remi_config() -> TokenizerConfig:
    """REMI on a sixteenth grid in 4/4, 8 velocity bins, no tempo or time-signature tokens."""
    return TokenizerConfig(pitch_range=(21, 109), beat_res={(0, 4): 4, (4, 16): 1}, num_velocities=8,
                           use_programs=False, use_tempos=False, use_time_signatures=False,
                           use_chords=False, use_rests=False, special_tokens=["PAD", "BOS", "EOS"])


def framing_tokens() -> list[str]:
    return ([f"Section_{k}" for k in SECTION_TYPES] + [f"Energy_{i}" for i in range(ENERGY_LEVELS)]
            + ["Part_main", "Part_end"] + [f"Key_{i}" for i in range(12)] + ["Mode_minor", "Mode_major"]
            + [f"Role_{r}" for r in ROLES] + ["TrackEnd", "SongEnd"])


@dataclass
class Phrase:
    """Training or generated material: conditions and each role's notes (beats from the phrase start);
    for a phrase to write with no chords of its own, the ``harmony`` (chord notes) its parts keep to,
    and per role the pitch range (lowest and highest MIDI note) its notes keep near in ``registers``
    (the theme's, for a section written over it)."""

    section: str
    energy: float
    part: str
    tonic: int
    mode: str
    tracks: dict[str, list[BeatNote]]
    harmony: list[BeatNote] = field(default_factory=list)
    registers: dict[str, tuple[int, int]] = field(default_factory=dict)


class ArtistTokenizer:
    """miditok REMI + a BPE model trained on the artist's phrases + framing tokens."""

    def __init__(self, bpe: Tokenizer | None = None) -> None:
        self.remi = REMI(remi_config())
        self.base_vocab: dict[str, int] = dict(self.remi.vocab)
        self.base_names = {i: t for t, i in self.base_vocab.items()}
        self.bar_id = self.base_vocab["Bar_None"]
        self.velocity_ids = self._base_ids_of("Velocity_")
        self.position_ids = self._base_ids_of("Position_")
        self.duration_ids = frozenset(i for t, i in self.base_vocab.items() if t.startswith("Duration_"))
        self.bpe = bpe
        if bpe is not None:
            self._compile()

    def _base_ids_of(self, prefix: str) -> list[int]:
        """Base ids of one token type, ordered by value (velocity bins, positions in the bar)."""
        return sorted((i for t, i in self.base_vocab.items() if t.startswith(prefix)),
                      key=lambda i: float(self.base_names[i].split("_")[1]))

    # -- training and persistence ---------------------------------------------------------------

    def train_bpe(self, base_sequences: list[list[int]], vocab_size: int) -> None:
        """Learn BPE merges on base-token sequences (one per role track) up to ``vocab_size`` tokens."""
        alphabet = [chr(CHAR_OFFSET + i) for i in sorted(self.base_vocab.values())]
        model = Tokenizer(models.BPE())
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=alphabet, show_progress=False,
                                      special_tokens=[], min_frequency=2)
        model.train_from_iterator([self._chars(s) for s in base_sequences if s], trainer=trainer)
        self.bpe = model
        self._compile()

    def to_json(self) -> str:
        """The vocabulary as JSON: the BPE model, the framing tokens and the REMI settings."""
        return json.dumps({"bpe": json.loads(self.bpe.to_str()), "framing": framing_tokens(),
                           "remi": {"pitch_range": [21, 109], "num_velocities": 8, "grid": 16},
                           "phrase_bars": PHRASE_BARS})

    @classmethod
    def from_json(cls, text: str) -> ArtistTokenizer:
        data = json.loads(text)
        if data.get("framing") != framing_tokens():
            raise ValueError("its framing tokens differ from this version's")
        return cls(Tokenizer.from_str(json.dumps(data["bpe"])))

    def save(self, folder: Path) -> None:
        from sample_library.audio_io import atomic_path

        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "tokenizer.json") as tmp:
            tmp.write_text(self.to_json())

    @classmethod
    def load(cls, folder: Path) -> ArtistTokenizer:
        return cls.from_json((folder / "tokenizer.json").read_text())

    # -- vocabulary ------------------------------------------------------------------------------

    def _compile(self) -> None:
        vocab = self.bpe.get_vocab()
        self.n_bpe = len(vocab)
        self.pieces: list[list[int]] = [[] for _ in range(self.n_bpe)]
        for piece, idx in vocab.items():
            self.pieces[idx] = [ord(c) - CHAR_OFFSET for c in piece]
        self.framing = {t: self.n_bpe + i for i, t in enumerate(framing_tokens())}
        self.framing_names = {i: t for t, i in self.framing.items()}
        self.vocab_size = self.n_bpe + len(self.framing)
        self._compile_grammar()

    @property
    def track_end(self) -> int:
        return self.framing["TrackEnd"]

    @property
    def song_end(self) -> int:
        return self.framing["SongEnd"]

    def _chars(self, base_ids: list[int]) -> str:
        return "".join(chr(CHAR_OFFSET + i) for i in base_ids)

    # -- encoding ------------------------------------------------------------------------------

    def track_base_ids(self, notes: list[BeatNote]) -> list[int]:
        """REMI base ids of one track's notes (beats from the phrase start), via miditok."""
        if not notes:
            return []
        score: Any = symusic.Score(TPQ)  # symusic's stubs lack the tracks and notes lists
        track: Any = symusic.Track(program=0, is_drum=False, name="t")
        for n in notes:
            track.notes.append(symusic.Note(int(round(n.start * TPQ)), max(1, int(round(n.duration * TPQ))),
                                            int(n.pitch), int(n.velocity)))
        score.tracks.append(track)
        seqs = self.remi.encode(score, encode_ids=False)
        seq = seqs[0] if isinstance(seqs, list) else seqs
        return [self.base_vocab[t] for t in seq.tokens]

    def bpe_ids(self, base_ids: list[int]) -> list[int]:
        if not base_ids:
            return []
        return self.bpe.encode(self._chars(base_ids)).ids

    def condition_ids(self, phrase: Phrase) -> list[int]:
        energy = int(np.clip(round(phrase.energy * (ENERGY_LEVELS - 1)), 0, ENERGY_LEVELS - 1))
        return [self.framing[f"Section_{phrase.section}"], self.framing[f"Energy_{energy}"],
                self.framing[f"Part_{phrase.part}"], self.framing[f"Key_{phrase.tonic % 12}"],
                self.framing[f"Mode_{phrase.mode}"]]

    def encode_phrase(self, phrase: Phrase, track_ids: dict[str, list[int]] | None = None) -> list[int]:
        """The whole sequence of a phrase; ``track_ids`` (role -> BPE ids) skips re-encoding tracks."""
        ids = self.condition_ids(phrase)
        for role in ROLES:
            if role not in phrase.tracks:
                continue
            body = track_ids[role] if track_ids is not None else self.bpe_ids(self.track_base_ids(phrase.tracks[role]))
            ids += [self.framing[f"Role_{role}"], *body, self.track_end]
        return ids + [self.song_end]

    # -- decoding ------------------------------------------------------------------------------

    def decode_track(self, ids: list[int]) -> list[BeatNote]:
        """BPE ids of one track back to notes (beats), through miditok's REMI decoder."""
        base = [b for i in ids if i < self.n_bpe for b in self.pieces[i]]
        if not base:
            return []
        seq = TokSequence(tokens=[self.base_names[i] for i in base])
        score = self.remi.decode([seq])
        tpq = score.ticks_per_quarter
        notes = [BeatNote(n.time / tpq, max(n.duration, 1) / tpq, n.pitch, n.velocity)
                 for t in score.tracks for n in t.notes]
        return sorted(notes, key=lambda n: (n.start, n.pitch))

    def decode_phrase(self, ids: list[int]) -> dict[str, list[BeatNote]]:
        """A generated sequence back to role -> notes."""
        tracks: dict[str, list[BeatNote]] = {}
        role, body = None, []
        for i in ids:
            name = self.framing_names.get(i)
            if name and name.startswith("Role_"):
                role, body = name[5:], []
            elif i == self.track_end and role is not None:
                tracks[role] = self.decode_track(body)
                role = None
            elif role is not None and i < self.n_bpe:
                body.append(i)
        return tracks

    # -- grammar ---------------------------------------------------------------------------------

    def _compile_grammar(self) -> None:
        """Per BPE token: validity, first/last type, bars it adds, positions (sixteenths in the bar), pitches
        (also as 12-bit pitch-class masks per bar line crossed before them, ``bar_pitch_classes``,
        shape (n_bpe, PHRASE_BARS + 1)), durations (base ids)."""
        v = self.n_bpe
        type_index = {t: i for i, t in enumerate(TYPES)}
        self.first_type = np.zeros(v, dtype=np.int64)
        self.last_type = np.zeros(v, dtype=np.int64)
        self.n_bars = np.zeros(v, dtype=np.int64)
        self.first_pos = np.full(v, -1, dtype=np.int64)
        self.last_pos = np.full(v, -2, dtype=np.int64)
        self.internal_ok = np.ones(v, dtype=bool)
        self.pitch_lo = np.full(v, 999, dtype=np.int64)
        self.pitch_hi = np.full(v, -1, dtype=np.int64)
        self.pitch_sets: list[set[int]] = [set() for _ in range(v)]
        self.bar_pitch_classes = np.zeros((v, PHRASE_BARS + 1), dtype=np.int64)
        self.duration_sets: list[set[int]] = [set() for _ in range(v)]
        self.position_sets: list[set[int]] = [set() for _ in range(v)]
        for idx, piece in enumerate(self.pieces):
            names = [self.base_names[b] for b in piece]
            kinds = [n.split("_")[0] for n in names]
            if not names or any(k not in type_index for k in kinds):
                self.internal_ok[idx] = False
                continue
            self.first_type[idx] = type_index[kinds[0]]
            self.last_type[idx] = type_index[kinds[-1]]
            pos, seen_bar = None, False
            for j, (kind, name) in enumerate(zip(kinds, names)):
                if j and kind not in _NEXT[kinds[j - 1]]:
                    self.internal_ok[idx] = False
                if kind == "Bar":
                    self.n_bars[idx] += 1
                    seen_bar, pos = True, None
                elif kind == "Position":
                    p = int(name.split("_")[1])
                    if pos is not None and p <= pos:
                        self.internal_ok[idx] = False
                    if not seen_bar and self.first_pos[idx] == -1 and pos is None:
                        self.first_pos[idx] = p
                    pos = p
                    self.position_sets[idx].add(p)
                elif kind == "Pitch":
                    pitch = int(name.split("_")[1])
                    self.pitch_sets[idx].add(pitch)
                    self.bar_pitch_classes[idx, min(self.n_bars[idx], PHRASE_BARS)] |= 1 << (pitch % 12)
                    self.pitch_lo[idx] = min(self.pitch_lo[idx], pitch)
                    self.pitch_hi[idx] = max(self.pitch_hi[idx], pitch)
                elif kind == "Duration":
                    self.duration_sets[idx].add(piece[j])
            self.last_pos[idx] = pos if pos is not None else (-1 if seen_bar else -2)
        # type transition table: rows are states (TYPES + Start), columns first types
        self.states = TYPES + ("Start",)
        self.type_ok = np.zeros((len(self.states), len(TYPES)), dtype=bool)
        for si, state in enumerate(self.states):
            for t in _NEXT[state]:
                self.type_ok[si, type_index[t]] = True
        self.can_end = np.array([s in _CAN_END for s in self.states])
        self._compile_roles()

    def _compile_roles(self) -> None:
        """Per role and BPE token: whether its pitches are the role's (GM drum notes, or a register)."""
        self.role_ok = np.zeros((len(ROLES), self.n_bpe), dtype=bool)
        for ri, role in enumerate(ROLES):
            if role in DRUM_ROLES:
                allowed = {p for p, r in GM_DRUM_ROLE.items() if r == role}
                self.role_ok[ri] = [not s or s <= allowed for s in self.pitch_sets]
            else:
                lo, hi = ROLE_PITCH_RANGE.get(role, PITCHED_RANGE)
                self.role_ok[ri] = (self.pitch_hi < 0) | ((self.pitch_lo >= lo) & (self.pitch_hi <= hi))


@dataclass
class GrammarState:
    """Where a track being written stands: last base-token type (index into states), bars written,
    last position in the current bar (-1: none yet), and the role index."""

    state: int
    bars: int
    position: int
    role: int


def allowed_mask(tok: ArtistTokenizer, states: list[GrammarState], max_bars: int = PHRASE_BARS) -> np.ndarray:
    """Boolean (batch, vocab_size): the tokens that keep each sequence valid (BPE pieces and TrackEnd)."""
    batch = len(states)
    st = np.array([s.state for s in states])
    bars = np.array([s.bars for s in states])[:, None]
    pos = np.array([s.position for s in states])[:, None]
    roles = np.array([s.role for s in states])
    ok = tok.internal_ok[None, :] & tok.type_ok[st][:, tok.first_type]
    ok &= bars + tok.n_bars[None, :] <= max_bars
    ok &= (tok.first_pos[None, :] < 0) | (tok.first_pos[None, :] > pos)
    ok &= tok.role_ok[roles]
    # a first-bar token is needed before anything else, and a track that has a bar may end
    mask = np.zeros((batch, tok.vocab_size), dtype=bool)
    mask[:, : tok.n_bpe] = ok
    mask[:, tok.track_end] = tok.can_end[st]
    return mask


def advance(tok: ArtistTokenizer, s: GrammarState, token: int) -> GrammarState:
    """The state after emitting BPE token ``token``."""
    bars = s.bars + int(tok.n_bars[token])
    last = int(tok.last_pos[token])
    position = last if last >= 0 else (-1 if last == -1 else s.position)
    return GrammarState(state=int(tok.last_type[token]), bars=bars, position=position, role=s.role)


def start_state(role: str) -> GrammarState:
    return GrammarState(state=len(TYPES), bars=0, position=-1, role=ROLES.index(role))


def phrase_slice(notes: list[BeatNote], start_bar: int, bars: int = PHRASE_BARS) -> list[BeatNote]:
    """Notes starting in [start_bar, start_bar + bars), moved to the phrase start and cut at its end."""
    a, b = start_bar * BEATS_PER_BAR, (start_bar + bars) * BEATS_PER_BAR
    return [BeatNote(n.start - a, min(n.duration, b - n.start), n.pitch, n.velocity) for n in notes if a <= n.start < b]


class PhraseSlicer:
    """``phrase_slice`` of one track at any bar, by bisection over its notes sorted once by start,
    for the many phrases cut from one song."""

    def __init__(self, notes: list[BeatNote]) -> None:
        self.notes = sorted(notes, key=lambda n: n.start)
        self.onsets = [n.start for n in self.notes]

    def at(self, start_bar: int) -> list[BeatNote]:
        """The notes starting in [start_bar, start_bar + ``PHRASE_BARS``), as ``phrase_slice`` gives them."""
        first, last = (bisect_left(self.onsets, b * BEATS_PER_BAR) for b in (start_bar, start_bar + PHRASE_BARS))
        return phrase_slice(self.notes[first:last], start_bar) if first < last else []
