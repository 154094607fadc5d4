"""Training phrases from an artist's corpus, with augmentation.

Every section is cut into ``PHRASE_BARS``-bar phrases; the last phrase of a section is its ``end``
part (where fills lead into the next section), the others are ``main``.

Pitched roles are written relative to the key: every song is moved to C (major or minor) by the
shorter way before it is tokenised, and generated songs are moved from C into the asked key. That
is transposition augmentation taken to its end: each song teaches the same key-relative pitch
vocabulary, so a small model learns the artist's scale degrees instead of spreading them over 12
keys (with 12-key augmentation a 4-minute model wrote 20-25 % of its notes outside the key).
Augmentation: velocity jitter of one bin, rare timing jitter of one sixteenth, and track dropout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from project_ingest.score import BeatNote, Key, Score
from sample_library.roles import DRUM_ROLES
from template_engine.model.tokens import PHRASE_BARS, ArtistTokenizer, Phrase, PhraseSlicer


def key_shift(tonic: int) -> int:
    """Semitones (-5..6) that move a key with this tonic (0 = C) to C."""
    return -tonic if tonic <= 6 else 12 - tonic


def transposed(tracks: dict[str, list[BeatNote]], semitones: int) -> dict[str, list[BeatNote]]:
    """``tracks`` with the pitched roles moved by ``semitones`` (drums untouched)."""
    return {r: ns if r in DRUM_ROLES else transpose(ns, semitones) for r, ns in tracks.items()}


def in_c(score: Score) -> Score:
    """``score`` moved to C major or C minor (pitched roles only)."""
    return Score(score.bpm, Key(0, score.key.mode), score.sections,
                 transposed(score.tracks, key_shift(score.key.tonic)), names=score.names)


def song_phrases(score: Score) -> list[Phrase]:
    """The phrases of one song, in order."""
    slicers = {role: PhraseSlicer(notes) for role, notes in score.tracks.items()}
    out = []
    for s in score.sections:
        starts = list(range(s.start_bar, s.end_bar - PHRASE_BARS + 1, PHRASE_BARS)) or [s.start_bar]
        for i, bar in enumerate(starts):
            tracks = {role: notes for role, slicer in slicers.items() if (notes := slicer.at(bar))}
            if tracks:
                out.append(Phrase(s.kind, s.energy, "end" if i == len(starts) - 1 else "main",
                                  score.key.tonic, score.key.mode, tracks))
    return out


def transpose(notes: list[BeatNote], semitones: int) -> list[BeatNote]:
    return [BeatNote(n.start, n.duration, int(np.clip(n.pitch + semitones, 21, 108)), n.velocity) for n in notes]


@dataclass
class EncodedPhrase:
    """A phrase's base REMI ids per role: {role: [ids]}."""

    phrase: Phrase
    base: dict[str, list[int]]


def encode_phrases(tok: ArtistTokenizer, phrases: list[Phrase]) -> list[EncodedPhrase]:
    return [EncodedPhrase(ph, {r: tok.track_base_ids(n) for r, n in ph.tracks.items()}) for ph in phrases]


def sample_sequence(tok: ArtistTokenizer, ep: EncodedPhrase, rng: np.random.Generator, *, augment: bool) -> list[int]:
    """One training sequence from an encoded phrase (augmented when ``augment``)."""
    tracks = ep.base
    chosen = {}
    for role, ids in tracks.items():
        if augment and len(tracks) > 2 and rng.random() < 0.1:
            continue
        ids = list(ids)
        if augment:
            ids = _velocity_jitter(ids, tok.velocity_ids, rng)
            ids = _timing_jitter(ids, tok.position_ids, tok.bar_id, rng)
        chosen[role] = tok.bpe_ids(ids)
    ph = ep.phrase
    kept = Phrase(ph.section, ph.energy, ph.part, ph.tonic, ph.mode, {r: ph.tracks[r] for r in chosen})
    return tok.encode_phrase(kept, chosen)


def _velocity_jitter(ids: list[int], velocity_ids: list[int], rng: np.random.Generator) -> list[int]:
    """Move about a third of the velocities one bin up or down (within the bins)."""
    bin_of = {b: k for k, b in enumerate(velocity_ids)}
    for j, b in enumerate(ids):
        if b in bin_of and rng.random() < 0.3:
            k = bin_of[b] + int(rng.choice((-1, 1)))
            ids[j] = velocity_ids[int(np.clip(k, 0, len(velocity_ids) - 1))]
    return ids


def _timing_jitter(ids: list[int], position_ids: list[int], bar_id: int, rng: np.random.Generator) -> list[int]:
    """Move a rare note position by one sixteenth when it stays between its neighbours in the bar."""
    value_of = {b: k for k, b in enumerate(position_ids)}
    bar_of = np.cumsum([b == bar_id for b in ids])
    at = [j for j, b in enumerate(ids) if b in value_of]
    for n, j in enumerate(at):
        if rng.random() >= 0.02:
            continue
        value = value_of[ids[j]] + int(rng.choice((-1, 1)))
        before = [value_of[ids[k]] for k in at[:n] if bar_of[k] == bar_of[j]]
        after = [value_of[ids[k]] for k in at[n + 1:] if bar_of[k] == bar_of[j]]
        if 0 <= value < len(position_ids) and (not before or before[-1] < value) and (not after or after[0] > value):
            ids[j] = position_ids[value]
    return ids
