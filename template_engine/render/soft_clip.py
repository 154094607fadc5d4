"""The master's soft clipper: what a true-peak limiter would have to take beyond its budget is rounded
off instantly by a tanh knee, at 4x the sample rate so that its harmonics are filtered instead of
folding back. Arrays are channels-first float32, (channels, frames); levels in dBFS.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
import scipy

from sample_library.loudness import OVERSAMPLE
from template_engine.threads import render_threads

CLIP_KNEE_DB = 1.0  # the clipper starts bending this far below its ceiling
CLIP_PAD_FRAMES = 32
CLIP_BATCH_FRAMES = 8192  # frames resampled at once, pads and gaps included (their 4x arrays stay in cache)
CLIP_FIND_MARGIN = 10 ** (-1 / 20)  # base-rate samples this close under the knee may peak over it between samples


@lru_cache(maxsize=1)
def resampler_taps() -> np.ndarray:
    """The low-pass at a quarter of the 4x rate that ``resample_poly`` designs for 4x up or down
    (Kaiser-windowed sinc, 81 taps), designed once: the clipper resamples thousands of short spans."""
    return scipy.signal.firwin(20 * OVERSAMPLE + 1, 1 / OVERSAMPLE, window=("kaiser", 5.0))


def soft_clip(audio: np.ndarray, ceiling_db: float, knee_db: float = CLIP_KNEE_DB, *, in_place: bool = False) -> np.ndarray:
    """A copy of (channels, frames) ``audio`` whose samples above ``knee_db`` under ``ceiling_db`` (dBFS)
    bend into a tanh that never reaches the ceiling. The bend runs at 4x the sample rate on the spans
    around the samples it touches (``CLIP_PAD_FRAMES`` either side, which the resampler's edges need),
    so its harmonics are filtered instead of folding back and the clipped peaks stay at the ceiling
    between samples too; everywhere else the signal is untouched. The runs of touched samples are
    bent in batches of about ``CLIP_BATCH_FRAMES`` on the render's threads: a batch reads and writes
    only its own runs' frames, so the order does not matter. ``in_place`` bends float32 ``audio``
    itself."""
    ceiling, knee = _levels(ceiling_db, knee_db)
    out = audio if in_place else audio.astype(np.float32, copy=True)
    hot = np.flatnonzero(np.maximum(out.max(axis=0), -out.min(axis=0)) > knee * CLIP_FIND_MARGIN)
    if hot.size == 0:
        return out
    breaks = np.flatnonzero(np.diff(hot) > 4 * CLIP_PAD_FRAMES)
    batches: list[list[tuple[int, int]]] = [[]]
    filled = 0  # frames the last batch resamples: its runs with their pads
    for first, last in zip(hot[np.r_[0, breaks + 1]].tolist(), hot[np.r_[breaks, hot.size - 1]].tolist()):
        if filled >= CLIP_BATCH_FRAMES:
            batches.append([])
            filled = 0
        batches[-1].append((first, last))
        filled += last - first + 1 + 6 * CLIP_PAD_FRAMES
    with ThreadPoolExecutor(max_workers=render_threads()) as pool:
        list(pool.map(lambda runs: _bend_runs(out, runs, knee, ceiling), batches))
    return out


def _bend_runs(out: np.ndarray, runs: list[tuple[int, int]], knee: float, ceiling: float) -> None:
    """``soft_clip``'s bend, in place, on the frames ``first..last`` of each of ``runs`` and
    ``CLIP_PAD_FRAMES`` either side. Their spans (twice the pad either side) are resampled as one
    array, each followed by silence wider than the resampler's reach and its 4x samples cut where
    its frames end, which gives the samples of resampling each alone in a fraction of the calls."""
    spans = [(max(first - 2 * CLIP_PAD_FRAMES, 0), min(last + 2 * CLIP_PAD_FRAMES + 1, out.shape[1])) for first, last in runs]
    starts = np.cumsum([0] + [b - a + 2 * CLIP_PAD_FRAMES for a, b in spans]).tolist()
    joined = np.zeros((out.shape[0], starts[-1]), dtype=np.float32)
    for (a, b), at in zip(spans, starts):
        joined[:, at:at + b - a] = out[:, a:b]
    up = scipy.signal.resample_poly(joined, OVERSAMPLE, 1, axis=-1, window=resampler_taps())
    for (a, b), at, end in zip(spans, starts, starts[1:]):
        up[:, OVERSAMPLE * (at + b - a):OVERSAMPLE * end] = 0.0  # a span's 4x samples end where its frames do
    size = np.abs(up)
    up = np.where(size > knee, np.sign(up) * _bent(size, knee, ceiling), up)
    down = scipy.signal.resample_poly(up, 1, OVERSAMPLE, axis=-1, window=resampler_taps()).astype(np.float32)
    for (first, last), (a, _), at in zip(runs, spans, starts):
        lo, hi = max(first - CLIP_PAD_FRAMES, 0), min(last + CLIP_PAD_FRAMES + 1, out.shape[1])
        out[:, lo:hi] = down[:, at + lo - a:at + hi - a]


def soft_clip_db(level_db: np.ndarray, ceiling_db: float, knee_db: float = CLIP_KNEE_DB) -> np.ndarray:
    """The level (dBFS) a peak of ``level_db`` leaves ``soft_clip`` at."""
    ceiling, knee = _levels(ceiling_db, knee_db)
    size = 10 ** (level_db / 20)
    return 20 * np.log10(np.where(size > knee, _bent(size, knee, ceiling), size))


def _levels(ceiling_db: float, knee_db: float) -> tuple[float, float]:
    """The clipper's ceiling and the level where its knee starts, linear."""
    return 10 ** (ceiling_db / 20), 10 ** ((ceiling_db - knee_db) / 20)


def _bent(size: np.ndarray, knee: float, ceiling: float) -> np.ndarray:
    """Where a magnitude ``size`` (linear) over ``knee`` lands on the tanh that approaches ``ceiling``."""
    return knee + (ceiling - knee) * np.tanh(np.maximum(size - knee, 0) / (ceiling - knee))
