"""Parts kept on the chords: the roles the artist keeps to the tones of the chord under them, and
the tokens that keep a track being written on the chords its phrase already has.

Pitch classes are 12-bit masks (bit ``p % 12``). A phrase's chords are read per bar (every note
sounding in the bar), in C, as the model writes them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from project_ingest.form import bar_tones
from project_ingest.score import BEATS_PER_BAR
from template_engine.model.tokens import PHRASE_BARS, ArtistTokenizer, Phrase

CHORD_ROLE = "chords"
CHORD_TONE_SHARE = 0.95  # a role whose notes are chord tones this often is kept on the chords
ANY_TONE = (1 << 12) - 1


def chord_roles(phrases: list[Phrase]) -> frozenset[str]:
    """The roles whose notes, in the artist's ``phrases`` where the chords sound, are tones of the
    chord of their bar at least ``CHORD_TONE_SHARE`` of the time (in any key: both move together)."""
    on: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for ph in phrases:
        chords = bar_tones(ph.tracks.get(CHORD_ROLE, []), PHRASE_BARS)
        for role, notes in ph.tracks.items():
            for n in notes:
                bar = int(n.start // BEATS_PER_BAR)
                if role != CHORD_ROLE and 0 <= bar < PHRASE_BARS and chords[bar]:
                    total[role] += 1
                    on[role] += bool(chords[bar] >> (n.pitch % 12) & 1)
    return frozenset(r for r, n in total.items() if on[r] >= CHORD_TONE_SHARE * n)


@dataclass
class PieceTones:
    """Per token, the pitch classes (mask) it plays in the bar it starts in and each bar after:
    shape (vocab, PHRASE_BARS + 1) int64; 0 for tokens with no pitch (framing tokens among them)."""

    tones: np.ndarray

    @classmethod
    def of(cls, tok: ArtistTokenizer) -> PieceTones:
        tones = np.zeros((tok.vocab_size, PHRASE_BARS + 1), dtype=np.int64)
        tones[:tok.n_bpe] = tok.bar_pitch_classes
        return cls(tones)

    def on_chords(self, bars_written: int, chords: np.ndarray) -> np.ndarray:
        """Boolean (vocab,): the tokens whose every note is a chord tone of its bar, for a track that
        has written ``bars_written`` bar lines, over ``chords`` (``bar_tones`` of the phrase's chords).
        Bars with no chord, or past the phrase, take any note."""
        allowed = np.full(PHRASE_BARS + 1, ANY_TONE, dtype=np.int64)
        for offset in range(PHRASE_BARS + 1):
            bar = bars_written - 1 + offset
            if 0 <= bar < len(chords) and chords[bar]:
                allowed[offset] = chords[bar]
        return np.all((self.tones & ~allowed[None, :]) == 0, axis=1)
