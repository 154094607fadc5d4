"""Symbolic style fit and musical sanity of songs against an artist's songs.

Style fit is the overlapped-area method of Yang & Lerch (2020), "On the evaluation of generative
models in music": for each feature, the distances between the artist's songs (intra-set) and the
distances from each candidate to each artist song (inter-set) are smoothed into densities by a
Gaussian kernel; the area their densities share (0..1) says how well the candidates sit inside the
artist's own spread. The ceiling is the same figure for each artist song left out against the rest.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from project_ingest.score import BEATS_PER_BAR, SCALES, STEPS_PER_BAR, STEPS_PER_BEAT, BeatNote, Score, beat_step, step_in_bar
from sample_library.roles import DRUM_ROLES

LENGTH_BINS = np.array([0, 0.1875, 0.375, 0.75, 1.5, 3.0, 6.0, np.inf])  # beats: 16th, 8th, quarter, half, whole...
GRID = 256


def _pitched(score: Score) -> dict[str, list[BeatNote]]:
    return {r: sorted(ns, key=lambda n: (n.start, n.pitch)) for r, ns in score.tracks.items() if r not in DRUM_ROLES}


def _normalised(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else counts.astype(float)


def song_features(score: Score) -> dict[str, np.ndarray | float]:
    """The per-song features of Yang & Lerch, relative to the song's key where they involve pitch.

    Histograms are normalised to sum to 1; ``pitch_range`` is in semitones, ``note_count`` and
    ``drum_density`` in notes per bar, ``ioi`` in beats.
    """
    pitched = _pitched(score)
    notes = [n for ns in pitched.values() for n in ns]
    bars = max(score.bars, 1)
    pcs = np.array([(n.pitch - score.key.tonic) % 12 for n in notes], dtype=int)
    transitions = np.zeros((12, 12))
    intervals = np.zeros(13)
    iois = []
    for ns in pitched.values():
        for a, b in zip(ns, ns[1:]):
            transitions[(a.pitch - score.key.tonic) % 12, (b.pitch - score.key.tonic) % 12] += 1
            intervals[min(abs(b.pitch - a.pitch), 12)] += 1
        onsets = np.unique([n.start for n in ns])
        iois += list(np.diff(onsets))
    ranges = [max(n.pitch for n in ns) - min(n.pitch for n in ns) for ns in pitched.values() if ns]
    every = [n for ns in score.tracks.values() for n in ns]
    positions = np.bincount([step_in_bar(n.start) for n in every], minlength=STEPS_PER_BAR)
    lengths = np.histogram([n.duration for n in notes], bins=LENGTH_BINS)[0]
    drums = sum(len(ns) for r, ns in score.tracks.items() if r in DRUM_ROLES)
    return {
        "pitch_class_histogram": _normalised(np.bincount(pcs, minlength=12).astype(float)),
        "pitch_class_transitions": _normalised(transitions).ravel(),
        "pitch_range": float(np.mean(ranges)) if ranges else 0.0,
        "intervals": _normalised(intervals),
        "note_count": len(notes) / bars,
        "ioi": float(np.mean(iois)) if iois else 0.0,
        "note_lengths": _normalised(lengths.astype(float)),
        "onset_positions": _normalised(positions.astype(float)),
        "drum_density": drums / bars,
    }


def _distance(a: np.ndarray | float, b: np.ndarray | float) -> float:
    return float(np.linalg.norm(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)))


def _bandwidth(values: np.ndarray, floor: float) -> float:
    """Silverman's rule of thumb, at least ``floor``."""
    return max(1.06 * float(np.std(values)) * values.size ** (-1 / 5), floor)


def _density(values: np.ndarray, grid: np.ndarray, width: float) -> np.ndarray:
    """Gaussian kernel density of ``values`` on ``grid`` with kernel ``width``."""
    z = (grid[:, None] - values[None, :]) / width
    return np.exp(-0.5 * z ** 2).sum(axis=1) / (values.size * width * np.sqrt(2 * np.pi))


def overlapped_area(a: list[float], b: list[float]) -> float | None:
    """Area shared by the kernel densities of two sets of distances (0..1); None when a set is empty."""
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if xa.size == 0 or xb.size == 0:
        return None
    span = max(float(np.ptp(np.concatenate([xa, xb]))), 1e-6)
    wa, wb = _bandwidth(xa, 0.05 * span), _bandwidth(xb, 0.05 * span)
    pad = 5 * max(wa, wb)
    grid = np.linspace(min(xa.min(), xb.min()) - pad, max(xa.max(), xb.max()) + pad, GRID)
    shared = np.minimum(_density(xa, grid, wa), _density(xb, grid, wb))
    return float(np.clip(np.sum(shared) * (grid[1] - grid[0]), 0.0, 1.0))


def style_fit(candidates: list[Score], artist: list[Score]) -> dict[str, dict[str, float | None]]:
    """Per feature: ``overlap`` of candidates-to-artist against artist-to-artist distances, and the
    artist's own ``ceiling`` (each song left out against the rest). Needs at least two artist songs."""
    cand = [song_features(s) for s in candidates]
    art = [song_features(s) for s in artist]
    out = {}
    for name in art[0] if art else []:
        intra = [_distance(x[name], y[name]) for x, y in combinations(art, 2)]
        inter = [_distance(c[name], x[name]) for c in cand for x in art]
        ceilings = []
        for k in range(len(art)):
            rest = [x for i, x in enumerate(art) if i != k]
            left_out = overlapped_area([_distance(x[name], y[name]) for x, y in combinations(rest, 2)],
                                       [_distance(art[k][name], x[name]) for x in rest])
            if left_out is not None:
                ceilings.append(left_out)
        out[name] = {"overlap": overlapped_area(intra, inter),
                     "ceiling": float(np.mean(ceilings)) if ceilings else None}
    return out


def sanity(score: Score) -> dict[str, float | dict[str, list[int]]]:
    """Scale consistency (best share of pitched notes in one major or minor scale), groove consistency
    (1 - mean Hamming distance of consecutive bars' 16th onset grids, over 16), empty-beat rate,
    polyphony (pitched notes sounding at each pitched onset) and each role's pitch range."""
    pitched = [n for ns in _pitched(score).values() for n in ns]
    pcs = np.bincount([n.pitch % 12 for n in pitched], minlength=12)
    best = max((sum(pcs[(t + d) % 12] for d in steps) for t in range(12) for steps in SCALES.values()), default=0)
    grid = np.zeros((max(score.bars, 1), STEPS_PER_BAR), dtype=bool)
    beats = np.zeros(max(score.bars, 1) * BEATS_PER_BAR, dtype=bool)
    for ns in score.tracks.values():
        for n in ns:
            step = beat_step(n.start)
            if 0 <= step < grid.size:
                grid.flat[step] = True
                beats[step // STEPS_PER_BEAT] = True
    hamming = [np.mean(a != b) for a, b in zip(grid, grid[1:])]
    onsets = sorted({n.start for n in pitched})
    sounding = [sum(1 for n in pitched if n.start <= t < n.start + n.duration) for t in onsets]
    return {
        "scale_consistency": float(best / max(pcs.sum(), 1)),
        "groove_consistency": float(1 - np.mean(hamming)) if hamming else 1.0,
        "empty_beat_rate": float(1 - beats.mean()),
        "polyphony": float(np.mean(sounding)) if sounding else 0.0,
        "ranges": {r: [min(n.pitch for n in ns), max(n.pitch for n in ns)] for r, ns in score.tracks.items() if ns},
    }
