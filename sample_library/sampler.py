"""The sampler: turns notes into audio with one-shots, never with a synthesiser.

Every array is channels-first float32 at the render sample rate, shape (2, frames). Note times are
in seconds, pitches are MIDI notes, velocities 1..127.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import scipy

from sample_library.audio_io import to_stereo

DEFAULT_VELOCITY_EXPONENT = 1.5
CHOKE_FADE_SECONDS = 0.003
CHORD_ONSET_SECONDS = 0.02  # notes starting this close together form one chord
MAX_LOOP_CROSSFADE_SECONDS = 0.05

ClipFilter = Callable[[np.ndarray], "tuple[np.ndarray, int]"]


@dataclass(frozen=True)
class Note:
    """One note: start and end in seconds, MIDI pitch, velocity 1..127."""

    start: float
    end: float
    pitch: int
    velocity: int


@dataclass
class Zone:
    """One playable sample of an instrument.

    audio : (2, frames) float32 at the render rate, leading silence trimmed.
    root_midi : the pitch the sample sounds at; None for unpitched sounds (played as recorded).
    trigger_note : for drums, the note that plays this zone (42 closed hat, 46 open hat), else None.
    velocity : the velocity this layer was played at, when known (velocity layers).
    sustain_end : for a note sliced from a stem, the frame where its held part ends (its release
        follows); a sustain loop is looked for before it.
    chord : the zone is a chord one-shot: of notes starting together, only the lowest plays it.
    """

    key: str
    audio: np.ndarray
    root_midi: float | None = None
    trigger_note: int | None = None
    velocity: int | None = None
    sustain_end: int | None = None
    chord: bool = False


@dataclass
class Performance:
    """An instrument's notes made ready to place: its distinct clips, each (2, n) float32, and in note
    order (clip index, start frame, linear gain) of every note."""

    clips: list[np.ndarray]
    notes: list[tuple[int, int, float]]

    def place(self, length: int, clip_filter: ClipFilter | None = None, *, mono_as_one: bool = False) -> np.ndarray:
        """The notes summed into a buffer of ``length`` frames: (2, length) float32. With ``mono_as_one``,
        a mono part (every clip's two channels the same samples) is placed as its one channel,
        (1, length), which stands for both: a chain then runs over it once, not twice.

        ``clip_filter``, when given, filters each distinct clip before it is placed and returns it with
        its offset in frames from the note's start (negative: it begins earlier); a linear filter
        applied this way equals the same filter run over the whole track, at the cost of the distinct
        clips only."""
        clips = self.clips
        if mono_as_one and all(np.array_equal(c[0], c[-1]) for c in clips):
            clips = [c[:1] for c in clips]
        placed = [clip_filter(c) if clip_filter is not None else (c, 0) for c in clips]
        return _sum_placed(placed, self.notes, np.zeros((clips[0].shape[0] if clips else 2, length), dtype=np.float32))


def _sum_placed(clips: list[tuple[np.ndarray, int]], notes: list[tuple[int, int, float]], out: np.ndarray) -> np.ndarray:
    """Add every note's (clip, offset) at its start frame times its gain into ``out`` (..., frames)."""
    length = out.shape[-1]
    for which, start, gain in notes:
        clip, offset = clips[which]
        a = start + offset
        lo, hi = max(a, 0), min(length, a + clip.shape[-1])
        if hi > lo:
            out[..., lo:hi] += clip[..., lo - a:hi - a] * np.float32(gain)
    return out


@dataclass
class Instrument:
    """A role's instrument: its zones and how it plays them.

    sustained : notes hold for their length (looping the sample if needed) then release; otherwise
        the sample plays to its end (one-shot) unless choked.
    mono : a new note cuts the previous one (bass lines); ``glide`` seconds of portamento between
        overlapping notes when above 0.
    choke_notes : notes that cut each other (a closed hat cuts an open hat); ``choke_all`` makes every
        note cut the previous (a kick that does not smear into itself).
    release : seconds of fade after a sustained note's end.
    velocity_exponent : gain = (velocity / 127) ** exponent.
    """

    role: str
    zones: list[Zone]
    sample_rate: int
    sustained: bool = False
    mono: bool = False
    glide: float = 0.0
    choke_notes: frozenset[int] = frozenset()
    choke_all: bool = False
    release: float = 0.05
    velocity_exponent: float = DEFAULT_VELOCITY_EXPONENT
    seed: int = 0
    _cache: dict = field(default_factory=dict, repr=False)

    def velocity_gain(self, velocity: int) -> float:
        """Linear gain for a velocity (1..127)."""
        return (min(max(velocity, 1), 127) / 127.0) ** self.velocity_exponent

    def render(self, notes: list[Note], length: int, clip_filter: ClipFilter | None = None) -> np.ndarray:
        """Play ``notes`` into a buffer of ``length`` frames: returns (2, length) float32."""
        return self.perform(notes, length).place(length, clip_filter)

    def perform(self, notes: list[Note], length: int) -> Performance:
        """What playing ``notes`` into ``length`` frames takes: each distinct note clip (same zone,
        pitch, length and cut) built once, and where and how loud every note places one."""
        perf = Performance(clips=[], notes=[])
        if not self.zones or not notes:
            return perf
        notes = sorted(notes, key=lambda n: (n.start, n.pitch))
        if all(z.chord for z in self.zones):
            notes = [n for i, n in enumerate(notes) if i == 0 or n.start - notes[i - 1].start > CHORD_ONSET_SECONDS]
        rng = np.random.default_rng(self.seed)
        last_choice: dict[tuple[int, ...], int] = {}
        index: dict[tuple, int] = {}
        for i, note in enumerate(notes):
            start = int(round(note.start * self.sample_rate))
            if start >= length:
                break
            zone = self._pick_zone(note, rng, last_choice)
            cut = self._cut_frame(notes, i)
            gain = self.velocity_gain(note.velocity)
            if zone.velocity is not None:
                gain /= max(self.velocity_gain(zone.velocity), 1e-3)
            key = self._clip_key(zone, note, notes, i, start, cut)
            if key not in index:
                index[key] = len(perf.clips)
                perf.clips.append(self._clip(zone, key))
            perf.notes.append((index[key], start, gain))
        return perf

    def _clip_key(self, zone: Zone, note: Note, notes: list[Note], i: int, start: int, cut: int | None) -> tuple:
        """What decides a note's clip: (zone, pitch, glide source, frames held, release frames) for a
        sustained instrument; (zone, pitch, frames kept before a choke) for a one-shot."""
        sr = self.sample_rate
        if self.sustained:
            hold = max(1, int(round((note.end - note.start) * sr)))
            release = max(1, int(self.release * sr))
            if cut is not None:
                hold = max(1, min(hold, cut - start))
                release = min(release, max(1, int(CHOKE_FADE_SECONDS * sr)))
            return zone.key, note.pitch, self._glide_source(notes, i), hold, release
        return zone.key, note.pitch, None if cut is None else max(0, cut - start)

    def _clip(self, zone: Zone, key: tuple) -> np.ndarray:
        """The unscaled audio (2, frames) of ``zone`` for a clip key from ``_clip_key``."""
        if self.sustained:
            _, pitch, glide_from, hold, release = key
            source = self._pitched(zone, pitch, hold + release, glide_from)
            clip = source[:, :hold + release].copy()
            clip[:, hold:] *= _fade_out(clip.shape[1] - hold)
            return clip
        _, pitch, keep = key
        clip = self._pitched(zone, pitch, 0, None)
        if keep is not None and keep < clip.shape[1]:
            fade = max(1, int(CHOKE_FADE_SECONDS * self.sample_rate))
            clip = clip[:, :keep + fade].copy()
            clip[:, keep:] *= _fade_out(clip.shape[1] - keep)
        return clip

    # -- zone choice ------------------------------------------------------------------------------

    def _pick_zone(self, note: Note, rng: np.random.Generator, last: dict) -> Zone:
        candidates = [z for z in self.zones if z.trigger_note == note.pitch]
        if not candidates:
            candidates = [z for z in self.zones if z.trigger_note is None] or self.zones
        pitched = [z for z in candidates if z.root_midi is not None]
        if pitched and self._is_pitched:
            nearest = min(abs(z.root_midi - note.pitch) for z in pitched)
            candidates = [z for z in pitched if abs(z.root_midi - note.pitch) <= nearest + 1.0]
        if len(candidates) > 1 and any(z.velocity is not None for z in candidates):
            best = min(abs((z.velocity or 100) - note.velocity) for z in candidates)
            layer = [z for z in candidates if abs((z.velocity or 100) - note.velocity) <= best + 12]
            candidates = layer or candidates
        if len(candidates) == 1:
            return candidates[0]
        key = tuple(sorted(id(z) for z in candidates))
        previous = last.get(key, -1)
        choice = int(rng.integers(len(candidates) - 1)) if previous >= 0 else int(rng.integers(len(candidates)))
        if previous >= 0 and choice >= previous:
            choice += 1
        last[key] = choice
        return candidates[choice]

    @property
    def _is_pitched(self) -> bool:
        return any(z.root_midi is not None and z.trigger_note is None for z in self.zones)

    def _cut_frame(self, notes: list[Note], i: int) -> int | None:
        sr = self.sample_rate
        note = notes[i]
        for other in notes[i + 1:]:
            if other.start <= note.start:
                continue
            if self.mono or self.choke_all or (note.pitch in self.choke_notes and other.pitch in self.choke_notes):
                return int(round(other.start * sr))
            if not self.choke_notes:
                return None
        return None

    def _glide_source(self, notes: list[Note], i: int) -> int | None:
        if not (self.mono and self.glide > 0 and i > 0):
            return None
        prev = notes[i - 1]
        return prev.pitch if prev.end >= notes[i].start - 1e-3 and prev.pitch != notes[i].pitch else None

    # -- pitch and sustain ---------------------------------------------------------------------------

    def _pitched(self, zone: Zone, pitch: int, frames: int, glide_from: int | None) -> np.ndarray:
        """``zone`` at ``pitch``, sustained by its loop to ``frames`` where it is shorter. The longest
        sustain so far is kept and a shorter one is its prefix (``sustain`` gives the same frames),
        so what a note gets never depends on the notes played before it."""
        if glide_from is not None:
            return self._glided(zone, glide_from, pitch, frames)
        key = (zone.key, pitch)
        audio = self._cache.get(key)
        if audio is None:
            audio = zone.audio
            if zone.root_midi is not None and zone.trigger_note is None:
                audio = repitch(zone.audio, pitch - zone.root_midi)
            self._cache[key] = audio
        held = _scaled(zone, audio)
        if frames <= (audio.shape[1] if held is None else held):
            return audio
        loop_key, long_key = (zone.key, pitch, "loop"), (zone.key, pitch, "sustained")
        if loop_key not in self._cache:
            self._cache[loop_key] = find_loop(audio, self.sample_rate, held=held)
        loop = self._cache[loop_key]
        longest = self._cache.get(long_key)
        if longest is None or longest.shape[1] < frames:
            longest = self._cache[long_key] = sustain(audio, loop, frames)
        return longest[:, :max(frames, loop[0])]

    def _glided(self, zone: Zone, from_pitch: int, to_pitch: int, frames: int) -> np.ndarray:
        root = zone.root_midi if zone.root_midi is not None else to_pitch
        glide = max(1, int(self.glide * self.sample_rate))
        steps = np.full(frames, 2.0 ** ((to_pitch - root) / 12.0))
        ramp = np.linspace(from_pitch, to_pitch, min(glide, frames))
        steps[:ramp.size] = 2.0 ** ((ramp - root) / 12.0)
        position = np.concatenate([[0.0], np.cumsum(steps[:-1])])
        src = zone.audio
        if position[-1] >= src.shape[1] - 1:
            loop = find_loop(src, self.sample_rate, held=zone.sustain_end)
            src = sustain(src, loop, int(position[-1]) + 2)
        idx = np.arange(src.shape[1])
        return np.stack([np.interp(position, idx, ch) for ch in src]).astype(np.float32)


def repitch(audio: np.ndarray, semitones: float) -> np.ndarray:
    """Shift ``audio`` (channels, frames) by ``semitones`` by resampling (pitch and length change together).

    The rate ratio is approximated by a fraction with denominator at most 512 (error under 0.01
    cent) and applied by a polyphase windowed-sinc filter.
    """
    if abs(semitones) < 1e-9:
        return audio
    ratio = Fraction(2.0 ** (-semitones / 12.0)).limit_denominator(512)
    out = scipy.signal.resample_poly(audio, ratio.numerator, ratio.denominator, axis=-1)
    return out.astype(np.float32)


def _scaled(zone: Zone, audio: np.ndarray) -> int | None:
    """The zone's ``sustain_end`` in frames of ``audio``, a repitched copy of the zone's audio."""
    if zone.sustain_end is None:
        return None
    return int(zone.sustain_end * audio.shape[1] / max(zone.audio.shape[1], 1))


def find_loop(audio: np.ndarray, sample_rate: int, *, held: int | None = None) -> tuple[int, int, int]:
    """A sustain loop in the stable part of a sample: of its first ``held`` frames when given (a
    note sliced from a stem, whose release follows), else of the whole sample.

    Returns (start, end, crossfade) in frames: the loop plays ``audio[start:end]`` over and over,
    its last ``crossfade`` frames blended with the frames before ``start`` so the wrap is seamless.
    The end is placed where the waveform best matches the one just before the start: the highest
    normalised cross-correlation, its dot products by FFT and its window norms from a running sum.
    """
    mono = audio.mean(axis=0)
    n = mono.size if held is None or held < int(0.1 * sample_rate) else min(held, mono.size)
    env = np.abs(mono[:n])
    peak_at = int(np.argmax(env)) if n else 0
    start = max(peak_at + int(0.02 * sample_rate), int(0.25 * n))
    end_limit = int(0.92 * n)
    if end_limit - start < int(0.02 * sample_rate):
        start, end_limit = int(0.1 * n), n - 1
    xf = max(8, min(int(MAX_LOOP_CROSSFADE_SECONDS * sample_rate), (end_limit - start) // 3))
    start = max(start, xf)
    ref = mono[start - xf:start]
    lo = max(start + 2 * xf, end_limit - int(0.25 * (end_limit - start)) - xf)
    best_end = end_limit
    if end_limit - lo > 4:
        search = mono[lo - xf:end_limit].astype(np.float64)
        energy = np.concatenate([[0.0], np.cumsum(np.square(search))])
        window_norms = np.sqrt(np.maximum(energy[xf:] - energy[:-xf], 0.0))
        scores = scipy.signal.correlate(search, ref, mode="valid") / (window_norms * (np.linalg.norm(ref) + 1e-9) + 1e-9)
        best_end = lo + int(np.argmax(scores))
    return int(start), int(best_end), int(xf)


def sustain(audio: np.ndarray, loop: tuple[int, int, int], frames: int) -> np.ndarray:
    """Extend ``audio`` (channels, n) to at least ``frames`` by repeating its crossfaded loop."""
    start, end, xf = loop
    segment = audio[:, start:end].copy()
    fade_in = np.linspace(0.0, 1.0, xf, endpoint=False, dtype=np.float32)
    segment[:, -xf:] = segment[:, -xf:] * (1.0 - fade_in) + audio[:, start - xf:start] * fade_in
    reps = int(np.ceil(max(0, frames - start) / segment.shape[1])) + 1
    return np.concatenate([audio[:, :start], np.tile(segment, (1, reps))], axis=1)[:, :max(frames, start)]


def _fade_out(n: int) -> np.ndarray:
    """A raised-cosine fade from 1 to 0 over ``n`` frames (its slope is zero at both ends)."""
    if n <= 0:
        return np.ones(0, dtype=np.float32)
    return (0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, n, dtype=np.float32))).astype(np.float32)


def zone_from_audio(key: str, audio: np.ndarray, sample_rate: int, source_rate: int, *,
                    root_midi: float | None = None, trigger_note: int | None = None,
                    velocity: int | None = None, sustain_end: float | None = None, chord: bool = False) -> Zone:
    """Make a Zone from decoded audio, converting it to stereo at the render rate; ``sustain_end`` in
    seconds."""
    from sample_library.audio_io import resample

    stereo = to_stereo(resample(audio, source_rate, sample_rate)).astype(np.float32)
    held = None if sustain_end is None else int(round(sustain_end * sample_rate))
    return Zone(key=key, audio=stereo, root_midi=root_midi, trigger_note=trigger_note, velocity=velocity,
                sustain_end=held, chord=chord)
