"""``render-template``: generate candidates, play them with the artist's samples, mix, master, export.

One folder per candidate::

    <Title>_<BPM>BPM_<Key>/
      <base>.wav (24-bit), .mp3 [, .flac]     the mastered song
      stems/<base>_<Group>.wav                 drums, bass, synths, vocals, fx (pre-master)
      stems/<base>_<Track>.wav                 every track, and the reverb return (pre-master)
      midi/<Title>_<Track>.mid, <Title>_full.mid
      <Title>.dawproject
      render.json
"""

from __future__ import annotations

import os
import platform
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np
from tqdm import tqdm

from project_ingest.bundle import ArtistBundle, write_json
from project_ingest.corpus import load_corpus
from project_ingest.ingest import safe_song_name
from project_ingest.midi_io import score_to_midi, write_midi
from project_ingest.score import BEATS_PER_BAR, Key, Score
from sample_library.audio_io import write_mp3, write_wav
from sample_library.errors import InputError
from sample_library.kit import build_instrument, select_kit
from sample_library.library import SampleLibrary
from sample_library.roles import GROUP_OF_ROLE
from sample_library.sampler import Instrument, Note
from template_engine import mixing
from template_engine.dawproject import write_dawproject
from template_engine.dsp import Span, sounding_spans
from template_engine.gallery import waveform_peaks, write_gallery
from template_engine.generate import SamplingSettings, generate_songs
from template_engine.master import master
from template_engine.train import load_model

SAMPLE_RATE = 44100
TAIL_SECONDS = 2.0
GROUP_ORDER = ("drums", "bass", "synths", "vocals", "fx")
FORMATS = ("wav", "mp3", "flac")
MIX_THREADS = min(4, os.cpu_count() or 1)
HEADROOM_PEAK = 10 ** (-3 / 20)  # pre-master stems peak at -3 dBFS at most, so 24-bit files never clip


@dataclass
class RenderSettings:
    count: int = 10
    seed: int = 0
    bpm: float | None = None
    key: str | None = None
    bars: int | None = None
    formats: tuple[str, ...] = ("wav", "mp3")
    title: str | None = None
    temperature: float = 1.0
    top_p: float = 0.95
    force: bool = False


@dataclass
class MixResult:
    """Pre-master stems per track and group (2, frames), the pre-master mix, the kit used and each
    track's level gain (dB)."""

    tracks: dict[str, np.ndarray]
    groups: dict[str, np.ndarray]
    premaster: np.ndarray
    kit: dict[str, list[str]]
    gains_db: dict[str, float]


def mix_song(score: Score, library: SampleLibrary, profile: dict, *, seed: int,
             sample_rate: int = SAMPLE_RATE) -> MixResult:
    """Play every role of ``score`` with a kit from ``library`` and the learned chains of ``profile``.

    Each chain runs only where its track sounds (``sounding_spans``), in place. The roles' chains are
    independent until the sum, so they run on a thread pool (numpy, scipy's FFTs and pedalboard
    release the GIL); each track is summed into its group as it comes, and the shared reverb,
    queued after them, runs while the last groups and the mix are summed. Every sum is in a fixed
    order, so the mix is the same whatever the scheduling.
    """
    roles_profile = profile.get("roles", {})
    centres = {r: float(np.median([n.pitch for n in ns])) for r, ns in score.tracks.items()}
    kit = select_kit(library, list(score.tracks), seed=seed, pitch_centres=centres)
    spb = 60.0 / score.bpm
    frames = int((score.bars * BEATS_PER_BAR * spb + TAIL_SECONDS) * sample_rate)
    kicks = np.array([n.start * spb for n in score.tracks.get("kick", [])])
    sends = {role: reverb_send(roles_profile.get(role, {})) for role in score.tracks}
    played = [(role, build_instrument(library, role, kit.samples[role], sample_rate=sample_rate, seed=seed), notes)
              for role, notes in score.tracks.items() if kit.samples.get(role)]

    def play(job: tuple[str, Instrument, list]) -> tuple[np.ndarray, float, list[Span]]:
        role, inst, notes = job
        prof = roles_profile.get(role, {})
        vel_model = prof.get("velocity")
        events = [Note(n.start * spb, (n.start + n.duration) * spb, n.pitch,
                       mixing.velocity_shaped(n.velocity, int(round((n.start % BEATS_PER_BAR) * 4)), vel_model))
                  for n in notes]
        perf = inst.perform(events, frames)
        clip_filter = None
        if prof.get("eq_db"):
            fir = mixing.eq_fir(perf.place_mono(frames), sample_rate, prof["eq_db"]["db"])
            clip_filter = mixing.fir_clip_filter(fir)
        audio = perf.place(frames, clip_filter)
        spans = sounding_spans(audio, sample_rate)
        mixing.compress_to_crest(audio, sample_rate, (prof.get("crest_db") or {}).get("median"), spans)
        mixing.set_width(audio, (prof.get("width") or {}).get("median"), spans)
        automation = mixing.plan_automation(score, sample_rate, frames, prof.get("automation"))
        automation.sweep(audio, sample_rate, spans)
        for a, b in spans:
            ride = automation.ride_gain(a, b)
            if ride is not None:
                audio[:, a:b] *= ride
        gain_db = mixing.level_gain_db(audio, sample_rate, (prof.get("relative_loudness_db") or {}).get("median"), spans)
        level = np.float32(10 ** (gain_db / 20))
        for a, b in spans:
            duck = None if role == "kick" else mixing.sidechain_gain(sample_rate, prof.get("sidechain"), kicks, spb, a, b)
            audio[:, a:b] *= level if duck is None else duck * level
        return audio, gain_db, spans

    def reverb(playing: list[tuple[Future, float]]) -> np.ndarray | None:
        bus = np.zeros((2, frames), dtype=np.float32)
        for future, level in playing:
            audio, _, heard = future.result()
            add_spans(bus, audio, heard, level)
        return mixing.reverb_return(bus, sample_rate) if np.any(bus) else None

    tracks: dict[str, np.ndarray] = {}
    gains: dict[str, float] = {}
    spans: dict[str, list[Span]] = {}
    groups = {g: np.zeros((2, frames), dtype=np.float32) for g in GROUP_ORDER}
    with ThreadPoolExecutor(max_workers=MIX_THREADS) as pool:
        playing = [pool.submit(play, job) for job in played]
        returning = pool.submit(reverb, [(f, sends[role]) for f, (role, _, _) in zip(playing, played) if sends[role]])
        for future, (role, _, _) in zip(playing, played):
            tracks[role], gains[role], spans[role] = future.result()
            add_spans(groups[group_of(role)], tracks[role], spans[role])
        premaster = np.zeros((2, frames), dtype=np.float32)
        for audio in groups.values():
            premaster += audio
        wet = returning.result()
        if wet is not None:
            tracks["reverb_return"], spans["reverb_return"] = wet, sounding_spans(wet, sample_rate)
            for total in (groups[group_of("reverb_return")], premaster):
                add_spans(total, wet, spans["reverb_return"])
    whole = [(0, frames)]
    peak = max([mixing.peak_of(a, whole) for a in [premaster, *groups.values()]] +
               [mixing.peak_of(tracks[n], spans[n]) for n in tracks] + [1e-9])
    if peak > HEADROOM_PEAK:
        scale = np.float32(HEADROOM_PEAK / peak)
        for name, audio in tracks.items():
            for a, b in spans[name]:
                audio[:, a:b] *= scale
        for audio in [*groups.values(), premaster]:
            audio *= scale
    return MixResult(tracks=tracks, groups={g: a for g, a in groups.items() if np.any(a)}, premaster=premaster,
                     kit=kit.hashes(), gains_db=gains)


def reverb_send(role_profile: dict) -> float:
    """Send level (linear) of a role into the shared reverb: a quarter of its learned reverb tail (s),
    at most 0.5; none for tails of 0.25 s or less, which are the sample's own decay."""
    tail = (role_profile.get("reverb_tail_s") or {}).get("median")
    return min(0.5, tail / 4) if tail and tail > 0.25 else 0.0


def group_of(track: str) -> str:
    """The stem group (one of GROUP_ORDER) a track sums into."""
    return GROUP_OF_ROLE.get(track, "fx")


def add_spans(total: np.ndarray, audio: np.ndarray, spans: list[Span], gain: float = 1.0) -> None:
    """Add (2, frames) ``audio`` times linear ``gain`` into ``total`` in place, within ``spans``
    (outside them it is silent)."""
    for a, b in spans:
        total[:, a:b] += audio[:, a:b] if gain == 1.0 else audio[:, a:b] * np.float32(gain)


def folder_name(title: str, score: Score) -> str:
    return f"{safe_song_name(title)}_{int(round(score.bpm))}BPM_{score.key.slug}"


def stem_files(folder: Path, base: str, mixed: MixResult) -> list[tuple[str, Path, np.ndarray]]:
    """Every stem of a mix as (label, path under ``folder/stems``, audio): the groups (drums, bass,
    synths, vocals, fx), then each track labelled ``<Group>-<Track>``."""
    stems = [(group.capitalize(), folder / "stems" / f"{base}_{group.capitalize()}.wav", audio)
             for group, audio in mixed.groups.items()]
    for name, audio in mixed.tracks.items():
        label = f"{group_of(name).capitalize()}-{track_label(name)}"
        stems.append((label, folder / "stems" / f"{base}_{label}.wav", audio))
    return stems


def write_audio(pool: ThreadPoolExecutor, writes: list[tuple[Path, np.ndarray]], sample_rate: int) -> list[Future]:
    """Start writing each (path, (channels, frames) audio) on ``pool``: ``.mp3`` through ffmpeg, any
    other suffix as 24-bit WAV or FLAC. Returns the futures, in order."""
    return [pool.submit(write_mp3 if path.suffix == ".mp3" else write_wav, path, audio, sample_rate)
            for path, audio in writes]


def export_candidate(folder: Path, base: str, title: str, score: Score, mixed: MixResult, mastered: np.ndarray, *,
                     formats: tuple[str, ...], artist: str = "", sample_rate: int = SAMPLE_RATE) -> dict[str, list[str]]:
    """Write the song, stems, MIDI and DAW project of one candidate into ``folder``, naming files after
    ``base`` (``<Title>_<BPM>BPM_<Key>``); return the files written, relative to the folder. The MP3
    encode starts first, and the MIDI and the DAW project are written while the audio files are."""
    safe_title = safe_song_name(title)
    songs = [(folder / f"{base}.{fmt}", mastered) for fmt in ("wav", "flac", "mp3") if fmt in formats]
    stems = stem_files(folder, base, mixed)
    files: dict[str, list[str]] = {"song": [path.name for path, _ in songs],
                                   "stems": [f"stems/{path.name}" for _, path, _ in stems], "midi": []}
    with ThreadPoolExecutor(max_workers=MIX_THREADS) as pool:
        writing = write_audio(pool, songs[::-1] + [(path, audio) for _, path, audio in stems], sample_rate)
        roles = list(score.tracks)
        write_midi(folder / "midi" / f"{safe_title}_full.mid",
                   score_to_midi(score, track_names={r: track_label(r) for r in roles}, roles=roles))
        files["midi"].append(f"midi/{safe_title}_full.mid")
        for role in roles:
            single = Score(score.bpm, score.key, score.sections, {role: score.tracks[role]})
            write_midi(folder / "midi" / f"{safe_title}_{track_label(role)}.mid",
                       score_to_midi(single, track_names={role: track_label(role)}, roles=[role]))
            files["midi"].append(f"midi/{safe_title}_{track_label(role)}.mid")
        write_dawproject(folder / f"{safe_title}.dawproject", score, title=title, artist=artist,
                         stems=[(label, path) for label, path, _ in stems[len(mixed.groups):]],
                         sample_rate=sample_rate, seconds=mastered.shape[1] / sample_rate)
        for done in writing:
            done.result()
    files["dawproject"] = [f"{safe_title}.dawproject"]
    return files


def track_label(role: str) -> str:
    return "".join(w.capitalize() for w in role.split("_"))


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("numpy", "torch", "miditok", "pedalboard", "pyloudnorm", "mido", "soundfile", "scipy"):
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def render_batch(bundle: ArtistBundle, out_dir: Path, settings: RenderSettings, *, progress: bool = True) -> list[Path]:
    """Write ``settings.count`` candidates of ``bundle``'s artist under ``out_dir``; returns their folders."""
    bad = [f for f in settings.formats if f not in FORMATS]
    if bad:
        raise InputError("--format", f"unknown format {', '.join(bad)} (choose from {', '.join(FORMATS)})")
    key = None
    if settings.key:
        try:
            key = Key.parse(settings.key)
        except ValueError as exc:
            raise InputError("--key", str(exc)) from None
    if settings.bpm is not None and not 40 <= settings.bpm <= 250:
        raise InputError("--bpm", f"{settings.bpm:g} is outside 40..250")
    if settings.bars is not None and not 4 <= settings.bars <= 512:
        raise InputError("--bars", f"{settings.bars} is outside 4..512")
    model, tok = load_model(bundle)
    corpus = load_corpus(bundle.path)
    steps = settings.count * 2 + 1
    bar = tqdm(total=steps, desc=f"rendering {bundle.name}", unit="step", disable=not progress)
    bar.set_postfix_str("writing MIDI")
    songs = generate_songs(model, tok, corpus, count=settings.count, seed=settings.seed, bpm=settings.bpm, key=key,
                           bars=settings.bars, sampling=SamplingSettings(settings.temperature, settings.top_p))
    bar.update(1)
    jobs = []
    for i, (score, novelty) in enumerate(songs):
        title = settings.title if settings.title and settings.count == 1 else \
            f"{settings.title or bundle.name.capitalize()} {settings.seed}-{i + 1:02d}"
        folder = Path(out_dir) / folder_name(title, score)
        if folder.exists() and not settings.force:
            bar.close()
            raise InputError(folder, "already exists: choose another --out or --seed, or pass --force")
        jobs.append((title, folder, score, novelty))
    provenance = bundle_provenance(bundle)
    folders = []
    library = SampleLibrary(bundle.samples_dir)
    try:
        with ThreadPoolExecutor(max_workers=1) as finisher:
            writing: Future | None = None
            for i, (title, folder, score, novelty) in enumerate(jobs):
                bar.set_postfix_str(f"{title}: mixing")
                mixed = mix_song(score, library, bundle.mix_profile, seed=kit_seed(settings.seed, i))
                bar.update(1)
                if writing is not None:
                    folders.append(writing.result())
                    bar.update(1)
                writing = finisher.submit(write_candidate, bundle, folder, title, score, novelty, settings, index=i,
                                          provenance=provenance, mixed=mixed)
            if writing is not None:
                folders.append(writing.result())
                bar.update(1)
    finally:
        library.close()
        bar.close()
    write_gallery(Path(out_dir), folders)
    return folders


def bundle_provenance(bundle: ArtistBundle) -> dict[str, str | None]:
    """The bundle's and the model's hashes for render.json; hashing reads every file of the bundle,
    so a batch does it once."""
    return {"bundle_hash": bundle.content_hash(), "model_hash": bundle.model_hash()}


def kit_seed(seed: int, index: int) -> int:
    """The seed of a candidate's kit and round robin: a regenerated candidate keeps its sounds."""
    return seed * 1000 + index


def write_candidate(bundle: ArtistBundle, folder: Path, title: str, score: Score, novelty: dict,
                    settings: RenderSettings, *, index: int, provenance: dict[str, str | None], mixed: MixResult,
                    extra: dict | None = None) -> Path:
    """Master and export one mixed candidate into ``folder`` through a staging folder renamed into
    place; ``provenance`` is ``bundle_provenance(bundle)``. A batch runs this for one candidate while it
    mixes the next."""
    profile = bundle.mix_profile
    target = (profile.get("master", {}).get("integrated_lufs") or {}).get("median") or -9.0
    mastered, report = master(mixed.premaster, SAMPLE_RATE, target_lufs=float(target), ceiling_dbtp=-1.0)
    staging = folder.parent / f".{folder.name}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    files = export_candidate(staging, folder.name, title, score, mixed, mastered, formats=settings.formats,
                             artist=bundle.name)
    info = {
        "title": title, "artist": bundle.name, **provenance,
        "seed": settings.seed, "index": index, "settings": {**asdict(settings), "formats": list(settings.formats)},
        "bpm": score.bpm, "key": str(score.key), "bars": score.bars,
        "sections": [s.to_dict() for s in score.sections],
        "roles": {r: len(n) for r, n in score.tracks.items()},
        "samples": mixed.kit, "track_gains_db": {k: round(v, 2) for k, v in mixed.gains_db.items()},
        "novelty": novelty,
        "master": {"integrated_lufs": round(report.loudness, 2), "true_peak_dbtp": round(report.true_peak, 2),
                   "target_lufs": report.target_loudness, "ceiling_dbtp": report.ceiling,
                   "limiter_drive_db": round(report.gain_db, 2),
                   "max_gain_reduction_db": round(report.max_reduction_db, 2),
                   "limiter_release_db_per_s": report.release_db_per_s},
        "files": files, "waveform": waveform_peaks(mastered), "versions": library_versions(),
        "sample_rate": SAMPLE_RATE, **(extra or {}),
    }
    write_json(staging / "render.json", info)
    if folder.exists():
        shutil.rmtree(folder)
    staging.rename(folder)
    return folder
