"""The neutral built-in instrument: what plays a role for which the artist has no sample at all, not
even in a neighbouring role (``FALLBACK_ROLES``). A plain tone for pitched roles, a short swept sine
for a kick, a decaying noise burst for the other drums and fx: made in code, once, and played
through the sampler like any one-shot, so a part is heard (and said to be built-in) rather than lost.
"""

from __future__ import annotations

import numpy as np

from sample_library.pitch import midi_to_hz
from sample_library.roles import DRUM_ROLES
from sample_library.sampler import Zone

BUILTIN = "built-in"
ROOT_MIDI = 60
TONE_SECONDS = 2.0
HIT_SECONDS = 0.3
SEED = 7


def builtin_zone(role: str, sample_rate: int) -> Zone:
    """The built-in one-shot of ``role`` as a sampler zone: (2, frames) float32 at ``sample_rate``."""
    if role == "kick":
        audio, root = _kick(sample_rate), None
    elif role in DRUM_ROLES or role == "fx":
        audio, root = _noise_hit(sample_rate, decay_s=0.05 if role in ("hats", "perc") else 0.12), None
    else:
        audio, root = _tone(sample_rate), float(ROOT_MIDI)
    return Zone(key=f"{BUILTIN}-{role}", audio=np.stack([audio, audio]).astype(np.float32), root_midi=root)


def _tone(sample_rate: int) -> np.ndarray:
    """Four harmonics (amplitude 1/k) at the root, 10 ms attack, settling to a steady sustain."""
    t = np.arange(int(TONE_SECONDS * sample_rate)) / sample_rate
    f = midi_to_hz(ROOT_MIDI)
    wave = sum(np.sin(2 * np.pi * k * f * t) / k for k in range(1, 5))
    envelope = np.minimum(t / 0.01, 1.0) * (0.6 + 0.4 * np.exp(-t / 0.15))
    return 0.3 * wave * envelope


def _kick(sample_rate: int) -> np.ndarray:
    """A sine swept from 150 to 50 Hz, decaying over about 0.15 s."""
    t = np.arange(int(HIT_SECONDS * sample_rate)) / sample_rate
    freq = 50 + 100 * np.exp(-t / 0.03)
    phase = 2 * np.pi * np.cumsum(freq) / sample_rate
    return 0.8 * np.sin(phase) * np.exp(-t / 0.15)


def _noise_hit(sample_rate: int, *, decay_s: float) -> np.ndarray:
    """White noise (a fixed seed) decaying with time constant ``decay_s``."""
    t = np.arange(int(HIT_SECONDS * sample_rate)) / sample_rate
    noise = np.random.default_rng(SEED).standard_normal(t.size)
    return 0.3 * noise * np.exp(-t / decay_s)
