"""The learned mixing chain of each role, from the bundle's mix profile.

Gain to the learned loudness relative to the mix, a short FIR that moves the rendered spectrum to
the learned third-octave curve (run by the sampler on each distinct note clip), a compressor towards
the learned crest factor, stereo width, the learned ducking curve at every kick, and the learned
level and brightness trajectories through each section type. Arrays are (2, frames) float32; the
steps work in place on the spans (frame ranges) where the track sounds, since it is silent elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy
from pedalboard import Compressor, Pedalboard, Reverb

from project_ingest.mix_analysis import as_floats, crest_db, ducking_gain, peak_and_rms
from project_ingest.profile import Ducking, SectionAutomation
from project_ingest.score import BEATS_PER_BAR, STEPS_PER_BAR, Score
from project_ingest.spectrum import BAND_CENTRES, WELCH_SEGMENT, segment_freqs, sound_power_spectrum, spectrum_band_levels_db
from sample_library.loudness import channel_map, integrated_loudness
from sample_library.sampler import ClipFilter, Performance
from sample_library.spans import Span, span_blocks
from template_engine.render.dsp import piecewise_linear, swept_lowpass

MIX_REFERENCE_LUFS = -16.0
MAX_EQ_DB = 9.0
LONG_CLIP_FRAMES = 1 << 18  # about 6 s at 44.1 kHz
FIR_TAPS = 2047  # 21.5 Hz resolution at 44.1 kHz: enough for the 25-63 Hz bands of a sub


def velocity_shaped(velocity: int, step: int, means: tuple[float | None, ...] | None, amount: float = 0.5) -> int:
    """Pull a generated velocity towards the artist's mean ``means`` at sixteenth ``step`` (0..15) of
    the bar, by ``amount`` (0..1)."""
    if not means:
        return velocity
    mean = means[step % STEPS_PER_BAR]
    if mean is None:
        return velocity
    return min(max(round((1 - amount) * velocity + amount * mean), 1), 127)


def eq_correction_db(measured_db: np.ndarray, target_db: list[float]) -> np.ndarray:
    """The EQ (dB per third-octave band of ``BAND_CENTRES``) that moves a track whose band levels are
    ``measured_db`` to the learned curve ``target_db``, limited to +-9 dB around a 0 dB median."""
    correction = np.clip(np.array(target_db) - measured_db, -MAX_EQ_DB, MAX_EQ_DB)
    return correction - np.median(correction)


def performance_band_levels_db(perf: Performance, sample_rate: int) -> np.ndarray:
    """The long-term band levels (dB, ``band_levels_db``) of the track ``perf`` places, from its
    distinct clips: each clip's spectrum (channel mean) weighted by the squared gains of its notes.
    Where notes do not overlap within a segment this is the placed track's spectrum; a 3-minute
    track is 20 times longer than its distinct clips (a drum track is a handful of hits)."""
    weights = np.zeros(len(perf.clips))
    for which, _, gain in perf.notes:
        weights[which] += gain * gain
    power = np.zeros(WELCH_SEGMENT // 2 + 1)
    for weight, clip in zip(weights.tolist(), perf.clips):
        if weight > 0:
            power += weight * sound_power_spectrum(clip.mean(axis=0))
    return spectrum_band_levels_db(segment_freqs(sample_rate), power, sample_rate)


def eq_fir(correction: np.ndarray, sample_rate: int) -> np.ndarray:
    """A linear-phase FIR (FIR_TAPS,) whose response is ``correction`` (dB per band of ``BAND_CENTRES``)."""
    nyq = sample_rate / 2
    freqs = np.concatenate([[0.0], BAND_CENTRES[BAND_CENTRES < nyq] / nyq, [1.0]])
    gains_db = np.concatenate([[correction[0]], correction[: freqs.size - 2], [correction[freqs.size - 3]]])
    return scipy.signal.firwin2(FIR_TAPS, freqs, 10 ** (gains_db / 20)).astype(np.float32)


def fir_clip_filter(fir: np.ndarray) -> ClipFilter:
    """The sampler's clip filter for ``fir``: a clip (2, n) becomes its full convolution (2, n + taps - 1)
    placed half the filter's length early, so the linear-phase delay is compensated. A clip of
    ``LONG_CLIP_FRAMES`` or more (a whole song, for the master's matching EQ) is convolved one channel
    at a time, on threads: the two-channel overlap-add took 0.55 s on a 3-minute song, one channel at
    a time 0.20 s (the same samples), where for a note's clip it is the faster."""
    delay = fir.size // 2

    def convolve(channel: np.ndarray) -> np.ndarray:
        return scipy.signal.oaconvolve(channel, fir, mode="full")

    def apply(clip: np.ndarray) -> tuple[np.ndarray, int]:
        if clip.shape[1] < LONG_CLIP_FRAMES:
            full = scipy.signal.oaconvolve(clip, fir[None, :], mode="full", axes=-1)
        else:
            full = np.stack(channel_map(convolve, clip))
        return full.astype(np.float32, copy=False), -delay
    return apply


@dataclass(frozen=True)
class CompressorSettings:
    """A compressor as it ran: threshold (dBFS), ratio (x:1), attack and release (ms)."""

    threshold_db: float
    ratio: float = 4.0
    attack_ms: float = 3.0
    release_ms: float = 80.0


def compress_to_crest(audio: np.ndarray, sample_rate: int, target_crest_db: float | None,
                      spans: list[Span]) -> CompressorSettings | None:
    """Compress, in place within ``spans``, when the rendered crest factor exceeds the learned one by
    more than 2 dB; return the settings used, or None when it did not compress. Spans are apart by
    more than the compressor's release, so each starts afresh."""
    if target_crest_db is None or not spans:
        return None
    loudest, rms = peak_and_rms(audio, sample_rate, spans)
    crest = crest_db(loudest, rms)
    if crest <= target_crest_db + 2:
        return None
    peak_db = 20 * np.log10(max(loudest, 1e-12))
    settings = CompressorSettings(threshold_db=float(peak_db - (crest - target_crest_db) * 1.5))
    comp = Pedalboard([Compressor(threshold_db=settings.threshold_db, ratio=settings.ratio,
                                  attack_ms=settings.attack_ms, release_ms=settings.release_ms)])
    for a, b in spans:
        audio[:, a:b] = comp(audio[:, a:b], sample_rate)
    return settings


def set_width(audio: np.ndarray, target: float | None, spans: list[Span]) -> None:
    """Scale the side signal, in place, so the side/mid RMS ratio approaches ``target`` (limited to 0..2x),
    a cache-sized block at a time (``span_blocks``)."""
    if target is None or audio.shape[0] != 2 or not spans:
        return
    mid_power = side_power = 0.0
    for a, b in span_blocks(spans):
        mid, side = audio[0, a:b] + audio[1, a:b], audio[0, a:b] - audio[1, a:b]
        mid_power += float(np.einsum("i,i->", mid, mid))
        side_power += float(np.einsum("i,i->", side, side))
    current = np.sqrt(side_power) / max(np.sqrt(mid_power), 1e-12)
    if current < 1e-4:
        return
    scale = float(np.clip(target / current, 0.0, 2.0))
    same, cross = np.float32((1 + scale) / 2), np.float32((1 - scale) / 2)
    for a, b in span_blocks(spans):
        left, right = audio[0, a:b], audio[1, a:b]
        crossed = right * cross
        right *= same
        right += left * cross
        left *= same
        left += crossed


def sidechain_gain(sample_rate: int, ducking: Ducking | None, kick_times: np.ndarray, seconds_per_beat: float,
                   start: int, stop: int) -> np.ndarray | None:
    """The learned ducking curve placed at every kick onset (seconds), sample-accurate: the linear gain
    of frames ``start..stop`` (stop - start,), or None when the role does not duck."""
    if ducking is None or kick_times.size == 0:
        return None
    curve = np.minimum(np.array(ducking.curve_db[ducking.pre_points:], dtype=float), 0.0)
    curve[-max(1, curve.size // 8):] = np.linspace(curve[-max(1, curve.size // 8)], 0.0, max(1, curve.size // 8))
    return ducking_gain(kick_times, stop - start, sample_rate, curve_db=curve, start=start,
                        points_per_beat=ducking.points_per_beat, seconds_per_beat=seconds_per_beat)


@dataclass
class Automation:
    """A role's learned automation laid on a song: gain rides and low-pass sweeps, each as
    (first frame, end frame, normalised times (n,), values (n,)); ride values in dB, sweep values in
    octaves of brightness below the brightest point."""

    rides: list[tuple[int, int, np.ndarray, np.ndarray]]
    sweeps: list[tuple[int, int, np.ndarray, np.ndarray]]

    def ride_gain(self, start: int, stop: int) -> np.ndarray | None:
        """Linear gain (stop - start,) of the rides over frames ``start..stop``; None where none plays."""
        gain_db = None
        for a, b, t, level in self.rides:
            lo, hi = max(a, start), min(b, stop)
            if hi <= lo:
                continue
            if gain_db is None:
                gain_db = np.zeros(stop - start, dtype=np.float32)
            gain_db[lo - start:hi - start] = piecewise_linear(a + t * max(b - a - 1, 1), level, lo, hi)
        if gain_db is None:
            return None
        np.clip(gain_db, -12, 12, out=gain_db)
        gain_db *= np.float32(np.log(10) / 20)
        return np.exp(gain_db, out=gain_db)

    def sweep(self, audio: np.ndarray, sample_rate: int, spans: list[Span]) -> None:
        """Run the low-pass sweeps, in place, over the parts of ``spans`` they cover."""
        for a, b, t, rel in self.sweeps:
            cutoff = _sweep_cutoff(t, rel, b - a)
            for lo, hi in spans:
                lo, hi = max(a, lo), min(b, hi)
                if hi > lo:
                    audio[:, lo:hi] = swept_lowpass(audio[:, lo:hi], sample_rate,
                                                    lambda frames, lo=lo, a=a, cutoff=cutoff: cutoff(frames + lo - a))


def plan_automation(score: Score, sample_rate: int, frames: int, automation: dict[str, SectionAutomation]) -> Automation:
    """Lay the learned per-section-type level rides and brightness sweeps on ``score``'s sections.

    Brightness (octaves of spectral centroid) that rises through a section type by more than a third
    of an octave becomes a low-pass sweep over the same normalised time; level trajectories become
    a gain ride (limited to +-12 dB)."""
    plan = Automation(rides=[], sweeps=[])
    if not automation:
        return plan
    spb = 60.0 / score.bpm
    for s in score.sections:
        curve = automation.get(s.kind)
        if not curve:
            continue
        a = int(s.start_bar * BEATS_PER_BAR * spb * sample_rate)
        b = min(int(s.end_bar * BEATS_PER_BAR * spb * sample_rate), frames)
        if b <= a:
            continue
        t = np.linspace(0, 1, len(curve.level_db))
        level = as_floats(curve.level_db)
        ok = np.isfinite(level)
        if ok.sum() >= 2:
            plan.rides.append((a, b, t[ok], level[ok] - np.nanmedian(level)))
        bright = as_floats(curve.brightness_oct)
        ok = np.isfinite(bright)
        if ok.sum() >= 2 and bright[ok][-1] - bright[ok][0] > 1 / 3:
            plan.sweeps.append((a, b, t[ok], bright[ok] - bright[ok].max()))
    return plan


def _sweep_cutoff(t: np.ndarray, brightness_oct: np.ndarray, frames: int) -> Callable[[np.ndarray], np.ndarray]:
    """Low-pass cutoff (Hz) at frames (n,) of a section: 18 kHz where it is brightest, three octaves of
    cutoff per octave of brightness below that, at most down to 150 Hz."""
    return lambda at: np.clip(18000 * 2 ** (3.0 * np.interp(at / frames, t, brightness_oct)), 150, 18000)


def level_gain_db(audio: np.ndarray, sample_rate: int, relative_db: float | None, spans: list[Span]) -> float:
    """Gain (dB) that sets the role's loudness ``relative_db`` from the mix reference (0 when unknown);
    ``audio`` is (2, frames), or (1, frames) for a mono part played on both channels."""
    loud = integrated_loudness(np.broadcast_to(audio, (2, audio.shape[1])), sample_rate, spans=spans)
    if relative_db is None or loud <= -69:
        return 0.0
    return float(np.clip(MIX_REFERENCE_LUFS + relative_db - loud, -40, 30))


def reverb_return(sends: np.ndarray, sample_rate: int) -> np.ndarray:
    """The shared reverb bus: 100 % wet plate-like reverb of the summed sends, (2, frames)."""
    board = Pedalboard([Reverb(room_size=0.7, damping=0.5, wet_level=1.0, dry_level=0.0, width=1.0)])
    return board(sends.astype(np.float32), sample_rate)
