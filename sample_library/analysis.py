"""Analysis of one one-shot: trim, level, decay, root pitch, timbre vector, role guess, tags."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sample_library.audio_io import to_mono
from sample_library.loudness import ABSOLUTE_GATE_LUFS, integrated_loudness
from sample_library.pitch import estimate_f0, hz_to_midi, note_from_name
from sample_library.roles import PITCHED_ROLES, role_from_name

TIMBRE_BANDS = 16
_BPM_RE = re.compile(r"(?<![0-9])(\d{2,3})\s?bpm", re.IGNORECASE)
_KEY_RE = re.compile(r"(?<![A-Za-z])([A-G][#b]?)\s?(maj|major|min|minor|m)(?![a-z])", re.IGNORECASE)


@dataclass
class SampleInfo:
    """What analysis found in one sample. Times in seconds, levels in dB(FS), pitch as MIDI note."""

    trim_start: float
    duration: float
    peak_db: float
    loudness_db: float
    decay: float
    root_midi: float | None
    pitch_confidence: float
    root_from_name: bool
    centroid_hz: float
    timbre: np.ndarray = field(repr=False)
    role: str
    role_confidence: float
    bpm: float | None = None
    key: str | None = None


def leading_silence(mono: np.ndarray, sample_rate: int, *, threshold_db: float = -50.0) -> int:
    """Frames of silence before the first sample within ``threshold_db`` of the peak."""
    peak = np.max(np.abs(mono)) if mono.size else 0.0
    if peak <= 0:
        return 0
    above = np.nonzero(np.abs(mono) >= peak * 10 ** (threshold_db / 20))[0]
    start = int(above[0]) if above.size else 0
    return max(0, start - int(0.001 * sample_rate))


def envelope_db(mono: np.ndarray, sample_rate: int, *, hop: float = 0.005) -> np.ndarray:
    """RMS envelope in dB relative to full scale, one value per ``hop`` seconds: shape (frames,)."""
    n = max(1, int(hop * sample_rate))
    frames = mono.size // n
    if frames == 0:
        return np.array([-120.0])
    rms = np.sqrt(np.mean(mono[:frames * n].reshape(frames, n) ** 2, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-6))


def decay_time(mono: np.ndarray, sample_rate: int, *, drop_db: float = 60.0) -> float:
    """Seconds from the envelope's peak until it stays ``drop_db`` below it (the sample's end if never)."""
    env = envelope_db(mono, sample_rate)
    top = int(np.argmax(env))
    above = np.nonzero(env[top:] > env[top] - drop_db)[0]
    last = top + (int(above[-1]) if above.size else 0)
    return (last + 1) * 0.005


def loudness_db(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (LUFS) of (channels, frames); RMS dBFS for sounds shorter than 0.4 s."""
    if audio.shape[1] >= int(0.41 * sample_rate):
        value = integrated_loudness(audio, sample_rate)
        if value > ABSOLUTE_GATE_LUFS:
            return value
    rms = np.sqrt(np.mean(audio.astype(np.float64) ** 2))
    return float(20 * np.log10(max(rms, 1e-9)))


def timbre_vector(mono: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    """Timbre features for similarity search.

    Returns
    -------
    vector : np.ndarray, shape (TIMBRE_BANDS + 2,)
        Log-band energies (dB, mean removed, /20) in 16 log-spaced bands 40 Hz..16 kHz,
        then spectral flatness and log decay.
    centroid : float, Hz
    """
    seg = mono[: int(0.5 * sample_rate)]
    n = 1 << int(np.ceil(np.log2(max(seg.size, 1024))))
    spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size), n)) ** 2
    freqs = np.fft.rfftfreq(n, 1 / sample_rate)
    edges = np.geomspace(40, min(16000, sample_rate / 2 - 1), TIMBRE_BANDS + 1)
    idx = np.searchsorted(freqs, edges)
    bands = np.array([spec[a:max(b, a + 1)].sum() for a, b in zip(idx[:-1], idx[1:])])
    bands_db = 10 * np.log10(bands + 1e-12)
    total = spec.sum() + 1e-12
    centroid = float((freqs * spec).sum() / total)
    flatness = float(np.exp(np.mean(np.log(spec[1:] + 1e-12))) / (np.mean(spec[1:]) + 1e-12))
    decay = decay_time(mono, sample_rate)
    vec = np.concatenate([(bands_db - bands_db.mean()) / 20.0, [flatness, np.log10(decay + 1e-3)]])
    return vec.astype(np.float32), centroid


def guess_role_from_audio(*, pitched: bool, root_midi: float | None, centroid: float, decay: float,
                          flatness: float) -> tuple[str, float]:
    """A role from what the sound is like, when its name says nothing (confidence 0.3..0.5)."""
    if pitched and root_midi is not None:
        if root_midi < 40:
            return "sub", 0.4
        if root_midi < 52:
            return "bass", 0.4
        if decay > 1.5:
            return "pad", 0.35
        if decay < 0.4:
            return "pluck", 0.35
        return "lead", 0.3
    if decay > 1.5:
        return ("fx", 0.35) if flatness > 0.2 else ("cymbal", 0.3)
    if centroid < 250:
        return "kick", 0.5
    if centroid > 5000:
        return "hats", 0.45
    if flatness > 0.15:
        return "snare", 0.35
    return "perc", 0.3


def analyse_sample(audio: np.ndarray, sample_rate: int, *, name: str = "",
                   folders: tuple[str, ...] = ()) -> SampleInfo:
    """Analyse one sample (channels, frames) at ``sample_rate`` Hz.

    ``name`` is the file name and ``folders`` the folder names above it; a note name in the file
    name (``Bass_C#2``) sets the root pitch, and role words in the name or folders set the role.
    """
    mono = to_mono(audio)
    start = leading_silence(mono, sample_rate)
    mono = mono[start:]
    trimmed = audio[:, start:]
    peak = float(np.max(np.abs(trimmed))) if trimmed.size else 0.0
    vec, centroid = timbre_vector(mono, sample_rate)
    decay = decay_time(mono, sample_rate)
    role, role_conf = role_from_name(Path(name).stem)
    if role is None:
        for folder in reversed(folders):
            role, role_conf = role_from_name(folder)
            if role is not None:
                role_conf *= 0.9
                break
    named = note_from_name(Path(name).stem)
    steady = mono[int(0.02 * sample_rate):]
    fmin = 25.0 if role in ("sub", "bass", "kick") else 50.0
    f0, confidence = estimate_f0(steady, sample_rate, fmin=fmin)
    root = hz_to_midi(f0) if f0 else None
    flatness = float(vec[TIMBRE_BANDS])
    if role is None:
        role, role_conf = guess_role_from_audio(pitched=root is not None and confidence > 0.5,
                                                root_midi=root, centroid=centroid, decay=decay,
                                                flatness=flatness)
    root_from_name = False
    if named is not None and (role in PITCHED_ROLES or root is not None):
        root, root_from_name = float(named), True
    elif root is not None and root_from_name is False and role not in PITCHED_ROLES and confidence < 0.6:
        root = None
    bpm_match = _BPM_RE.search(name)
    key_match = _KEY_RE.search(Path(name).stem)
    key = None
    if key_match:
        mode = "minor" if key_match.group(2).lower().startswith("m") and key_match.group(2).lower() != "maj" \
            and key_match.group(2).lower() != "major" else "major"
        key = f"{key_match.group(1)} {mode}"
    return SampleInfo(
        trim_start=start / sample_rate,
        duration=mono.size / sample_rate,
        peak_db=float(20 * np.log10(max(peak, 1e-9))),
        loudness_db=loudness_db(trimmed, sample_rate),
        decay=decay,
        root_midi=root,
        pitch_confidence=confidence,
        root_from_name=root_from_name,
        centroid_hz=centroid,
        timbre=vec,
        role=role,
        role_confidence=role_conf,
        bpm=float(bpm_match.group(1)) if bpm_match else None,
        key=key,
    )
