"""The candidate folder: its names, what is written into it, and reading it back.

One folder per candidate::

    <base>/                                    <Title>_<BPM>BPM_<Key>, e.g. Demo 0-01_126BPM_F#m
      <base>.wav (24-bit), .mp3 [, .flac]     the mastered song
      stems/groups/<base>_<Group>.wav          drums, bass, synths, vocals, fx (pre-master)
      stems/tracks/<base>_<Group>-<Track>.wav  every track, and the reverb return (pre-master)
      [stems/dry/<base>_<Group>-<Track>.wav]   with --dry-stems: every track before its chain
      midi/<base>_<Track>.mid, <base>_full.mid
      <base>.dawproject, <base>.rpp            DAW projects (DAWproject; Reaper) of the stems
      [<base>_dry.dawproject, <base>_dry.rpp]  with --dry-stems: the dry stems, the chain rebuilt
      kit/<Track>/NN.wav, kit/<base>_<Track>.sfz  the one-shots each track played, as SFZ instruments
      render.json                              title, artist, provenance, settings, sections, roles,
                                               samples, gains, novelty, master, files, waveform

A folder is written into a staging folder and renamed into place. Every other module finds the
parts of a candidate through this one.
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import cache
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np
import soundfile as sf

from project_ingest.bundle import ArtistBundle, safe_song_name, write_json
from project_ingest.midi_io import read_midi, score_to_midi, write_midi
from project_ingest.score import BEATS_PER_BAR, Key, Score, Section
from sample_library.audio_io import Mp3Encoding, current_umask, start_mp3
from sample_library.errors import InputError
from template_engine.render.audio_files import ForkedWrites, write_audio
from template_engine.render.dawproject import write_dawproject
from template_engine.render.gallery import waveform_peaks
from template_engine.render.master import MasterReport, macro_allowance_db, master_audio, target_lufs_for
from template_engine.render.mix import SAMPLE_RATE, MixResult, group_of
from template_engine.render.reaper import write_reaper_project
from template_engine.render.settings import RenderSettings
from template_engine.render.sfz import write_kit
from template_engine.render.span_audio import SpanAudio, Stem

CEILING_DBTP = -1.0
GROUP_STEMS = Path("stems") / "groups"
TRACK_STEMS = Path("stems") / "tracks"
DRY_STEMS = Path("stems") / "dry"
REQUIRED_INFO = ("title", "artist", "bpm", "key", "sections", "roles", "files")


def folder_name(title: str, score: Score) -> str:
    return f"{safe_song_name(title)}_{int(round(score.bpm))}BPM_{score.key.short}"


def stem_files(folder: Path, base: str, mixed: MixResult, suffix: str = "wav") -> list[tuple[str, Path, Stem]]:
    """Every stem of a mix as (label, path, audio): the groups (drums, bass, synths, vocals, fx) in
    ``stems/groups``, then each track, labelled ``<Group>-<Track>``, in ``stems/tracks``: the two sets
    each sum to the mix, so a DAW gets one folder or the other, never both."""
    stems: list[tuple[str, Path, Stem]] = [
        (group.capitalize(), folder / GROUP_STEMS / f"{base}_{group.capitalize()}.{suffix}", audio)
        for group, audio in mixed.groups.items()]
    for name, audio in mixed.tracks.items():
        stems.append((stem_label(name), folder / TRACK_STEMS / f"{base}_{stem_label(name)}.{suffix}", audio))
    return stems


def stem_label(track: str) -> str:
    """A track's name on its stem: ``<Group>-<Track>``."""
    return f"{group_of(track).capitalize()}-{track_label(track)}"


def dry_stem_files(folder: Path, base: str, mixed: MixResult, suffix: str = "wav") -> list[tuple[str, Path, Stem]]:
    """The dry stems of a mix kept with ``keep_dry`` as (label, path, audio), in ``stems/dry``."""
    return [(stem_label(name), folder / DRY_STEMS / f"{base}_{stem_label(name)}.{suffix}", audio)
            for name, audio in mixed.dry.items()]


def export_candidate(folder: Path, base: str, title: str, score: Score, mixed: MixResult, mastered: np.ndarray, *,
                     formats: tuple[str, ...], artist: str = "", sample_rate: int = SAMPLE_RATE, stems_as: str = "wav",
                     subtype: str = "PCM_24") -> tuple[dict[str, list[str]], list[Mp3Encoding]]:
    """Write the song, stems, MIDI and DAW project of one candidate into ``folder``, naming files after
    ``base`` (``<Title>_<BPM>BPM_<Key>``); return the files written, relative to the folder, and the
    MP3 still encoding (``Mp3Encoding``, in ffmpeg's own process: a batch lets it encode while the
    next song is mixed). The MP3 encode starts first, and the MIDI and the DAW project are written
    while the other audio files are: about half of those in a forked copy of this process where it
    may fork (``ForkedWrites``; no thread waits on the MP3). Each track's audio is let go once its
    stem is written (the groups, written first, are sums of them)."""
    songs = [(folder / f"{base}.{fmt}", mastered) for fmt in ("mp3", "flac", "wav") if fmt in formats]
    stems = stem_files(folder, base, mixed, stems_as) if stems_as != "none" else []
    dry = dry_stem_files(folder, base, mixed, stems_as) if stems_as != "none" else []
    stems += dry
    files: dict[str, list[str]] = {"song": [path.name for path, _ in songs[::-1]],
                                   "stems": [path.relative_to(folder).as_posix() for _, path, _ in stems]}
    track_stems = [(label, path, None) for label, path, _ in stems[len(mixed.groups):len(stems) - len(dry)]]
    writes = [(path, audio) for path, audio in songs if path.suffix != ".mp3"]
    writes += [(path, audio) for _, path, audio in stems]
    encoding = [start_mp3(path, audio, sample_rate) for path, audio in songs if path.suffix == ".mp3"]
    try:
        with ForkedWrites(writes, sample_rate, subtype) as shared:
            with ThreadPoolExecutor(max_workers=shared.threads) as pool:
                writing = write_audio(pool, shared.here, sample_rate, subtype)
                files["midi"] = write_midi_files(folder, base, score)
                projects = [(base, track_stems)]
                if dry:
                    wet_only = [stem for stem in track_stems if stem[0] not in {label for label, _, _ in dry}]
                    projects.append((f"{base}_dry", [(label, path, mixed.chains[name]) for (label, path, _), name
                                                     in zip(dry, mixed.dry)] + wet_only))
                files["dawproject"] = write_projects(folder, projects, score, title=title, artist=artist,
                                                     sample_rate=sample_rate, seconds=mastered.shape[1] / sample_rate)
                for done, (_, audio) in zip(writing, shared.here):
                    done.result()
                    if isinstance(audio, SpanAudio):
                        audio.free()
        for _, audio in shared.aside:
            if isinstance(audio, SpanAudio):
                audio.free()
        files["kit"] = write_kit(folder, base, {role: (track_label(role), inst) for role, inst in mixed.instruments.items()})
    except BaseException:
        for mp3 in encoding:
            mp3.stop()  # nothing may still be writing into a folder its caller removes
        raise
    return files, encoding


def write_midi_files(folder: Path, base: str, score: Score) -> list[str]:
    """The song's MIDI, all tracks and each alone, in ``folder/midi``; returns their paths, relative to ``folder``."""
    roles = list(score.tracks)
    write_midi(folder / "midi" / f"{base}_full.mid", score_to_midi(score, track_names={r: track_label(r) for r in roles},
                                                                  roles=roles))
    written = [f"midi/{base}_full.mid"]
    for role in roles:
        single = Score(score.bpm, score.key, score.sections, {role: score.tracks[role]})
        write_midi(folder / "midi" / f"{base}_{track_label(role)}.mid",
                   score_to_midi(single, track_names={role: track_label(role)}, roles=[role]))
        written.append(f"midi/{base}_{track_label(role)}.mid")
    return written


def write_projects(folder: Path, projects: list[tuple[str, list]], score: Score, *, title: str, artist: str,
                   sample_rate: int, seconds: float) -> list[str]:
    """A DAWproject and a Reaper project of each (name, stems) in ``projects``; returns their file names."""
    written = []
    for name, stems in projects:
        write_dawproject(folder / f"{name}.dawproject", score, title=title, artist=artist, stems=stems,
                         sample_rate=sample_rate, seconds=seconds)
        write_reaper_project(folder / f"{name}.rpp", score, stems=stems, seconds=seconds, sample_rate=sample_rate)
        written += [f"{name}.dawproject", f"{name}.rpp"]
    return written


def track_label(role: str) -> str:
    return "".join(w.capitalize() for w in role.split("_"))


def read_info(folder: Path) -> dict:
    """A candidate's ``render.json``; InputError naming the folder or file when it is missing or broken."""
    meta = folder / "render.json"
    if not meta.is_file():
        raise InputError(folder, "has no render.json: not a candidate folder written by render-template")
    try:
        info = json.loads(meta.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(meta, f"is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(info, dict):
        raise InputError(meta, "is not a render.json object")
    missing = [k for k in REQUIRED_INFO if k not in info]
    if missing:
        raise InputError(meta, f"has no {', '.join(missing)}: not written by render-template, or damaged")
    return info


def load_candidate(folder: Path) -> tuple[dict, Score]:
    """A rendered candidate's ``render.json`` and its score, read back from its full MIDI file."""
    info = read_info(folder)
    full = next((folder / f for f in info["files"]["midi"] if f.endswith("_full.mid")), None)
    if full is None or not full.is_file():
        raise InputError(folder, "its full MIDI file is missing")
    role_of = {track_label(r): r for r in info["roles"]}
    tracks, _ = read_midi(full)
    notes = {role_of[t.name]: t.notes for t in tracks if t.name in role_of and t.notes}
    sections = [Section.from_dict(s) for s in info["sections"]]
    return info, Score(info["bpm"], Key.parse(info["key"]), sections, notes, names={r: r for r in notes})



def find_candidates(paths: list[Path]) -> list[Path]:
    """Candidate folders (holding render.json) among ``paths`` and their direct subfolders."""
    found = []
    for path in map(Path, paths):
        if (path / "render.json").is_file():
            found.append(path)
            continue
        inner = sorted(p for p in path.glob("*") if (p / "render.json").is_file()) if path.is_dir() else []
        if not inner:
            raise InputError(path, "is neither a candidate folder (render.json) nor a folder of candidates")
        found += inner
    return found


def read_song(folder: Path, info: dict) -> tuple[np.ndarray, int]:
    """The candidate's mastered song as (channels, frames) float32, and its sample rate."""
    song, sr = sf.read(str(folder / info["files"]["song"][0]), always_2d=True, dtype="float32")
    return song.T, sr


@cache
def library_versions() -> dict[str, str]:
    """The versions of the libraries a render depends on, read once per process."""
    out = {"python": platform.python_version()}
    for name in ("numpy", "torch", "miditok", "pedalboard", "pyloudnorm", "mido", "soundfile", "scipy"):
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def master_candidate(bundle: ArtistBundle, settings: RenderSettings, mixed: MixResult) -> tuple[np.ndarray, MasterReport]:
    """The candidate's pre-master mix mastered to the artist's loudness (or ``--lufs``), macro-dynamics
    and tonal balance: the song (channels, frames) and the master's report, but for what is measured
    on the finished master (``stage_candidate`` measures it while the MP3 encodes)."""
    return master_audio(mixed.premaster, settings.sample_rate, target_lufs=target_lufs_for(bundle.mix_profile, settings.lufs),
                        ceiling_dbtp=CEILING_DBTP, allowance_db=macro_allowance_db(bundle.mix_profile),
                        tone_db=bundle.mix_profile.master_eq_db)


def write_candidate(bundle: ArtistBundle, folder: Path, title: str, score: Score, novelty: dict,
                    settings: RenderSettings, *, index: int, provenance: dict[str, str | None], mixed: MixResult,
                    mastered: tuple[np.ndarray, MasterReport], extra: dict | None = None) -> Path:
    """Export one mixed and mastered (``master_candidate``) candidate into ``folder`` through a staging
    folder renamed into place (``stage_candidate``, then its ``claim``); ``provenance`` is
    ``bundle_provenance(bundle)``."""
    return stage_candidate(bundle, folder, title, score, novelty, settings, index=index, provenance=provenance,
                           mixed=mixed, mastered=mastered, extra=extra).claim()


@dataclass
class StagedCandidate:
    """A candidate written into its ``staging`` folder but for the files still being written
    (``pending``) and its render.json (``info``); ``claim`` finishes it as ``folder``."""

    staging: Path
    folder: Path
    info: dict
    pending: list[Mp3Encoding]
    force: bool

    def claim(self) -> Path:
        """Wait for the pending files, write render.json and rename the staging folder into place;
        returns the folder. A write that failed (a full disk) is an InputError naming the output
        folder, and the staging folder is removed whatever happens."""
        try:
            for mp3 in self.pending:
                mp3.result()
            write_json(self.staging / "render.json", self.info)
            claim_folder(self.staging, self.folder, force=self.force)
        except OSError as exc:
            raise _unwritable(self.folder, exc) from None
        finally:
            for mp3 in self.pending:
                mp3.stop()
            shutil.rmtree(self.staging, ignore_errors=True)
        return self.folder


def stage_candidate(bundle: ArtistBundle, folder: Path, title: str, score: Score, novelty: dict,
                    settings: RenderSettings, *, index: int, provenance: dict[str, str | None], mixed: MixResult,
                    mastered: tuple[np.ndarray, MasterReport], extra: dict | None = None) -> StagedCandidate:
    """Write one candidate into a fresh staging folder beside ``folder``, its MP3 still encoding
    (``export_candidate``). A write that fails (a full disk, a folder that cannot be written)
    removes the staging folder and is an InputError naming the output folder."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".partial", dir=folder.parent))
    except OSError as exc:
        raise InputError(folder.parent, f"cannot be written ({exc.strerror or exc})") from None
    song, report = mastered
    pending: list[Mp3Encoding] = []
    try:
        staging.chmod(0o777 & ~current_umask())
        files, pending = export_candidate(staging, folder.name, title, score, mixed, song, formats=settings.formats,
                                          artist=bundle.name, stems_as=settings.stems, subtype=settings.subtype,
                                          sample_rate=settings.sample_rate)
        report = report.measured(mixed.premaster, song, settings.sample_rate, BEATS_PER_BAR * 60.0 / score.bpm,
                                 bundle.mix_profile.master_eq_db)
        info = {
            "title": title, "artist": bundle.name, **provenance,
            "seed": settings.seed, "index": index, "settings": recorded_settings(settings),
            "bpm": score.bpm, "key": str(score.key), "bars": score.bars,
            "sections": [s.to_dict() for s in score.sections],
            "roles": {r: len(n) for r, n in score.tracks.items()},
            "samples": mixed.kit, "played_by": mixed.played_by,
            "track_gains_db": {k: round(v, 2) for k, v in mixed.gains_db.items()},
            "novelty": novelty,
            "master": report.to_dict(),
            "files": files, "waveform": waveform_peaks(song), "versions": dict(library_versions()),
            "sample_rate": settings.sample_rate, **(extra or {}),
        }
    except BaseException as exc:
        for mp3 in pending:
            mp3.stop()  # an MP3 still encoding into the staging folder
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise _unwritable(folder, exc) from None
        raise
    return StagedCandidate(staging, folder, info, pending, settings.force)


def _unwritable(folder: Path, exc: OSError) -> InputError:
    return InputError(folder.parent, f"cannot be written ({exc.strerror or exc}); nothing was left there")


def recorded_settings(settings: RenderSettings) -> dict:
    """The settings that made a candidate, as render.json keeps them (``force`` says how a folder was
    written, not what is in it, so it is left out)."""
    return {**{k: v for k, v in asdict(settings).items() if k != "force"}, "formats": list(settings.formats)}


def claim_folder(staging: Path, folder: Path, *, force: bool) -> None:
    """Rename the finished ``staging`` folder to ``folder``. Without ``force`` a folder that appeared
    meanwhile (another render into the same place) is kept and this one is dropped with an InputError:
    the rename onto a folder that has files fails, so two renders never replace each other."""
    if force and folder.exists():
        shutil.rmtree(folder)
    try:
        staging.rename(folder)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        raise InputError(folder, "was written by another render meanwhile; this candidate was not kept "
                                 "(choose another --out or --seed, or pass --force)") from None


def stem_sets(folder: Path, info: dict) -> tuple[list[Path], list[Path]]:
    """A candidate's group stems and its track stems (paths), from its ``render.json`` ``info``."""
    stems = [folder / f for f in info["files"]["stems"]]
    groups = [p for p in stems if p.parent.name == GROUP_STEMS.name]
    return groups, [p for p in stems if p not in groups]
