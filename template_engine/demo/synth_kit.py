"""The demo artist's one-shot kit, synthesised deterministically from a seed.

This is demo *input* (the folder of one-shots a producer would have), made once; the renderer
itself only ever plays samples. Sounds aim at modern EDM: a pitched-down punchy kick, layered
snare and clap, filtered noise hats, supersaw lead and stab, detuned pad, formant vocal chops,
a noise riser and an impact. Every array is (2, frames) float32 at 44.1 kHz.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfilt

from sample_library.audio_io import write_wav
from sample_library.pitch import midi_to_hz, midi_to_name

SR = 44100


@dataclass(frozen=True)
class OneShot:
    """A synthesised one-shot: its file stem, role, root note (None if unpitched) and audio (2, n)."""

    name: str
    role: str
    root_midi: int | None
    audio: np.ndarray


def _t(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SR)) / SR


def _filter(x: np.ndarray, kind: str, freq: float | tuple[float, float], order: int = 2) -> np.ndarray:
    sos = butter(order, freq, btype=kind, fs=SR, output="sos")
    return sosfilt(sos, x, axis=-1)


def _saw_table(size: int = 4096, harmonics: int = 160) -> np.ndarray:
    phase = np.arange(size) / size
    k = np.arange(1, harmonics + 1)[:, None]
    return (2 / np.pi * np.sum(np.sin(2 * np.pi * k * phase) / k * (-1.0) ** (k + 1), axis=0)).astype(np.float64)


_SAW = _saw_table()


def _saw(freq: float, seconds: float, phase0: float = 0.0) -> np.ndarray:
    """A band-limited saw from a 160-harmonic table, accurate in pitch (phase accumulated in float64)."""
    n = int(seconds * SR)
    limit = max(1, int((SR / 2) / freq))
    table = _SAW if limit >= 160 else _saw_table(harmonics=limit)
    phase = (phase0 + freq * np.arange(n) / SR) % 1.0
    pos = phase * table.size
    i = pos.astype(int)
    frac = pos - i
    return table[i] * (1 - frac) + table[(i + 1) % table.size] * frac


def _supersaw(freq: float, seconds: float, rng: np.random.Generator, voices: int = 7,
              detune_cents: float = 12.0) -> np.ndarray:
    """Detuned saws spread symmetrically around ``freq``, panned across the stereo field: (2, n)."""
    offsets = np.linspace(-detune_cents, detune_cents, voices)
    pans = np.linspace(-0.8, 0.8, voices)
    out = np.zeros((2, int(seconds * SR)))
    for cents, pan in zip(offsets, pans):
        voice = _saw(freq * 2 ** (cents / 1200), seconds, rng.random())
        weight = 1.0 if cents == 0 else 0.6
        out[0] += voice * weight * np.sqrt(0.5 * (1 - pan))
        out[1] += voice * weight * np.sqrt(0.5 * (1 + pan))
    return out / voices


def _adsr(n: int, attack: float, decay: float, sustain: float, release: float) -> np.ndarray:
    a, d, r = int(attack * SR), int(decay * SR), int(release * SR)
    s = max(0, n - a - d - r)
    env = np.concatenate([np.linspace(0, 1, a, endpoint=False), np.linspace(1, sustain, d, endpoint=False),
                          np.full(s, sustain), np.linspace(sustain, 0, r)])
    return np.pad(env, (0, max(0, n - env.size)))[:n]


def _stereo(mono: np.ndarray) -> np.ndarray:
    return np.stack([mono, mono])


def _normalise(x: np.ndarray, peak_db: float = -1.0) -> np.ndarray:
    peak = np.max(np.abs(x))
    return (x / peak * 10 ** (peak_db / 20)).astype(np.float32) if peak > 0 else x.astype(np.float32)


def kick(rng: np.random.Generator, tune: float = 0.0) -> np.ndarray:
    t = _t(0.55)
    f = (48 + tune) + 170 * np.exp(-t / 0.035)
    body = np.sin(2 * np.pi * np.cumsum(f) / SR) * np.exp(-t / 0.11)
    click = _filter(rng.standard_normal(t.size), "bandpass", (2000, 9000)) * np.exp(-t / 0.004) * 0.5
    x = np.tanh(2.2 * (body + click))
    x *= _adsr(t.size, 0.0005, 0.0, 1.0, 0.05)
    return _normalise(_stereo(x))


def snare(rng: np.random.Generator) -> np.ndarray:
    t = _t(0.4)
    body = np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.06) + 0.5 * np.sin(2 * np.pi * 330 * t) * np.exp(-t / 0.04)
    noise = _filter(rng.standard_normal((2, t.size)), "bandpass", (1200, 9000)) * np.exp(-t / 0.11)
    return _normalise(0.6 * _stereo(body) + noise)


def clap(rng: np.random.Generator) -> np.ndarray:
    t = _t(0.45)
    env = np.zeros(t.size)
    for k, offset in enumerate((0.0, 0.011, 0.022, 0.034)):
        start = int(offset * SR)
        env[start:] += np.exp(-(t[: t.size - start]) / (0.006 if k < 3 else 0.16))
    noise = _filter(rng.standard_normal((2, t.size)), "bandpass", (900, 3500)) * env
    return _normalise(noise)


def hat(rng: np.random.Generator, open_: bool) -> np.ndarray:
    seconds, tau = (0.6, 0.22) if open_ else (0.12, 0.025)
    t = _t(seconds)
    metal = sum(np.sign(np.sin(2 * np.pi * f * t)) for f in (3140, 4260, 5530, 6970, 8120)) / 5
    noise = rng.standard_normal((2, t.size)) + 0.4 * metal
    return _normalise(_filter(noise, "highpass", 7000, 4) * np.exp(-t / tau), -3.0)


def crash(rng: np.random.Generator) -> np.ndarray:
    t = _t(2.5)
    metal = sum(np.sign(np.sin(2 * np.pi * f * t + rng.random())) for f in (2310, 3870, 5210, 6650)) / 4
    noise = rng.standard_normal((2, t.size)) + 0.3 * metal
    return _normalise(_filter(noise, "highpass", 4000, 2) * np.exp(-t / 0.7), -3.0)


def perc(rng: np.random.Generator) -> np.ndarray:
    t = _t(0.25)
    f = 620 + 300 * np.exp(-t / 0.01)
    tone = np.sin(2 * np.pi * np.cumsum(f) / SR) * np.exp(-t / 0.05)
    click = _filter(rng.standard_normal(t.size), "highpass", 3000) * np.exp(-t / 0.003) * 0.4
    return _normalise(_stereo(tone + click), -2.0)


def sub(note: int) -> np.ndarray:
    t = _t(1.6)
    f = midi_to_hz(note)
    x = np.sin(2 * np.pi * f * t) + 0.12 * np.sin(2 * np.pi * 2 * f * t)
    return _normalise(_stereo(np.tanh(1.3 * x) * _adsr(t.size, 0.004, 0.1, 0.9, 0.05)))


def bass(note: int, rng: np.random.Generator) -> np.ndarray:
    f = midi_to_hz(note)
    x = _supersaw(f, 1.4, rng, voices=3, detune_cents=6.0).mean(axis=0)
    x = _filter(x, "lowpass", 900, 2) + 0.6 * np.sin(2 * np.pi * f * _t(1.4))
    return _normalise(_stereo(np.tanh(1.5 * x) * _adsr(x.size, 0.003, 0.2, 0.8, 0.05)))


def pluck(note: int, rng: np.random.Generator) -> np.ndarray:
    f = midi_to_hz(note)
    t = _t(0.7)
    x = _supersaw(f, 0.7, rng, voices=3, detune_cents=5.0)
    bright = _filter(x, "lowpass", 5000, 2) * np.exp(-t / 0.05)
    dark = _filter(x, "lowpass", 1200, 2)
    return _normalise((bright + dark) * np.exp(-t / 0.22))


def stab(note: int, rng: np.random.Generator) -> np.ndarray:
    t = _t(0.9)
    x = _supersaw(midi_to_hz(note), 0.9, rng, voices=5, detune_cents=10.0)
    return _normalise(_filter(x, "lowpass", 6000, 2) * _adsr(t.size, 0.003, 0.25, 0.45, 0.1))


def lead(note: int, rng: np.random.Generator) -> np.ndarray:
    t = _t(1.5)
    x = _supersaw(midi_to_hz(note), 1.5, rng, voices=7, detune_cents=12.0)
    return _normalise(_filter(x, "lowpass", 9000, 2) * _adsr(t.size, 0.005, 0.2, 0.8, 0.1))


def pad(note: int, rng: np.random.Generator) -> np.ndarray:
    t = _t(3.0)
    x = _supersaw(midi_to_hz(note), 3.0, rng, voices=7, detune_cents=18.0)
    x = _filter(x, "lowpass", 2500, 2) + 0.3 * _stereo(np.sin(2 * np.pi * midi_to_hz(note) * t))
    return _normalise(x * _adsr(t.size, 0.25, 0.5, 0.85, 0.4), -3.0)


_VOWELS = {"ah": ((730, 90), (1090, 110), (2440, 160)), "oh": ((570, 80), (840, 100), (2410, 160)),
           "ee": ((300, 60), (2290, 150), (3010, 200))}


def vocal_chop(note: int, vowel: str, rng: np.random.Generator) -> np.ndarray:
    """A sung vowel: a glottal pulse train through three formant resonators, with a soft vibrato-free
    pitch so the chop sits on its note."""
    t = _t(0.6)
    f = midi_to_hz(note)
    source = _saw(f, 0.6) + 0.02 * rng.standard_normal(t.size)
    voiced = np.zeros(t.size)
    for freq, bw in _VOWELS[vowel]:
        voiced += _filter(source, "bandpass", (freq - bw, freq + bw), 2) * (1.0 if freq < 1200 else 0.5)
    voiced += 0.3 * _filter(source, "lowpass", 400, 2)
    return _normalise(_stereo(voiced * _adsr(t.size, 0.01, 0.1, 0.8, 0.12)))


def riser(rng: np.random.Generator) -> np.ndarray:
    t = _t(4.0)
    noise = rng.standard_normal((2, t.size))
    out = np.zeros_like(noise)
    block = 2048
    for start in range(0, t.size, block):
        cutoff = 300 * (40 ** (start / t.size))
        out[:, start:start + block] = _filter(noise[:, start:start + block + 512], "bandpass",
                                              (cutoff, min(cutoff * 3, 20000)), 1)[:, :block]
    sweep = np.sin(2 * np.pi * np.cumsum(200 * 8 ** (t / t[-1])) / SR)
    x = (out + 0.3 * _stereo(sweep)) * (t / t[-1]) ** 2
    return _normalise(x, -3.0)


def impact(rng: np.random.Generator) -> np.ndarray:
    t = _t(2.5)
    boom = np.sin(2 * np.pi * np.cumsum(35 + 80 * np.exp(-t / 0.08)) / SR) * np.exp(-t / 0.6)
    noise = _filter(rng.standard_normal((2, t.size)), "lowpass", 3000, 2) * np.exp(-t / 0.4)
    return _normalise(_stereo(boom) + 0.5 * noise)


def demo_kit(seed: int = 7) -> list[OneShot]:
    """The whole demo kit. Pitched one-shots carry their root note (and name it, as producers do)."""
    rng = np.random.default_rng(seed)
    shots = [
        OneShot("Kick_Punch", "kick", None, kick(rng)),
        OneShot("Kick_Deep", "kick", None, kick(rng, tune=-6)),
        OneShot("Snare_Tight", "snare", None, snare(rng)),
        OneShot("Clap_Layered", "clap", None, clap(rng)),
        OneShot("HiHat_Closed", "hats", None, hat(rng, open_=False)),
        OneShot("HiHat_Open", "hats", None, hat(rng, open_=True)),
        OneShot("Crash_Wide", "cymbal", None, crash(rng)),
        OneShot("Perc_Rim", "perc", None, perc(rng)),
        OneShot("Riser_Noise", "fx", None, riser(rng)),
        OneShot("Impact_Boom", "fx", None, impact(rng)),
    ]
    pitched = [
        ("Sub", "sub", 36, sub), ("Bass_Saw", "bass", 36, bass), ("Pluck", "pluck", 60, pluck),
        ("Stab", "chords", 60, stab), ("Lead_Supersaw", "lead", 72, lead), ("Pad_Warm", "pad", 60, pad),
    ]
    for stem, role, root, make in pitched:
        audio = make(root) if make is sub else make(root, rng)
        shots.append(OneShot(f"{stem}_{midi_to_name(root)}", role, root, audio))
    for vowel in ("ah", "oh", "ee"):
        shots.append(OneShot(f"Vox_Chop_{vowel}_{midi_to_name(72)}", "vocal_chop", 72, vocal_chop(72, vowel, rng)))
    return shots


def write_kit(folder: Path, shots: list[OneShot]) -> dict:
    """Write the kit as 24-bit WAVs in role folders; return the metadata written to ``kit.json``."""
    meta = {}
    for shot in shots:
        rel = f"{shot.role}/{shot.name}.wav"
        write_wav(folder / rel, shot.audio, SR)
        meta[rel] = {"role": shot.role, "root_midi": shot.root_midi}
    return meta
