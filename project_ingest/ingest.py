"""``template ingest``: read past projects and write (or update) an artist bundle."""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from project_ingest.alignment import stem_lag_s, stems_lag_s
from project_ingest.bundle import (
    SCHEMA_VERSION,
    ArtistBundle,
    bundle_path,
    read_json,
    replace_dir,
    safe_song_name,
    song_file_stem,
    staging_dir,
    write_json,
)
from project_ingest.classify import RoleAssignment, audio_traits, classify_track
from project_ingest.corpus import detect_key, detect_sections, first_downbeat, load_corpus, quantise, sections_from_meta, with_energy
from project_ingest.discovery import LENGTH_TOLERANCE_SECONDS, Problem, ProjectInput, discover_projects
from project_ingest.form import learn_form
from project_ingest.harvest_song import SongHarvest, harvest_report, harvest_song
from project_ingest.midi_io import score_to_midi, write_midi
from project_ingest.mix_analysis import bar_levels_db, measure_role, section_levels_db
from project_ingest.profile import STEMS_SUM, aggregate_profile
from project_ingest.score import BEATS_PER_BAR, BeatNote, Key, Score, Section
from project_ingest.spectrum import band_levels_db
from project_ingest.tempo import estimate_tempo
from sample_library.audio_io import read_audio, resample, to_stereo
from sample_library.errors import InputError
from sample_library.importer import import_folders
from sample_library.library import SampleLibrary
from sample_library.loudness import integrated_loudness, level_spread_db, true_peak_db
from sample_library.processes import map_in_processes, map_on_ray
from sample_library.roles import DRUM_ROLES

MAX_INGEST_WORKERS = 4


@dataclass
class SongResult:
    """Everything ingest learned from one project."""

    name: str
    score: Score
    meta: dict
    mix: dict
    tracks: list[dict]
    harvest: SongHarvest = field(default_factory=SongHarvest)


@dataclass
class IngestResult:
    bundle: ArtistBundle
    report: dict


def ingest(projects_dir: Path, *, artist: str, root: Path, sample_dirs: Sequence[Path] = (),
           update: bool = False, force: bool = False, progress: bool = True, workers: int = 1,
           ray_address: str | None = None) -> IngestResult:
    """Ingest every project under ``projects_dir`` into the bundle of ``artist`` under ``root``.

    Without ``update`` an existing bundle is only replaced with ``force``; with ``update`` the new
    projects are added to it. Projects are analysed in ``workers`` processes, or each as a task on
    the Ray cluster at ``ray_address`` (the projects on a path every node shares); the bundle is then
    built by this one in a staging folder and swapped in whole (the same bundle either way).
    """
    dest = bundle_path(artist, root)
    if not Path(projects_dir).is_dir():
        raise InputError(projects_dir, "is not a folder")
    if update and not dest.exists():
        raise InputError("--update", f"there is no artist '{artist}' in {root} to add projects to")
    if dest.exists() and not (update or force):
        raise InputError(dest, "an artist of this name exists: use --update to add projects or --force to replace it")
    projects, problems = discover_projects(Path(projects_dir))
    songs: list[SongResult] = []
    for song, project in analyse_projects(projects, workers=workers, progress=progress, ray_address=ray_address):
        problems += project.problems
        if song is None:
            problems.append(Problem(str(project.folder), "no track with notes could be used", "project skipped"))
            continue
        songs.append(song)
    if not songs:
        reasons = "; ".join(f"{p.file}: {p.reason}" for p in problems[:3])
        raise InputError(projects_dir, f"no usable project found ({reasons or 'the folder is empty'})")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_dir(dest)
    try:
        previous = ArtistBundle.load(dest) if (update and dest.exists()) else None
        result = _write_bundle(staging, artist, songs, problems, previous, sample_dirs, Path(projects_dir), progress)
        replace_dir(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return IngestResult(bundle=ArtistBundle.load(dest), report=result)


def analysed(project: ProjectInput) -> tuple[SongResult | None, ProjectInput]:
    """``analyse_project``'s result and the project, which carries the problems found in it."""
    return analyse_project(project), project


def analyse_projects(projects: list[ProjectInput], *, workers: int, progress: bool, ray_address: str | None = None,
                     ) -> list[tuple[SongResult | None, ProjectInput]]:
    """Every project analysed, in order, in ``workers`` processes or as Ray tasks at ``ray_address``."""
    jobs = [(p,) for p in projects]
    if ray_address:
        return map_on_ray(analysed, jobs, address=ray_address, desc="ingesting projects", unit="song", progress=progress)
    return map_in_processes(analysed, jobs, workers=workers, desc="ingesting projects", unit="song", progress=progress)


def default_workers() -> int:
    """Processes for ingest: one per CPU, at most ``MAX_INGEST_WORKERS`` (each holds a song's stems)."""
    return max(1, min(os.cpu_count() or 1, MAX_INGEST_WORKERS))


def analyse_project(project: ProjectInput) -> SongResult | None:
    """Classify, normalise and measure one project. None when nothing in it has notes."""
    stems = _load_stems(project)
    if project.bpm is None:
        if stems:
            project.bpm = estimate_tempo(sum(stems.values()).mean(axis=0), project.sample_rate or 44100)
            project.bpm_source = "estimated from the stems"
            project.flags.append(f"tempo estimated from the stems: {project.bpm:.1f} BPM")
        else:
            return None
    spb = 60.0 / project.bpm
    sr = project.sample_rate or 44100
    if _stems_misplaced(project, stems, spb, sr):
        stems = {}
    assignments: list[tuple[RoleAssignment, Path | None]] = []
    for track in project.tracks:
        audio = stems.get(track.stem) if track.stem is not None else None
        onsets = [n.start * spb for n in track.midi.notes] if track.midi else None
        traits = audio_traits(audio.mean(axis=0), sr, onsets) if audio is not None else None
        for a in classify_track(track, traits):
            assignments.append((a, track.stem))
    role_notes: dict[str, list[BeatNote]] = {}
    for a, _ in assignments:
        if a.notes:
            role_notes.setdefault(a.role, []).extend(a.notes)
    if not role_notes:
        return None
    offset = first_downbeat(role_notes)
    quantised = {role: quantise(notes, offset_beats=offset) for role, notes in role_notes.items()}
    tracks = {role: q.notes for role, q in quantised.items() if q.notes}
    end_beat = max(n.start + n.duration for ns in tracks.values() for n in ns)
    bars = int(np.ceil(end_beat / BEATS_PER_BAR - 1e-6))
    key, key_conf, key_source = _key(project, tracks)
    mix_audio = sum(stems.values()) if stems else None
    bar_db = bar_levels_db(mix_audio, sr, spb, offset, bars) if mix_audio is not None else None
    sections = sections_from_meta(project.meta, bars)
    section_source = "project.json"
    if sections is None:
        sections = detect_sections(tracks, bars, bar_db)
        section_source = "detected"
    sections = with_energy(sections, bar_db)
    score = Score(bpm=float(project.bpm), key=key, sections=sections, tracks=tracks,
                  names={r: r for r in tracks})
    kicks = np.array(sorted(n.start * spb for n in role_notes.get("kick", [])))
    mix = _measure_mix(project, stems, mix_audio, assignments, role_notes, sections, spb, offset, sr, kicks)
    harvest = harvest_song(stems, assignments, spb=spb, sr=sr, kicks=kicks,
                           sidechains={r: f["sidechain"] for r, f in mix["roles"].items() if f.get("sidechain")})
    report_tracks = [{"song": project.name, "track": a.track, "stem": s.name if s else None, "role": a.role,
                      "confidence": round(a.confidence, 2), "evidence": a.evidence,
                      "notes": len(a.notes) if a.notes else 0} for a, s in assignments]
    meta = {"title": project.name, "bpm": project.bpm, "bpm_source": project.bpm_source, "key": str(key),
            "key_confidence": round(key_conf, 3), "key_source": key_source, "bars": bars,
            "offset_beats": offset, "sections_source": section_source,
            "sections": [s.to_dict() for s in sections],
            "quantisation_16ths": {r: round(q.mean_offset_16ths, 3) for r, q in quantised.items()},
            "roles": sorted(tracks), "flags": project.flags, "sample_rate": sr, "source_hash": _project_hash(project),
            "bar_energy_db": [round(float(v), 2) for v in bar_db] if bar_db is not None else None}
    return SongResult(name=project.name, score=score, meta=meta, mix=mix, tracks=report_tracks,
                      harvest=harvest)


def _stems_misplaced(project: ProjectInput, stems: dict[Path, np.ndarray], spb: float, sr: int) -> bool:
    """Whether the stems play their MIDI notes late or early (not printed from the song's start);
    if so they are reported and let go, and the MIDI is kept for writing."""
    lags = []
    for track in project.tracks:
        if track.midi is not None and track.stem in stems:
            lag = stem_lag_s(stems[track.stem].mean(axis=0), sr, np.array([n.start * spb for n in track.midi.notes]))
            if lag is not None:
                lags.append(lag)
    lag = stems_lag_s(lags)
    if lag is None:
        return False
    project.problems.append(Problem(str(project.folder / "stems"),
                                    f"the stems play their MIDI {abs(lag):.2f} s {'late' if lag > 0 else 'early'} "
                                    "(a stem starts at the song's time 0, as its MIDI does)",
                                    "stems not used; the MIDI is used for writing only"))
    for track in project.tracks:
        track.stem = None
    return True


def _load_stems(project: ProjectInput) -> dict[Path, np.ndarray]:
    out = {}
    for track in project.tracks:
        if track.stem is None or track.stem in out:
            continue
        try:
            audio, sr = read_audio(track.stem)
        except InputError as exc:
            project.problems.append(Problem(str(track.stem), exc.problem, "skipped"))
            track.stem = None
            continue
        audio = to_stereo(resample(audio, sr, project.sample_rate or sr))
        frames = project.frames or audio.shape[1]
        if audio.shape[1] < frames:
            audio = np.pad(audio, ((0, 0), (0, frames - audio.shape[1])))
        out[track.stem] = audio[:, :frames].astype(np.float32, copy=False)
    return out


def _key(project: ProjectInput, tracks: dict[str, list[BeatNote]]) -> tuple[Key, float, str]:
    given = project.meta.get("key")
    if isinstance(given, str):
        try:
            return Key.parse(given), 1.0, "project.json"
        except ValueError:
            project.flags.append(f"project.json key '{given}' not understood; detecting the key")
    key, conf = detect_key(tracks)
    return key, conf, "detected"


def _measure_mix(project: ProjectInput, stems: dict[Path, np.ndarray], mix: np.ndarray | None,
                 assignments: list[tuple[RoleAssignment, Path | None]],
                 role_notes: dict[str, list[BeatNote]], sections: list[Section], spb: float, offset: float, sr: int,
                 kicks: np.ndarray) -> dict:
    """Per role: the figures of ``project_ingest.mix_analysis`` (ducking at ``kicks``, s); for the
    master: loudness and true peak."""
    if mix is None:
        return {"roles": {}, "master": None}
    mix_loudness = integrated_loudness(mix, sr)
    role_audio: dict[str, np.ndarray] = {}
    for a, stem in assignments:
        if stem not in stems:
            continue
        shared = sum(1 for b, s in assignments if s == stem) > 1
        if shared and a.role in DRUM_ROLES:
            continue
        role_audio[a.role] = role_audio[a.role] + stems[stem] if a.role in role_audio else stems[stem]
    spans = [(s.kind, (s.start_bar * BEATS_PER_BAR + offset) * spb, (s.end_bar * BEATS_PER_BAR + offset) * spb)
             for s in sections]
    roles = {}
    for role, audio in sorted(role_audio.items()):
        figures = measure_role(role, audio, sr, mix_loudness=mix_loudness, notes=role_notes.get(role, []),
                               kicks=kicks, spans=spans, sections=sections, spb=spb, offset=offset)
        if figures is not None:
            roles[role] = figures
    master_audio = mix
    master_source = STEMS_SUM
    if project.mix is not None:
        try:
            audio, rate = read_audio(project.mix)
            if mix is not None and abs(audio.shape[1] / rate - mix.shape[1] / sr) > LENGTH_TOLERANCE_SECONDS:
                raise InputError(project.mix, f"is {audio.shape[1] / rate:.2f} s long but the stems {mix.shape[1] / sr:.2f} s")
            master_audio, master_source = to_stereo(resample(audio, rate, sr)), project.mix.name
        except InputError as exc:
            project.problems.append(Problem(str(project.mix), exc.problem, "measured the stems' sum instead"))
    bar = BEATS_PER_BAR * spb
    loudness, peak = integrated_loudness(master_audio, sr), true_peak_db(master_audio)
    bars = max((s.end_bar for s in sections), default=0)
    return {"roles": roles, "stems_sum_lufs": round(mix_loudness, 3),
            "master": {"integrated_lufs": round(loudness, 3), "true_peak_dbtp": round(peak, 3),
                       "eq_db": [round(float(v), 2) for v in band_levels_db(master_audio.mean(axis=0), sr)],
                       "peak_to_loudness_db": round(peak - loudness, 3),
                       "spread_db": round(level_spread_db(master_audio, sr, bar), 3),
                       "stems_spread_db": round(level_spread_db(mix, sr, bar), 3),
                       "section_db": section_levels_db(bar_levels_db(master_audio, sr, spb, offset, bars), sections),
                       "source": master_source}}


def _project_hash(project: ProjectInput) -> str:
    h = hashlib.sha256()
    files = [t.stem for t in project.tracks if t.stem is not None]
    files += sorted((project.folder / "midi").glob("*")) if (project.folder / "midi").is_dir() else []
    if (project.folder / "project.json").is_file():
        files.append(project.folder / "project.json")
    for f in sorted(set(files)):
        h.update(f.name.encode())
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def _write_bundle(staging: Path, artist: str, songs: list[SongResult], problems: list[Problem],
                  previous: ArtistBundle | None, sample_dirs: Sequence[Path], projects_dir: Path,
                  progress: bool) -> dict:
    corpus = staging / "corpus"
    corpus.mkdir()
    if previous is not None:
        for item in ("corpus", "samples", "model"):
            if (previous.path / item).exists():
                shutil.copytree(previous.path / item, staging / item, dirs_exist_ok=True)
    for song in songs:
        safe = song_file_stem(corpus, song.name)
        write_midi(corpus / f"{safe}.mid", score_to_midi(song.score, roles=sorted(song.score.tracks)))
        write_json(corpus / f"{safe}.json", {**song.meta, "mix": song.mix})
    library = SampleLibrary(staging / "samples")
    with library.batched():
        harvested = _add_harvest(library, songs)
    imported = None
    if sample_dirs:
        imported = import_folders(library, [Path(d) for d in sample_dirs], progress=progress).to_dict()
    sample_roles = library.roles()
    library.close()
    all_meta = [read_json(p) for p in sorted(corpus.glob("[!.]*.json"))]
    profile = aggregate_profile([m["mix"] for m in all_meta])
    write_json(staging / "mix_profile.json", profile)
    write_json(staging / "form.json", learn_form([s for _, s in load_corpus(staging)]).to_dict())
    report = {
        "projects_dir": str(projects_dir), "songs": [s.name for s in songs],
        "tracks": [t for s in songs for t in s.tracks],
        "problems": [p.to_dict() for p in problems],
        "flags": {s.name: s.meta["flags"] for s in songs if s.meta["flags"]},
        "harvested_one_shots": harvested, "imported_samples": imported,
        "pitched_harvest": harvest_report([s.harvest for s in songs]),
    }
    write_json(staging / "ingest_report.json", report)
    artist_json = _artist_json(artist, all_meta, sample_roles)
    write_json(staging / "artist.json", artist_json)
    return report


def _add_harvest(library: SampleLibrary, songs: list[SongResult]) -> int:
    """Add every song's harvested hits and notes to ``library``; returns how many were new."""
    harvested = 0
    for song in songs:
        for role, hits in sorted(song.harvest.hits.items()):
            for i, hit in enumerate(hits):
                _, new = library.add_audio(hit.audio, song.meta["sample_rate"],
                                           name=f"{safe_song_name(song.name)} {role} {i + 1}.wav", role=role,
                                           origin="harvest", song=song.name, velocity=hit.velocity, note=hit.note)
                harvested += int(new)
        for role, harvest in sorted(song.harvest.notes.items()):
            for i, note in enumerate(harvest.kept):
                kind = "chord" if note.chord else "note"
                _, new = library.add_audio(note.audio, song.meta["sample_rate"],
                                           name=f"{safe_song_name(song.name)} {role} {kind} {i + 1}.wav", role=role,
                                           origin="harvest", song=song.name, velocity=note.velocity,
                                           root_midi=note.root_midi, note=note.pitches[0], sustain_end=note.sustain_end,
                                           chord_size=len(note.pitches))
                harvested += int(new)
    return harvested


def _artist_json(artist: str, all_meta: list[dict], sample_roles: dict[str, int]) -> dict:
    """artist.json: the schema, name, source projects, tempo range, keys, roles, section statistics,
    samples per role and the time of ingest."""
    bpms = [m["bpm"] for m in all_meta]
    section_counts: dict[str, dict] = {}
    for m in all_meta:
        for s in m["sections"]:
            entry = section_counts.setdefault(s["type"], {"count": 0, "bars": []})
            entry["count"] += 1
            entry["bars"].append(s["bars"])
    return {
        "schema_version": SCHEMA_VERSION, "name": artist,
        "projects": [{"title": m["title"], "hash": m["source_hash"], "bpm": m["bpm"], "key": m["key"], "bars": m["bars"]}
                     for m in all_meta],
        "tempo_range": [min(bpms), max(bpms)],
        "keys": sorted({m["key"] for m in all_meta}),
        "roles": sorted({r for m in all_meta for r in m["roles"]}),
        "sections": {k: {"count": v["count"], "median_bars": float(np.median(v["bars"]))} for k, v in sorted(section_counts.items())},
        "samples": sample_roles,
        "ingested_at": _ingest_time(),
    }


def _ingest_time() -> str:
    """The time of ingest; pinned by SOURCE_DATE_EPOCH for reproducible bundles."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = _dt.datetime.fromtimestamp(int(epoch), _dt.UTC) if epoch else _dt.datetime.now(_dt.UTC)
    return when.replace(microsecond=0).isoformat()


