"""Role classification of a project's tracks from their name, MIDI and audio.

``project.json`` roles win; then a role word in the track or stem name; then what the notes and the
sound are like. A drum track holding several instruments on General MIDI notes is split by pitch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from project_ingest.discovery import TrackInput
from project_ingest.score import STEPS_PER_BEAT, BeatNote
from sample_library.pitch import estimate_f0
from sample_library.roles import DRUM_ROLE_NOTE, DRUM_ROLES, GM_DRUM_ROLE, OPEN_HAT_NOTE, ROLES, role_from_name, words_of


@dataclass
class RoleAssignment:
    """A track (or the part of a drum track played on some pitches) given a role."""

    track: str
    role: str
    confidence: float
    evidence: str
    notes: list[BeatNote] | None


@dataclass
class AudioTraits:
    """What a stem sounds like: spectral centroid (Hz), pitchedness (0..1), and whether it sounds at all."""

    centroid: float
    pitchedness: float
    active: bool


def audio_traits(mono: np.ndarray, sample_rate: int, onsets: list[float] | None) -> AudioTraits:
    """Measure ``mono`` (frames,) at a few loud excerpts, or at the MIDI onsets (seconds) when given."""
    peak = float(np.max(np.abs(mono))) if mono.size else 0.0
    if peak < 1e-4:
        return AudioTraits(0.0, 0.0, False)
    hop = int(0.1 * sample_rate)
    if onsets:
        starts = [int(t * sample_rate) for t in onsets[:: max(1, len(onsets) // 8)][:8]]
    else:
        frames = mono[: mono.size // hop * hop].reshape(-1, hop)
        loud = np.argsort(np.sqrt(np.mean(frames ** 2, axis=1)))[::-1][:8]
        starts = sorted(int(i) * hop for i in loud)
    centroids, voiced = [], []
    for start in starts:
        seg = mono[start:start + int(0.2 * sample_rate)]
        if seg.size < 2048 or np.max(np.abs(seg)) < peak * 0.01:
            continue
        spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size)))
        freqs = np.fft.rfftfreq(seg.size, 1 / sample_rate)
        centroids.append(float((freqs * spec).sum() / (spec.sum() + 1e-12)))
        _, conf = estimate_f0(seg, sample_rate, fmin=40.0)
        voiced.append(conf)
    if not centroids:
        return AudioTraits(0.0, 0.0, False)
    return AudioTraits(float(np.median(centroids)), float(np.median(voiced)), True)


def classify_track(track: TrackInput, traits: AudioTraits | None) -> list[RoleAssignment]:
    """The role(s) of one track, each with a confidence 0..1 and the evidence used."""
    notes = track.midi.notes if track.midi else None
    if track.role_hint in ROLES:
        return [RoleAssignment(track.name, track.role_hint, 1.0, "project.json", _drum_pitched(track.role_hint, notes, track))]
    names = [track.name] + ([track.stem.stem] if track.stem is not None else [])
    split = _split_drum_kit(track, notes, names)
    if split:
        return split
    for name in names:
        role, conf = role_from_name(name)
        if role is not None:
            return [RoleAssignment(track.name, role, conf, f"name '{name}'", _drum_pitched(role, notes, track))]
    role, conf, why = _from_content(notes, traits)
    return [RoleAssignment(track.name, role, conf, why, _drum_pitched(role, notes, track))]


def _split_drum_kit(track: TrackInput, notes: list[BeatNote] | None, names: list[str]) -> list[RoleAssignment]:
    if not notes or track.midi is None:
        return []
    name_role = next((r for r in (role_from_name(n)[0] for n in names) if r), None)
    kit_word = any(w in ("drums", "drum", "kit", "beat", "percussion", "drumkit") for n in names for w in words_of(n))
    if not (track.midi.drum_channel or kit_word) or (name_role in DRUM_ROLES and not kit_word):
        return []
    groups: dict[str, list[BeatNote]] = {}
    for n in notes:
        groups.setdefault(GM_DRUM_ROLE.get(n.pitch, "perc"), []).append(n)
    if len(groups) < 2 and not kit_word:
        return []
    return [RoleAssignment(f"{track.name} [{role}]", role, 0.85, "General MIDI drum notes",
                           _drum_pitched(role, group, track)) for role, group in sorted(groups.items())]


def _drum_pitched(role: str, notes: list[BeatNote] | None, track: TrackInput) -> list[BeatNote] | None:
    """Drum notes moved to the role's General MIDI note (hats keep open vs closed)."""
    if notes is None or role not in DRUM_ROLES:
        return notes
    if role == "hats":
        words = words_of(track.name) + (words_of(track.stem.stem) if track.stem else [])
        open_track = "open" in words or "oh" in words or any(w in ("o", "hato") for w in words)
        return [BeatNote(n.start, n.duration, OPEN_HAT_NOTE if (open_track or n.pitch == OPEN_HAT_NOTE) else 42, n.velocity)
                for n in notes]
    return [BeatNote(n.start, n.duration, DRUM_ROLE_NOTE[role], n.velocity) for n in notes]


def _from_content(notes: list[BeatNote] | None, traits: AudioTraits | None) -> tuple[str, float, str]:
    if notes:
        pitches = np.array([n.pitch for n in notes])
        durations = np.array([n.duration for n in notes])
        starts = np.array([n.start for n in notes])
        polyphony = len(notes) / max(1, len(np.unique(np.round(starts * STEPS_PER_BEAT))))
        unpitched = traits is not None and traits.active and traits.pitchedness < 0.35
        if unpitched and len(np.unique(pitches)) <= 3:
            centroid = traits.centroid
            role = "kick" if centroid < 300 else "hats" if centroid > 5000 else "snare" if centroid > 1200 else "perc"
            return role, 0.5, f"unpitched hits, centroid {centroid:.0f} Hz"
        mean_pitch = float(np.mean(pitches))
        if polyphony >= 2.2:
            return ("pad", 0.55, "chords held two beats or more") if np.median(durations) >= 2 else \
                ("chords", 0.55, "several notes at a time")
        if mean_pitch < 40:
            return "sub", 0.55, f"low monophonic notes (mean pitch {mean_pitch:.0f})"
        if mean_pitch < 52:
            return "bass", 0.55, f"low notes (mean pitch {mean_pitch:.0f})"
        steps = np.diff(np.unique(np.round(starts * STEPS_PER_BEAT)))
        if steps.size > 8 and np.median(steps) <= 1 and np.median(durations) <= 0.3:
            return "arp", 0.5, "steady sixteenth notes"
        if np.median(durations) <= 0.3 and traits is not None and traits.centroid > 1500:
            return "pluck", 0.4, "short bright notes"
        return "lead", 0.45, "monophonic melody"
    if traits is not None and traits.active:
        if traits.pitchedness < 0.35:
            return "fx", 0.35, "audio only, unpitched"
        return "pad", 0.3, "audio only, pitched"
    return "fx", 0.1, "silent and without notes"
