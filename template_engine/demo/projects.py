"""The demo artist's material: a one-shot folder and past projects printed from it with a known mix.

Each project is in the input shape of DESIGN.md (``stems/``, ``midi/``, ``project.json``) plus a
mastered ``mix.wav``. ``project.json`` keeps the mix settings used (per-track gain, EQ tilt, sidechain
ducking, the low-pass sweep through builds, reverb, master target) and the master's loudness and
true peak as the master measured them, so ingest can be checked against what was really done.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pedalboard import Pedalboard, Reverb

from project_ingest.midi_io import score_to_midi, write_midi
from project_ingest.mix_analysis import ducking_gain
from project_ingest.score import BEATS_PER_BAR, Score
from sample_library.audio_io import atomic_path, write_wav
from sample_library.processes import map_in_processes
from sample_library.roles import DRUM_ROLES, FALLBACK_ROLES, MONO_ROLES, SUSTAINED_ROLES
from sample_library.sampler import Instrument, Note, Zone
from template_engine.demo.compose import IMPACT_NOTE, RISER_NOTE, compose_song
from template_engine.demo.dsp import db_to_gain, duck_curve_db, tilt_eq
from template_engine.demo.synth_kit import SR, OneShot, demo_kit, write_kit
from template_engine.render.dsp import swept_lowpass
from template_engine.render.master import master

BASE_GAIN_DB = {"kick": -6.0, "snare": -15.0, "clap": -11.0, "hats": -16.0, "perc": -18.0, "cymbal": -19.0,
                "sub": -12.0, "bass": -13.0, "chords": -19.0, "lead": -16.0, "pad": -20.0, "arp": -19.0,
                "vocal_chop": -18.0, "fx": -17.0}
DUCKED = {"bass": (7.0, 10.0), "sub": (8.0, 11.0), "pad": (4.0, 7.0), "chords": (4.0, 7.0)}
SWEPT = ("chords", "lead", "arp", "pad")
REVERB = ("pad", "lead", "vocal_chop", "chords")
TAIL_SECONDS = 2.0


@dataclass(frozen=True)
class DemoSizes:
    songs: int
    tiny: bool


TINY = DemoSizes(songs=2, tiny=True)
FULL = DemoSizes(songs=12, tiny=False)


def kit_instruments(shots: list[OneShot], seed: int) -> dict[str, Instrument]:
    """Instruments that play the demo kit, one per role."""
    zones: dict[str, list[Zone]] = {}
    for shot in shots:
        trigger = None
        if shot.role == "hats":
            trigger = 46 if "Open" in shot.name else 42
        elif shot.role == "fx":
            trigger = RISER_NOTE if "Riser" in shot.name else IMPACT_NOTE
        elif shot.role == "kick" and "Deep" in shot.name:
            continue
        zones.setdefault(shot.role, []).append(Zone(key=shot.name, audio=shot.audio.astype(np.float32),
                                                    root_midi=shot.root_midi, trigger_note=trigger))
    for role, fallbacks in FALLBACK_ROLES.items():
        if role not in zones:
            zones[role] = next((zones[f] for f in fallbacks if f in zones), [])
    release = {"pad": 0.25, "chords": 0.08}
    return {role: Instrument(role=role, zones=z, sample_rate=SR, sustained=role in SUSTAINED_ROLES,
                             mono=role in MONO_ROLES, choke_notes=frozenset({42, 46}) if role == "hats" else frozenset(),
                             release=release.get(role, 0.04), seed=seed)
            for role, z in zones.items()}


def mix_settings(score: Score, rng: np.random.Generator) -> dict:
    """The known mix of one song: per role gain (dB), EQ tilt (dB), sidechain, sweep, reverb; master."""
    tracks = {}
    for role in score.tracks:
        entry = {"gain_db": round(BASE_GAIN_DB[role] + float(rng.uniform(-1.5, 1.5)), 2),
                 "eq_tilt_db": round(float(rng.uniform(-3, 3)), 2) if role not in DRUM_ROLES else 0.0,
                 "sidechain": None, "build_lowpass": None, "reverb_wet": 0.0}
        if role in DUCKED:
            lo, hi = DUCKED[role]
            entry["sidechain"] = {"depth_db": round(float(rng.uniform(lo, hi)), 2), "attack_beats": 0.02,
                                  "hold_beats": 0.05, "release_beats": round(float(rng.uniform(0.3, 0.55)), 3)}
        if role in SWEPT:
            entry["build_lowpass"] = {"from_hz": 350.0, "to_hz": 16000.0}
        if role in REVERB:
            entry["reverb_wet"] = round(float(rng.uniform(0.12, 0.25)), 3)
        tracks[role] = entry
    return {"tracks": tracks, "master": {"target_lufs": round(float(rng.uniform(-10.0, -8.0)), 2),
                                         "ceiling_dbtp": -1.0}}


def print_stems(score: Score, instruments: dict[str, Instrument], mix: dict) -> dict[str, np.ndarray]:
    """Play every role through its instrument and the known mix: role -> (2, frames), all one length."""
    spb = score.seconds_per_beat
    frames = int((score.bars * BEATS_PER_BAR * spb + TAIL_SECONDS) * SR)
    kicks = np.array([n.start * spb for n in score.tracks.get("kick", [])])
    stems = {}
    for role, notes in score.tracks.items():
        settings = mix["tracks"][role]
        audio = instruments[role].render([Note(n.start * spb, (n.start + n.duration) * spb, n.pitch, n.velocity)
                                          for n in notes], frames)
        audio = tilt_eq(audio, SR, settings["eq_tilt_db"])
        if settings["build_lowpass"]:
            audio = swept_lowpass(audio, SR, _build_cutoff(score, settings["build_lowpass"], spb))
        if settings["reverb_wet"] > 0:
            audio = Pedalboard([Reverb(room_size=0.6, damping=0.5, wet_level=settings["reverb_wet"],
                                       dry_level=1.0, width=1.0)])(audio, SR)
        if settings["sidechain"] and kicks.size:
            sc = settings["sidechain"]
            curve = duck_curve_db(depth_db=sc["depth_db"], attack=sc["attack_beats"], hold=sc["hold_beats"],
                                  release=sc["release_beats"])
            audio = audio * ducking_gain(kicks, frames, SR, curve_db=curve, points_per_beat=64, seconds_per_beat=spb)
        audio = audio.astype(np.float32, copy=False)  # a buffer of this loop's own: scaled in place
        audio *= np.float32(db_to_gain(settings["gain_db"]))
        stems[role] = audio
    return stems


def _build_cutoff(score: Score, sweep: dict, spb: float) -> Callable[[np.ndarray], np.ndarray]:
    spans = [(s.start_bar * BEATS_PER_BAR * spb * SR, s.end_bar * BEATS_PER_BAR * spb * SR)
             for s in score.sections if s.kind == "build"]

    def cutoff(frames: np.ndarray) -> np.ndarray:
        hz = np.full(frames.shape, 20000.0)
        for a, b in spans:
            inside = (frames >= a) & (frames < b)
            hz[inside] = sweep["from_hz"] * (sweep["to_hz"] / sweep["from_hz"]) ** ((frames[inside] - a) / (b - a))
        return hz

    return cutoff


def write_project(folder: Path, name: str, score: Score, stems: dict[str, np.ndarray], mix: dict) -> None:
    """Write one project: numbered stems, one type-1 MIDI named like them, project.json, mix.wav."""
    project = folder / name
    roles = list(score.tracks)
    total = sum(stems.values())
    for i, role in enumerate(roles, start=1):
        write_wav(project / "stems" / f"{i:02d}_{score.names[role]}.wav", stems[role], SR)
    write_midi(project / "midi" / f"{name}.mid", score_to_midi(score, track_names=score.names, roles=roles))
    mastered, report = master(total, SR, target_lufs=mix["master"]["target_lufs"],
                              ceiling_dbtp=mix["master"]["ceiling_dbtp"])
    write_wav(project / "mix.wav", mastered, SR)
    meta = {
        "title": name, "bpm": score.bpm, "key": str(score.key), "time_signature": [4, 4],
        "roles": {score.names[r]: r for r in roles},
        "sections": [{"type": s.kind, "start_bar": s.start_bar, "bars": s.bars} for s in score.sections],
        "demo_mix": {"tracks": {score.names[r]: mix["tracks"][r] for r in roles}, "master": mix["master"]},
        "measured": {"master_lufs": round(report.loudness, 2), "master_true_peak_dbtp": round(report.true_peak, 2)},
        "source": "synthesised by template_engine.demo (artist-templates demo artist)",
    }
    with atomic_path(project / "project.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=1) + "\n")


def build_demo_material(folder: Path, *, sizes: DemoSizes = FULL, seed: int = 2026,
                        progress: bool = True, workers: int = 1) -> tuple[Path, Path]:
    """Write the demo one-shot folder and projects under ``folder``; returns (projects, samples) folders.
    The songs are printed in ``workers`` processes when more than one (the same files either way)."""
    folder = Path(folder)
    samples = folder / "samples"
    kit_meta = write_kit(samples, demo_kit(seed))
    with atomic_path(folder / "kit.json") as tmp:
        tmp.write_text(json.dumps(kit_meta, indent=1) + "\n")
    projects = folder / "projects"
    jobs = [(projects, i, seed, sizes.tiny) for i in range(sizes.songs)]
    map_in_processes(print_song, jobs, workers=workers, desc="printing demo projects", unit="song", progress=progress)
    return projects, samples


@functools.lru_cache(maxsize=2)
def seeded_instruments(seed: int) -> dict[str, Instrument]:
    """The demo kit's instruments for ``seed``, built once per process."""
    return kit_instruments(demo_kit(seed), seed)


def print_song(projects: Path, i: int, seed: int, tiny: bool) -> None:
    """Compose, mix and print demo song ``i`` into ``projects``."""
    rng = np.random.default_rng(seed * 1000 + i)
    score = compose_song(seed * 1000 + i, tiny=tiny)
    mix = mix_settings(score, rng)
    stems = print_stems(score, seeded_instruments(seed), mix)
    write_project(projects, f"Demo Song {i + 1:02d}", score, stems, mix)
