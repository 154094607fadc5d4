"""How the artist mixes, measured on each stem against the song's mix.

Per role: loudness relative to the mix (LU), long-term spectrum (third-octave EQ curve, dB),
crest factor (dB), stereo width (side/mid RMS ratio), reverb tail (s), the sidechain ducking curve
around kick onsets (dB, in beats), automation per section type (level in dB and brightness in
octaves over normalised section time) and velocities (by sixteenth position and section type).
Every figure carries ``n``, the number of observations it rests on.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy

from project_ingest.score import BEATS_PER_BAR, STEPS_PER_BAR, BeatNote, Section, step_in_bar
from project_ingest.spectrum import band_levels_db
from sample_library.loudness import integrated_loudness
from sample_library.spans import Span, sounding_spans

DUCK_POINTS_PER_BEAT = 64
DUCK_PRE_POINTS = 8
AUTOMATION_POINTS = 16
MAX_DUCK_ATTACK_BEATS = 0.25
MIN_DUCK_DB = 2.0  # a smaller dip is the part's own movement, not a sidechain anyone hears


def crest_factor_db(audio: np.ndarray, sample_rate: int, spans: list[Span] | None = None) -> float:
    """Peak over RMS (dB) of the stem where it plays (50 ms frames within 40 dB of the loudest); with
    ``spans`` (frame ranges on the 100 ms grid of ``sounding_spans``), of those parts of ``audio``
    as if they were joined, without joining them."""
    return crest_db(*peak_and_rms(audio, sample_rate, spans))


def crest_db(peak: float, rms: float | np.floating) -> float:
    """Peak over RMS (dB) from a stem's largest absolute sample and RMS level; 0 for silence."""
    return float(20 * np.log10(peak / max(rms, 1e-12))) if rms > 0 else 0.0


def peak_and_rms(audio: np.ndarray, sample_rate: int,
                 spans: list[Span] | None = None) -> tuple[float, float | np.floating]:
    """The largest absolute sample and the RMS level (linear, in the audio's precision) of the stem
    where it plays, as ``crest_factor_db`` reads them (its 50 ms frames within 40 dB of the loudest,
    within ``spans`` when given); the RMS is 0 for silence."""
    hop = int(0.05 * sample_rate)
    pieces = [audio] if spans is None else [audio[:, a:b] for a, b in spans]
    if not pieces:
        return 0.0, 0.0
    peak = max(max(float(piece.max()), -float(piece.min())) for piece in pieces)
    frames = np.concatenate([_frame_powers(piece, hop) for piece in pieces]) / audio.shape[0]
    if frames.size == 0 or frames.max() <= 0:
        return peak, 0.0
    active = frames > frames.max() * 1e-4
    return peak, np.sqrt(frames[active].mean())


def _frame_powers(audio: np.ndarray, hop: int) -> np.ndarray:
    """Mean square (summed over channels) of each whole ``hop``-frame frame of (channels, frames) ``audio``."""
    kept = audio[:, : audio.shape[1] // hop * hop]
    return np.einsum("ij,ij->j", kept, kept).reshape(-1, hop).mean(axis=1)


def stereo_width(audio: np.ndarray) -> float:
    """Side RMS over mid RMS: 0 for mono, 1 for two unrelated channels."""
    if audio.shape[0] < 2:
        return 0.0
    mid = 0.5 * (audio[0] + audio[1])
    side = 0.5 * (audio[0] - audio[1])
    return float(np.sqrt(np.mean(side ** 2)) / max(np.sqrt(np.mean(mid ** 2)), 1e-12))


def envelope_at(cumsq: np.ndarray, centres: np.ndarray, window: int) -> np.ndarray:
    """RMS (dB) of windows of ``window`` frames centred on ``centres`` (frames), from a cumulative sum of squares."""
    a = np.clip((centres - window // 2).astype(int), 0, cumsq.size - 1)
    b = np.clip(a + window, 0, cumsq.size - 1)
    power = (cumsq[b] - cumsq[a]) / np.maximum(b - a, 1)
    return 10 * np.log10(np.maximum(power, 1e-14))


@dataclass
class Ducking:
    """A ducking curve: dB from ``DUCK_PRE_POINTS`` points before a kick to one beat after it."""

    depth_db: float
    attack_beats: float
    hold_beats: float
    release_beats: float
    curve_db: list[float]
    n: int

    def to_dict(self) -> dict:
        return {"depth_db": round(self.depth_db, 3), "attack_beats": round(self.attack_beats, 4),
                "hold_beats": round(self.hold_beats, 4), "release_beats": round(self.release_beats, 4),
                "points_per_beat": DUCK_POINTS_PER_BEAT, "pre_points": DUCK_PRE_POINTS,
                "curve_db": [round(float(v), 3) for v in self.curve_db], "n": self.n}


def held_over(kick_onsets: np.ndarray, notes: list[BeatNote], seconds_per_beat: float) -> np.ndarray:
    """The kick onsets (seconds) across which a note of the part is held, from before the kick's
    window to half a beat after it: only there is a dip in the stem's level the sidechain's doing,
    not a rest or a new note of the part."""
    if not notes:
        return kick_onsets[:0]
    starts = np.array([n.start for n in notes]) * seconds_per_beat
    ends = np.array([n.start + n.duration for n in notes]) * seconds_per_beat
    pre = DUCK_PRE_POINTS / DUCK_POINTS_PER_BEAT * seconds_per_beat
    keep = [k for k in kick_onsets if np.any((starts <= k - pre) & (ends >= k + 0.5 * seconds_per_beat))]
    return np.array(keep, dtype=float)


def ducking_curve(mono: np.ndarray, sample_rate: int, kick_onsets: np.ndarray, seconds_per_beat: float) -> Ducking | None:
    """The stem's level around each kick onset (seconds), each normalised to its own recovered level
    and combined by the median; depth, attack, hold and release are those of the ducking shape
    that fits the curve best. None with fewer than 4 kicks where the stem plays, or when the dip is
    under 2 dB or bottoms out later than a quarter beat after the kick (a part's own rhythm, not a
    sidechain)."""
    if kick_onsets.size < 4:
        return None
    hop = seconds_per_beat * sample_rate / DUCK_POINTS_PER_BEAT
    window = max(8, int(round(hop)))
    cumsq = np.concatenate([[0.0], np.cumsum(mono.astype(np.float64) ** 2)])
    k = np.arange(-DUCK_PRE_POINTS, DUCK_POINTS_PER_BEAT)
    loud = 10 * np.log10(cumsq[-1] / max(mono.size, 1) + 1e-14)
    curves = []
    for onset in kick_onsets:
        centres = onset * sample_rate + k * hop
        if centres[-1] + window >= mono.size or centres[0] < 0:
            continue
        env = envelope_at(cumsq, centres, window)
        ref = float(np.median(np.concatenate([env[:DUCK_PRE_POINTS], env[-DUCK_POINTS_PER_BEAT // 4:]])))
        if ref < loud - 30:
            continue
        curves.append(env - ref)
    if len(curves) < 4:
        return None
    curve = np.median(np.array(curves), axis=0)
    body = curve[DUCK_PRE_POINTS:]
    depth, attack, hold, release = fit_duck_shape(body)
    if depth < MIN_DUCK_DB or attack > MAX_DUCK_ATTACK_BEATS:
        return None
    return Ducking(depth_db=depth, attack_beats=attack, hold_beats=hold, release_beats=release,
                   curve_db=curve.tolist(), n=len(curves))


def duck_shape(t: np.ndarray, attack: float, hold: float, release: float) -> np.ndarray:
    """A ducking shape (0..1 of the depth) at ``t`` beats after a kick: falls linearly over ``attack``,
    holds for ``hold``, comes back linearly in dB over ``release`` beats."""
    t = np.asarray(t, dtype=float)
    falling = np.clip(t / max(attack, 1e-9), 0.0, 1.0)
    rising = 1.0 - np.clip((t - attack - hold) / max(release, 1e-9), 0.0, 1.0)
    return np.where(t < attack, falling, rising)


@lru_cache(maxsize=4)
def _duck_shapes(points: int) -> tuple[list[tuple[float, float, float]], np.ndarray]:
    """Every (attack, hold, release) on a 1/64-beat grid and its shape over ``points`` points."""
    t = np.arange(points) / DUCK_POINTS_PER_BEAT
    step = 1 / DUCK_POINTS_PER_BEAT
    grid = [(float(a), float(h), float(r)) for a in np.arange(0, MAX_DUCK_ATTACK_BEATS + 2 * step, step)
            for h in np.arange(0, 0.25 + step / 2, step) for r in np.arange(step, 1.0 + step / 2, step)]
    return grid, np.array([duck_shape(t, a, h, r) for a, h, r in grid])


def fit_duck_shape(body: np.ndarray) -> tuple[float, float, float, float]:
    """Depth (dB), attack, hold and release (beats) of the shape that fits ``body`` (dB from the kick,
    ``DUCK_POINTS_PER_BEAT`` points per beat) best in least squares; robust where the part's own
    movement makes the curve ragged, unlike reading the half-depth crossing."""
    grid, shapes = _duck_shapes(body.size)
    depths = np.maximum(-(shapes @ body) / np.maximum((shapes ** 2).sum(axis=1), 1e-9), 0.0)
    errors = ((body[None, :] + depths[:, None] * shapes) ** 2).sum(axis=1)
    best = int(np.argmin(errors))
    attack, hold, release = grid[best]
    return float(depths[best]), float(attack), float(hold), float(release)


def frame_features(mono: np.ndarray, sample_rate: int, *, hop: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Per frame of ``hop`` frames: RMS level (dB) and spectral centroid (Hz); shapes (frames,). The
    spectra are float32 (a whole stem's frames at once)."""
    n = mono.size // hop
    if n == 0:
        return np.array([-140.0]), np.array([0.0])
    frames = mono[: n * hop].astype(np.float32, copy=False).reshape(n, hop)
    spec = np.abs(scipy.fft.rfft(frames * np.hanning(hop).astype(np.float32), axis=1))
    freqs = scipy.fft.rfftfreq(hop, 1 / sample_rate).astype(np.float32)
    level = 10 * np.log10(np.mean(np.square(frames), axis=1, dtype=np.float64) + 1e-14)
    centroid = (spec @ freqs).astype(np.float64) / (spec.sum(axis=1, dtype=np.float64) + 1e-12)
    return level, centroid


def automation(level: np.ndarray, centroid: np.ndarray, frame_seconds: float, spans: list[tuple[str, float, float]]) -> dict:
    """Per section type: median trajectory of level (dB re the stem's median) and brightness
    (octaves re its median centroid) over ``AUTOMATION_POINTS`` steps of normalised section time,
    measured where the stem plays (within 40 dB of its loudest frame); None where it is silent.

    ``spans`` are (section type, start s, end s)."""
    active = level > level.max() - 40
    if not active.any():
        return {}
    ref_level = float(np.median(level[active]))
    ref_centroid = float(np.median(centroid[active])) or 1.0
    per_kind: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for kind, start, end in spans:
        edges = np.linspace(start, end, AUTOMATION_POINTS + 1) / frame_seconds
        lv, br = np.full(AUTOMATION_POINTS, np.nan), np.full(AUTOMATION_POINTS, np.nan)
        for i in range(AUTOMATION_POINTS):
            a, b = int(edges[i]), max(int(edges[i + 1]), int(edges[i]) + 1)
            sel = slice(a, min(b, level.size))
            if a >= level.size:
                break
            on = active[sel]
            if on.any():
                lv[i] = float(10 * np.log10(np.mean(10 ** (level[sel][on] / 10)))) - ref_level
                br[i] = float(np.log2(max(np.median(centroid[sel][on]), 1.0) / ref_centroid))
        if np.isfinite(lv).any():
            per_kind.setdefault(kind, []).append((lv, br))
    out = {}
    for kind, rows in per_kind.items():
        lv = nanmedian_rows(np.array([r[0] for r in rows]))
        br = nanmedian_rows(np.array([r[1] for r in rows]))
        out[kind] = {"level_db": rounded_or_none(lv), "brightness_oct": rounded_or_none(br), "n": len(rows)}
    return out


def nanmedian_rows(rows: np.ndarray) -> np.ndarray:
    """Median over rows ignoring NaN; NaN where a column has no value."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(rows, axis=0)


def rounded_or_none(values: np.ndarray) -> list[float | None]:
    """Values for JSON: rounded to 3 decimals, None where there is no value (NaN)."""
    return [None if not np.isfinite(v) else round(float(v), 3) for v in values]


def as_floats(values: list) -> np.ndarray:
    """JSON values (lists, nested or not) back as a float array, NaN where they hold None."""
    return np.array(values, dtype=float)


def velocity_stats(notes: list[BeatNote], sections: list[Section]) -> dict:
    """Velocities by sixteenth position in the bar and by section type: means, spreads and counts."""
    by_pos: list[list[int]] = [[] for _ in range(STEPS_PER_BAR)]
    by_kind: dict[str, list[int]] = {}
    for n in notes:
        pos = step_in_bar(n.start)
        by_pos[pos].append(n.velocity)
        bar = int(n.start // BEATS_PER_BAR)
        kind = next((s.kind for s in sections if s.start_bar <= bar < s.end_bar), None)
        if kind:
            by_kind.setdefault(kind, []).append(n.velocity)
    return {
        "by_position": {"mean": [round(float(np.mean(v)), 2) if v else None for v in by_pos],
                        "std": [round(float(np.std(v)), 2) if v else None for v in by_pos],
                        "n": [len(v) for v in by_pos]},
        "by_section": {k: {"mean": round(float(np.mean(v)), 2), "n": len(v)} for k, v in sorted(by_kind.items())},
    }


def reverb_tail(level: np.ndarray, frame_seconds: float, note_ends: list[float], next_starts: list[float]) -> tuple[float | None, int]:
    """Median seconds for the level to fall 20 dB after note ends followed by at least 1 s of rest."""
    tails = []
    for end, nxt in zip(note_ends, next_starts):
        if nxt - end < 1.0:
            continue
        i = int(end / frame_seconds)
        j = int(nxt / frame_seconds)
        if i >= level.size - 2:
            continue
        seg = level[i:min(j, level.size)]
        below = np.nonzero(seg < seg[0] - 20)[0]
        if seg.size and seg[0] > level.max() - 50:
            tails.append((below[0] if below.size else seg.size) * frame_seconds)
    if not tails:
        return None, 0
    return float(np.median(tails)), len(tails)


DUCKABLE_ROLES = ("bass", "sub", "pad", "chords", "lead", "pluck", "arp", "vocal_chop")


def bar_levels_db(mix: np.ndarray, sr: int, spb: float, offset: float, bars: int) -> np.ndarray:
    """Mean-square level (dB) of each bar of ``mix`` (2, frames), bars starting ``offset`` beats in: (bars,)."""
    mono = mix.mean(axis=0)
    out = np.full(bars, -120.0)
    for b in range(bars):
        a = int(((b * BEATS_PER_BAR) + offset) * spb * sr)
        e = int((((b + 1) * BEATS_PER_BAR) + offset) * spb * sr)
        seg = mono[a:e]
        if seg.size:
            out[b] = 10 * np.log10(np.mean(seg.astype(np.float64) ** 2) + 1e-14)
    return out


def section_levels_db(bar_db: np.ndarray, sections: list[Section]) -> dict[str, float]:
    """Mean-square level (dB) of each section type over all its bars, from the song's bar levels (bars,)."""
    kinds: dict[str, list[float]] = {}
    for s in sections:
        kinds.setdefault(s.kind, []).extend(bar_db[s.start_bar:s.end_bar].tolist())
    return {k: round(float(10 * np.log10(np.mean(10 ** (np.array(v) / 10)))), 2) for k, v in kinds.items() if v}


def measure_role(role: str, audio: np.ndarray, sr: int, *, mix_loudness: float, notes: list[BeatNote],
                 kicks: np.ndarray, spans: list[tuple[str, float, float]], sections: list[Section], spb: float,
                 offset: float = 0.0) -> dict | None:
    """The mix figures of one role's stem (2, frames) against a mix of ``mix_loudness`` LUFS; ``kicks``
    and ``spans`` (section type, start s, end s) are in seconds, ``notes`` in beats. None when silent."""
    mono = audio.mean(axis=0)
    if np.max(np.abs(mono)) < 1e-5:
        return None
    level, centroid = frame_features(mono, sr)
    frame_s = 1024 / sr
    notes = sorted(notes, key=lambda n: n.start)
    ends = [(n.start + n.duration) * spb for n in notes]
    nexts = [notes[i + 1].start * spb if i + 1 < len(notes) else mono.size / sr for i in range(len(notes))]
    tail, tail_n = reverb_tail(level, frame_s, ends, nexts)
    duck = ducking_curve(mono, sr, held_over(kicks, notes, spb), spb) if role in DUCKABLE_ROLES else None
    vel_notes = [BeatNote(n.start - offset, n.duration, n.pitch, n.velocity) for n in notes]
    return {
        "relative_loudness_db": round(integrated_loudness(audio, sr, spans=sounding_spans(audio, sr)) - mix_loudness, 3),
        "eq_db": [round(float(v), 2) for v in band_levels_db(mono, sr)],
        "crest_db": round(crest_factor_db(audio, sr), 2),
        "width": round(stereo_width(audio), 3),
        "reverb_tail_s": None if tail is None else round(tail, 3), "reverb_tail_n": tail_n,
        "sidechain": duck.to_dict() if duck else None,
        "automation": automation(level, centroid, frame_s, spans),
        "velocity": velocity_stats(vel_notes, sections),
        "n": 1,
    }


def ducking_gain(onsets: np.ndarray, frames: int, sample_rate: int, *, curve_db: np.ndarray,
                 points_per_beat: int, seconds_per_beat: float, start: int = 0) -> np.ndarray:
    """Linear gain (frames,) of the frames from ``start`` on, with ``curve_db`` placed at every onset
    (seconds); overlaps take the deeper."""
    span = int(curve_db.size / points_per_beat * seconds_per_beat * sample_rate)
    pos = np.arange(span) / (seconds_per_beat * sample_rate) * points_per_beat
    curve = (10.0 ** (np.interp(pos, np.arange(curve_db.size), curve_db, right=0.0) / 20.0)).astype(np.float32)
    gain = np.ones(frames, dtype=np.float32)
    for onset in np.asarray(onsets, dtype=float):
        at = int(round(onset * sample_rate)) - start
        if at >= frames or at + span <= 0:
            continue
        a, b = max(at, 0), min(at + span, frames)
        np.minimum(gain[a:b], curve[a - at:b - at], out=gain[a:b])
    return gain
