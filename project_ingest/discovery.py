"""Finding past projects, reading their MIDI, and pairing stems with MIDI tracks by name.

Every problem is recorded per file with its reason; what cannot be used is skipped, never dropped
silently.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf

from project_ingest.midi_io import MidiTrack, read_midi
from sample_library.audio_io import AUDIO_EXTENSIONS

LENGTH_TOLERANCE_SECONDS = 0.05
TEMPO_RANGE = (40.0, 250.0)  # BPM a song may have; outside it a tempo is taken for a mistake


@dataclass
class TrackInput:
    """One track of a project: a stem, MIDI notes, or both."""

    name: str
    stem: Path | None = None
    midi: MidiTrack | None = None
    role_hint: str | None = None


@dataclass
class Problem:
    file: str
    reason: str
    action: str

    def to_dict(self) -> dict:
        return {"file": self.file, "reason": self.reason, "action": self.action}


@dataclass
class ProjectInput:
    """A discovered project, ready to analyse."""

    name: str
    folder: Path
    tracks: list[TrackInput]
    bpm: float | None
    bpm_source: str
    meta: dict
    sample_rate: int | None
    frames: int | None
    mix: Path | None
    problems: list[Problem] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


def pairing_key(name: str) -> str:
    """Name as used for pairing: case, spaces, numbering, punctuation and extensions ignored."""
    stem = Path(name).name
    for ext in AUDIO_EXTENSIONS + (".mid", ".midi"):
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
    stem = re.sub(r"^\d+[\s_.\-]*", "", stem.strip())
    return re.sub(r"[^a-z]", "", stem.lower())


def discover_projects(root: Path) -> tuple[list[ProjectInput], list[Problem]]:
    """Every project folder under ``root`` (a folder with ``stems/`` or ``midi/``), read and paired."""
    root = Path(root)
    projects, problems = [], []
    candidates = [root] if (root / "stems").is_dir() or (root / "midi").is_dir() else sorted(
        p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for folder in candidates:
        if not ((folder / "stems").is_dir() or (folder / "midi").is_dir()):
            problems.append(Problem(str(folder), "has neither stems/ nor midi/", "skipped"))
            continue
        projects.append(read_project(folder))
    return projects, problems


def read_project(folder: Path) -> ProjectInput:
    """Read one project folder: validate stems, read MIDI, pair them, find the tempo."""
    problems: list[Problem] = []
    flags: list[str] = []
    meta = _read_meta(folder / "project.json", problems)
    stems, sample_rate, frames = _valid_stems(folder, problems)
    midi_tracks, midi_info = _read_midi_folder(folder, problems, flags)
    tracks = _pair(stems, midi_tracks, meta)
    for t in tracks:
        if t.stem is None:
            problems.append(Problem(f"{folder / 'midi'} (track '{t.name}')", "MIDI track with no stem", "used for writing only"))
        elif t.midi is None:
            problems.append(Problem(str(t.stem), "stem with no MIDI track", "used for mix analysis only"))
    bpm, source = _tempo(folder, midi_info, meta, problems, flags)
    if bpm is not None and frames and sample_rate and _stems_too_short(folder, frames / sample_rate, midi_tracks, bpm, problems):
        tracks = [TrackInput(t.name, None, t.midi, t.role_hint) for t in tracks if t.midi is not None]
    mix = next((p for p in sorted(folder.glob("mix.*")) if p.suffix.lower() in AUDIO_EXTENSIONS), None)
    return ProjectInput(name=folder.name, folder=folder, tracks=tracks, bpm=bpm, bpm_source=source, meta=meta,
                        sample_rate=sample_rate, frames=frames, mix=mix, problems=problems, flags=flags)


META_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "bpm": ((int, float), "number"), "key": ((str,), "string"), "roles": ((dict,), "JSON object"),
    "sections": ((list,), "JSON list"), "title": ((str,), "string")}


def _read_meta(path: Path, problems: list[Problem]) -> dict:
    """``project.json`` as a dict; a file that is not a JSON object is ignored, and so is each field of
    the wrong type, each with a problem naming it."""
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problems.append(Problem(str(path), f"not valid JSON ({getattr(exc, 'msg', exc)})", "ignored"))
        return {}
    if not isinstance(meta, dict):
        problems.append(Problem(str(path), f"is a JSON {type(meta).__name__}, not an object", "ignored"))
        return {}
    for name, (types, kind) in META_TYPES.items():
        value = meta.get(name)
        if value is not None and (not isinstance(value, types) or isinstance(value, bool)):
            problems.append(Problem(str(path), f"'{name}' is {json.dumps(value)[:40]}, not a {kind}", "field ignored"))
            meta.pop(name)
    return meta


def _tempo(folder: Path, midi_info: dict, meta: dict, problems: list[Problem], flags: list[str]) -> tuple[float | None, str]:
    """The song's tempo (BPM) and where it came from: the MIDI's first tempo, else project.json's
    ``bpm``; a tempo outside ``TEMPO_RANGE`` is reported and not used (None: estimate from the stems)."""
    given = []
    if midi_info.get("tempos"):
        given.append((float(midi_info["tempos"][0]), "MIDI tempo map", str(folder / "midi")))
        if len(set(midi_info["tempos"])) > 1:
            flags.append(f"tempo changes in the MIDI; using the first tempo, {midi_info['tempos'][0]:g} BPM")
    if "bpm" in meta:
        given.append((float(meta["bpm"]), "project.json", str(folder / "project.json")))
    for bpm, source, where in given:
        if math.isfinite(bpm) and TEMPO_RANGE[0] <= bpm <= TEMPO_RANGE[1]:
            return bpm, source
        problems.append(Problem(where, f"tempo {bpm:g} BPM is outside {TEMPO_RANGE[0]:g}-{TEMPO_RANGE[1]:g} BPM",
                                "not used"))
    return None, "unknown"


def _stems_too_short(folder: Path, seconds: float, midi_tracks: list[MidiTrack], bpm: float, problems: list[Problem]) -> bool:
    """Whether the stems end before half the MIDI has played (truncated renders), with a problem if so."""
    midi_end = max((n.start + n.duration for t in midi_tracks for n in t.notes), default=0.0) * 60.0 / bpm
    if seconds >= 0.5 * midi_end:
        return False
    problems.append(Problem(str(folder / "stems"), f"the stems are {seconds:.3f} s long but the MIDI plays for {midi_end:.2f} s",
                            "stems not used; the MIDI is used for writing only"))
    return True


def _valid_stems(folder: Path, problems: list[Problem]) -> tuple[list[Path], int | None, int | None]:
    infos = {}
    stem_dir = folder / "stems"
    for path in sorted(stem_dir.iterdir()) if stem_dir.is_dir() else []:
        if path.name.startswith("."):
            continue
        if path.suffix.lower() not in AUDIO_EXTENSIONS:
            problems.append(Problem(str(path), f"not an audio file ({path.suffix or 'no extension'})", "skipped"))
            continue
        if path.stat().st_size == 0:
            problems.append(Problem(str(path), "empty file (0 bytes)", "skipped"))
            continue
        try:
            info = sf.info(str(path))
            rate, frames = info.samplerate, info.frames
        except Exception as exc:
            if path.suffix.lower() != ".mp3":
                said = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                problems.append(Problem(str(path), f"unreadable audio ({said.split(chr(39) + ': ', 1)[-1][:120]})", "skipped"))
                continue
            rate, frames = _mp3_info(path, problems)
            if rate is None:
                continue
        if frames <= 0:
            problems.append(Problem(str(path), "zero-length audio", "skipped"))
            continue
        infos[path] = (rate, frames)
    if not infos:
        return [], None, None
    rates = sorted({r for r, _ in infos.values()})
    rate = max(rates, key=lambda r: sum(1 for rr, _ in infos.values() if rr == r))
    for path, (r, _) in infos.items():
        if r != rate:
            problems.append(Problem(str(path), f"sample rate {r} Hz differs from the song's {rate} Hz", f"resampled to {rate} Hz"))
    seconds = {p: f / r for p, (r, f) in infos.items()}
    lengths = sorted(seconds.values())
    reference = lengths[len(lengths) // 2]
    kept = []
    for path, sec in seconds.items():
        if abs(sec - reference) <= LENGTH_TOLERANCE_SECONDS:
            if abs(sec - reference) > 1.0 / rate:
                problems.append(Problem(str(path), f"length {sec:.3f} s differs from {reference:.3f} s by under 50 ms",
                                        "padded or trimmed"))
            kept.append(path)
        else:
            problems.append(Problem(str(path), f"length {sec:.2f} s differs from the song's {reference:.2f} s by more than 50 ms",
                                    "skipped"))
    return kept, rate, int(round(reference * rate))


def _mp3_info(path: Path, problems: list[Problem]) -> tuple[int | None, int]:
    from sample_library.audio_io import read_audio
    from sample_library.errors import InputError

    try:
        audio, rate = read_audio(path)
    except InputError as exc:
        problems.append(Problem(str(path), exc.problem, "skipped"))
        return None, 0
    return rate, audio.shape[1]


def _read_midi_folder(folder: Path, problems: list[Problem], flags: list[str]) -> tuple[list[MidiTrack], dict]:
    midi_dir = folder / "midi"
    files = sorted(p for p in midi_dir.iterdir() if p.suffix.lower() in (".mid", ".midi")) if midi_dir.is_dir() else []
    tracks: list[MidiTrack] = []
    info: dict = {"tempos": [], "time_signatures": []}
    for path in files:
        try:
            file_tracks, file_info = read_midi(path)
        except ValueError as exc:
            problems.append(Problem(str(path), str(exc), "skipped"))
            continue
        with_notes = [t for t in file_tracks if t.notes]
        if not with_notes:
            problems.append(Problem(str(path), "MIDI file has no notes", "skipped"))
            continue
        if len(files) > 1 and len(with_notes) == 1:
            with_notes[0].name = path.stem
        tracks += with_notes
        info["tempos"] += file_info["tempos"]
        info["time_signatures"] += file_info["time_signatures"]
        odd = sorted({f"{n}/{d}" for n, d in file_info["time_signatures"] if (n, d) != (4, 4)})
        if odd:
            flags.append(f"{path.name}: time signature {', '.join(odd)} is not 4/4 (kept, bars counted as 4/4)")
    return tracks, info


def _pair(stems: list[Path], midi_tracks: list[MidiTrack], meta: dict) -> list[TrackInput]:
    """Pair stems and MIDI tracks: by a ``stem=`` hint when the MIDI has one, else by name in order."""
    remaining = list(stems)
    pairs: list[TrackInput] = []
    unpaired_midi = []
    for track in midi_tracks:
        if track.stem_hint:
            match = next((s for s in remaining if pairing_key(s.stem) == pairing_key(Path(track.stem_hint).stem)
                          and Path(track.stem_hint).stem.split("_")[0] == s.stem.split("_")[0]), None)
            match = match or next((s for s in remaining if pairing_key(s.stem) == pairing_key(Path(track.stem_hint).stem)), None)
            if match is not None:
                remaining.remove(match)
                pairs.append(TrackInput(name=track.name, stem=match, midi=track))
                continue
        unpaired_midi.append(track)
    for track in unpaired_midi:
        match = next((s for s in remaining if pairing_key(s.stem) == pairing_key(track.name)), None)
        if match is not None:
            remaining.remove(match)
        pairs.append(TrackInput(name=track.name, stem=match, midi=track))
    for stem in remaining:
        pairs.append(TrackInput(name=re.sub(r"^\d+[\s_.\-]*", "", stem.stem), stem=stem, midi=None))
    roles = meta.get("roles") if isinstance(meta.get("roles"), dict) else {}
    keyed_roles = {pairing_key(k): v for k, v in roles.items()}
    for t in pairs:
        hint = keyed_roles.get(pairing_key(t.name)) or (keyed_roles.get(pairing_key(t.stem.stem)) if t.stem else None)
        if isinstance(hint, str):
            t.role_hint = hint
    return pairs
