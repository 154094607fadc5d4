"""Do the stems start where their MIDI does? A stem printed from bar 2, or with a count-in, puts
every harvested hit and every measured sidechain in the wrong place, so ingest finds out.

A stem's lag is read at its start: how far its first sound is from its first MIDI note, refined to
where the MIDI onsets land on the most rise of the stem's level (10 ms hops). Regular music scores
almost as well one beat off as on time, so the start anchors the lag and the rises must agree with
it; the song's stems are misplaced when most of them agree on one lag beyond printing latency.
"""

from __future__ import annotations

import numpy as np

HOP_S = 0.01
MIN_NOTES = 8
AUDIBLE = 10 ** (-40 / 20)  # a stem's first sound: its first sample within 40 dB of its peak
REFINE_HOPS = 5  # the rises refine the start's lag by up to 50 ms
AGREES = 0.8  # the notes at the lag land on at least this share of the rise they land on at none
TOLERANCE_S = 0.1  # lags this small are printing latency, not a misplaced stem
AGREEMENT_S = 0.03


def onset_envelope(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    """Rises of the level (dB, >= 0) from one 10 ms hop to the next: shape (hops,)."""
    hop = max(1, int(HOP_S * sample_rate))
    hops = mono.size // hop
    level = 10 * np.log10(np.mean(np.square(mono[: hops * hop].reshape(hops, hop), dtype=np.float64), axis=1) + 1e-12)
    return np.maximum(np.diff(level, prepend=level[:1]), 0.0)


def stem_lag_s(mono: np.ndarray, sample_rate: int, onsets_s: np.ndarray) -> float | None:
    """How late (s, negative: early) the stem ``mono`` (frames,) plays the notes starting at
    ``onsets_s`` (s); None with too few notes, or when its rises do not bear its start out."""
    hits = np.unique(np.round(np.asarray(onsets_s) / HOP_S).astype(int))
    if hits.size < MIN_NOTES:
        return None
    envelope = onset_envelope(mono, sample_rate)
    loud = np.flatnonzero(np.abs(mono) > np.abs(mono).max() * AUDIBLE)
    if loud.size == 0:
        return None
    anchor = int(round(loud[0] / sample_rate / HOP_S)) - int(hits[0])
    lags = np.arange(anchor - REFINE_HOPS, anchor + REFINE_HOPS + 1)
    at = hits[:, None] + np.concatenate([[0], lags])[None, :]
    inside = (at >= 0) & (at < envelope.size)
    score = np.where(inside, envelope[np.clip(at, 0, envelope.size - 1)], 0.0).sum(axis=0)
    best = int(np.argmax(score[1:]))
    return float(lags[best] * HOP_S) if score[1 + best] >= AGREES * score[0] else None


def stems_lag_s(lags: list[float]) -> float | None:
    """The stems' common lag (s) when most measured stems agree on one beyond ``TOLERANCE_S``, else None."""
    if not lags:
        return None
    median = float(np.median(lags))
    agreeing = sum(abs(lag - median) <= AGREEMENT_S for lag in lags)
    return median if abs(median) > TOLERANCE_S and agreeing * 2 > len(lags) else None
