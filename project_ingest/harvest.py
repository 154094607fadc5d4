"""One-shot harvesting: the artist's processed drum hits, sliced out of frozen stems at MIDI onsets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sample_library.analysis import timbre_vector

MAX_HIT_SECONDS = 2.0
PRE_ROLL_SECONDS = 0.001


@dataclass
class Hit:
    """A clean hit: audio (channels, frames), the velocity and note it was played with, and how clean
    it is (dB of the level just before the onset below the hit's peak: higher is cleaner)."""

    audio: np.ndarray
    velocity: int
    note: int
    cleanliness_db: float


def slice_hits(audio: np.ndarray, sample_rate: int, onsets: np.ndarray, velocities: np.ndarray,
               notes: np.ndarray, *, all_onsets: np.ndarray | None = None, keep: int = 4) -> list[Hit]:
    """Slice ``audio`` (channels, frames) at ``onsets`` (seconds) and keep the best clean hits.

    A hit runs to the next onset on the stem (``all_onsets``, default ``onsets``) or until it decays
    under -60 dB. It is clean when the stem is 30 dB quieter than the hit just before it (nothing
    bleeds in) and the hit has decayed by 30 dB before the next onset (no overlap). Near-duplicates
    (same timbre, level within 1.5 dB) are dropped; the cleanest and loudest ``keep`` remain.
    """
    mono = np.abs(audio).max(axis=0)
    every = np.sort(all_onsets if all_onsets is not None else onsets)
    candidates: list[Hit] = []
    pre = max(1, int(0.01 * sample_rate))
    for onset, velocity, note in zip(onsets, velocities, notes):
        nominal = int(round(onset * sample_rate))
        search = mono[max(0, nominal - int(0.005 * sample_rate)):nominal + int(0.03 * sample_rate)]
        if search.size == 0 or search.max() <= 1e-4:
            continue
        first = int(np.argmax(search >= 0.1 * search.max()))
        start = max(0, nominal - int(0.005 * sample_rate) + first - int(PRE_ROLL_SECONDS * sample_rate))
        later = every[every > onset + 1e-3]
        limit = min(int(round(later[0] * sample_rate)) if later.size else audio.shape[1],
                    start + int(MAX_HIT_SECONDS * sample_rate), audio.shape[1])
        segment = mono[start:limit]
        if segment.size < int(0.01 * sample_rate):
            continue
        peak = float(segment.max())
        before = float(mono[max(0, start - pre):start].max()) if start > 0 else 0.0
        cleanliness = 20 * np.log10(peak / max(before, 1e-9))
        audible = np.nonzero(segment > peak * 1e-3)[0]
        end = start + int(audible[-1]) + 1
        tail_level = float(segment[-min(segment.size, pre):].max()) / peak
        if cleanliness < 30 or (end >= limit and tail_level > 10 ** (-30 / 20) and later.size):
            continue
        clip = audio[:, start:end].copy()
        fade = min(clip.shape[1], int(0.005 * sample_rate))
        clip[:, clip.shape[1] - fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
        candidates.append(Hit(clip.astype(np.float32), int(velocity), int(note), float(cleanliness)))
    candidates.sort(key=lambda h: (-min(h.cleanliness_db, 60.0), -h.velocity))
    kept: list[tuple[Hit, np.ndarray, float]] = []
    for hit in candidates:
        vec, _ = timbre_vector(hit.audio.mean(axis=0), sample_rate)
        level = 20 * np.log10(np.sqrt(np.mean(hit.audio ** 2)) + 1e-12)
        if any(np.linalg.norm(vec - v) < 0.25 and abs(level - lv) < 1.5 for _, v, lv in kept):
            continue
        kept.append((hit, vec, level))
        if len(kept) >= keep:
            break
    return [k[0] for k in kept]
