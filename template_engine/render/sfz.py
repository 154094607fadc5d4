"""The candidate's kit: the one-shots each track was played with, and an SFZ instrument per track.

``kit/<Track>/NN.wav`` holds each zone's audio as the sampler played it (trimmed, at the render
rate, 24-bit), and ``kit/<base>_<Track>.sfz`` maps it the way the sampler did: pitched zones
spread over the keyboard from their (cent-accurate) roots with key ranges split halfway between
roots, velocity layers split halfway between the velocities they were recorded at, several zones
of one root and layer as a round robin, drums on their General MIDI notes, held notes on a sustain
loop found as the sampler finds it, hats choking each other and a choking kick choking itself. So
the per-track MIDI plays with the artist's sounds in any SFZ player (sfizz, Sforzando, the
sampler of most DAWs). The sampler picks a round-robin zone at random (never the same twice in a
row); SFZ plays them in turn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sample_library.audio_io import atomic_path, write_wav
from sample_library.roles import DRUM_ROLE_NOTE
from sample_library.sampler import Instrument, Zone, find_loop

KIT = Path("kit")
CHOKE_GROUP = 1


def halfway_ranges(values: list[int], low: int, high: int) -> dict[int, tuple[int, int]]:
    """The range (lo, hi, inclusive) each distinct value answers for: split halfway between values,
    the lowest reaching down to ``low`` and the highest up to ``high`` (key ranges from roots, velocity
    ranges from layers)."""
    ordered = sorted(set(values))
    out = {}
    for i, v in enumerate(ordered):
        lo = low if i == 0 else (ordered[i - 1] + v) // 2 + 1
        hi = high if i == len(ordered) - 1 else (v + ordered[i + 1]) // 2
        out[v] = (lo, hi)
    return out


def zone_opcodes(inst: Instrument, zone: Zone) -> dict[str, str | int]:
    """Key, pitch and loop opcodes of one zone's region."""
    if zone.trigger_note is not None or zone.root_midi is None:
        triggered = any(z.trigger_note is not None for z in inst.zones)
        note = zone.trigger_note if zone.trigger_note is not None else DRUM_ROLE_NOTE.get(inst.role) if triggered else None
        if note is None:  # like the sampler: a zone with no note of its own plays every note, as recorded
            return {"lokey": 0, "hikey": 127, "pitch_keytrack": 0}
        return {"key": note, "pitch_keytrack": 0}
    centre = int(round(zone.root_midi))
    ops: dict[str, str | int] = {"pitch_keycenter": centre, "tune": int(round(100 * (zone.root_midi - centre)))}
    if inst.sustained:
        start, end, _ = find_loop(zone.audio, inst.sample_rate, held=zone.sustain_end)
        ops.update({"loop_mode": "loop_sustain", "loop_start": start, "loop_end": end - 1,
                    "ampeg_release": f"{inst.release:.3f}"})
    return ops


def instrument_regions(inst: Instrument, files: list[str]) -> list[dict[str, str | int]]:
    """One region per zone (``files[i]``, relative to the SFZ file, plays zone i), with key, velocity and
    round-robin ranges."""
    pitched = [z for z in inst.zones if z.root_midi is not None and z.trigger_note is None]
    ranges = halfway_ranges([int(round(z.root_midi)) for z in pitched], 0, 127) if pitched else {}
    layers = halfway_ranges([z.velocity for z in inst.zones if z.velocity is not None], 1, 127)
    regions = []
    for zone, name in zip(inst.zones, files):
        region: dict[str, str | int] = {"sample": name, **zone_opcodes(inst, zone)}
        if "pitch_keycenter" in region:
            region["lokey"], region["hikey"] = ranges[int(region["pitch_keycenter"])]
        if zone.velocity is not None:
            region["lovel"], region["hivel"] = layers[zone.velocity]
        if not inst.sustained:
            region["loop_mode"] = "one_shot"
        if inst.choke_all or (zone.trigger_note in inst.choke_notes):
            region["group"] = region["off_by"] = CHOKE_GROUP
        regions.append(region)
    _round_robins(regions)
    return regions


def _round_robins(regions: list[dict[str, str | int]]) -> None:
    """Number the regions that share keys and velocities as a round robin (``seq_position``)."""
    groups: dict[tuple, list[dict[str, str | int]]] = {}
    for r in regions:
        groups.setdefault(tuple(r.get(k) for k in ("key", "lokey", "hikey", "lovel", "hivel")), []).append(r)
    for members in groups.values():
        if len(members) > 1:
            for i, r in enumerate(members):
                r["seq_length"], r["seq_position"] = len(members), i + 1


def sfz_text(label: str, inst: Instrument, regions: list[dict[str, str | int]]) -> str:
    head = [f"// {label}: the artist's one-shots as render-template played this track",
            "<global> amp_veltrack=100" + (" polyphony=1" if inst.mono else "")]
    body = ["<region> " + " ".join(f"{k}={v}" for k, v in r.items()) for r in regions]
    return "\n".join(head + body) + "\n"


def write_kit(folder: Path, base: str, instruments: dict[str, tuple[str, Instrument]]) -> list[str]:
    """Write ``kit/`` into ``folder`` for ``instruments`` (role -> (track label, instrument)); returns
    the files written, relative to ``folder``."""
    written = []
    for _, (label, inst) in sorted(instruments.items()):
        if not inst.zones:
            continue
        names = [f"{label}/{i + 1:02d}.wav" for i in range(len(inst.zones))]
        for zone, name in zip(inst.zones, names):
            write_wav(folder / KIT / name, np.asarray(zone.audio, dtype=np.float32), inst.sample_rate)
            written.append((KIT / name).as_posix())
        sfz = KIT / f"{base}_{label}.sfz"
        with atomic_path(folder / sfz) as tmp:
            tmp.write_text(sfz_text(label, inst, instrument_regions(inst, names)))
        written.append(sfz.as_posix())
    return written
