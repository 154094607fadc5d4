"""A track's learned chain as a DAW would hold it: fader level, EQ bands, compressor and a volume
envelope, recorded while the mix runs so that a DAW project can rebuild the mix from dry stems.

The chain in ``mix.play_role`` runs EQ (a FIR per note clip), compression, width, section
automation (gain rides and low-pass sweeps), level and the sidechain. Here the EQ becomes one bell
per octave (the mean of its three third-octave bands), the rides and the sidechain one volume
envelope in dB, and the level the fader. Width and the low-pass sweeps have no built-in device in
the DAWproject format and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from project_ingest.spectrum import BAND_CENTRES
from template_engine.render.mixing import CompressorSettings

OCTAVE_Q = 1.41  # a bell one octave wide
ENVELOPE_STEPS_PER_BEAT = 32
ENVELOPE_TOLERANCE_DB = 0.5
ENVELOPE_FLOOR_DB = -60.0


@dataclass(frozen=True)
class TrackChain:
    """One track's chain: the fader (dB), octave EQ bands as (centre Hz, gain dB), the compressor
    (None when it did not compress), and the volume envelope as (beats, dB) points including the fader
    level (empty when the track has no rides and no ducking)."""

    level_db: float
    eq_bands: tuple[tuple[float, float], ...] = ()
    compressor: CompressorSettings | None = None
    envelope: tuple[tuple[float, float], ...] = ()

    def scaled(self, gain_db: float) -> TrackChain:
        """The chain after a gain change of ``gain_db`` on the track's output (the mix's headroom)."""
        return replace(self, level_db=self.level_db + gain_db,
                       envelope=tuple((t, v + gain_db) for t, v in self.envelope))

    def for_dry_stem(self, trim_db: float) -> TrackChain:
        """The chain that plays a dry stem trimmed by ``trim_db``: the compressor's threshold follows
        the trim, and the fader and envelope give it back."""
        comp = self.compressor and replace(self.compressor, threshold_db=self.compressor.threshold_db + trim_db)
        return replace(self.scaled(-trim_db), compressor=comp)


def octave_bands(correction_db: np.ndarray, sample_rate: int) -> tuple[tuple[float, float], ...]:
    """One bell per octave of a third-octave ``correction_db`` (dB per band of ``BAND_CENTRES``): the
    middle band's centre (Hz) and the mean gain (dB) of its three bands, below the Nyquist frequency."""
    bands = []
    for i in range(1, len(BAND_CENTRES) - 1, 3):
        centre = float(BAND_CENTRES[i])
        if centre < sample_rate / 2 and i + 1 < correction_db.size:
            bands.append((round(centre, 1), round(float(np.mean(correction_db[i - 1:i + 2])), 2)))
    return tuple(bands)


def volume_envelope(gain: np.ndarray, sample_rate: int, seconds_per_beat: float,
                    level_db: float) -> tuple[tuple[float, float], ...]:
    """The volume envelope of a track's linear gain (frames,) on top of the fader level (dB): points
    (beats, dB) read every 1/32 beat, kept where a straight line between neighbours would miss the
    curve by more than ``ENVELOPE_TOLERANCE_DB`` (Ramer-Douglas-Peucker)."""
    step = seconds_per_beat * sample_rate / ENVELOPE_STEPS_PER_BEAT
    at = np.minimum(np.arange(0, gain.size, step).astype(np.int64), gain.size - 1)
    beats = at / (seconds_per_beat * sample_rate)
    db = level_db + np.maximum(20 * np.log10(np.maximum(gain[at], 1e-9)), ENVELOPE_FLOOR_DB)
    keep = simplified(beats, db, ENVELOPE_TOLERANCE_DB)
    return tuple((round(float(beats[i]), 4), round(float(db[i]), 2)) for i in keep)


def simplified(x: np.ndarray, y: np.ndarray, tolerance: float) -> list[int]:
    """Indices of the points (x, y) a polyline needs so that no dropped point lies more than
    ``tolerance`` (in y) from it; the first and last are always kept."""
    keep = {0, x.size - 1}
    stack = [(0, x.size - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        line = y[a] + (y[b] - y[a]) * (x[a + 1:b] - x[a]) / max(x[b] - x[a], 1e-12)
        miss = np.abs(y[a + 1:b] - line)
        worst = int(np.argmax(miss))
        if miss[worst] > tolerance:
            mid = a + 1 + worst
            keep.add(mid)
            stack += [(a, mid), (mid, b)]
    return sorted(keep)

