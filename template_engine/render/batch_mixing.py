"""The mixing side of a batch (``batch.render_batch``): preparing to mix while the notes are written,
naming each candidate's folder, then mixing, mastering and exporting each song in turn, or each as a
Ray task. ``render_batch`` loads this module once the notes are being written, so the process that
writes them never loads the audio stack (pedalboard, the candidate's writers) before its first note.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from project_ingest.bundle import ArtistBundle
from project_ingest.score import BEATS_PER_BAR, Score
from sample_library.audio_io import ffmpeg_exe
from sample_library.errors import InputError
from sample_library.library import SampleLibrary
from template_engine.process_memory import prefault_heap, release_free_memory, tune_malloc_for_render
from template_engine.render.candidate import StagedCandidate, folder_name, master_candidate, stage_candidate
from template_engine.render.mix import mix_memory_bytes, mix_song
from template_engine.render.settings import RenderSettings
from template_engine.threads import share_cores

KIT_SEED_STRIDE = 1000  # candidates of one batch seed get kit seeds seed * stride + index
AUDIO_STACK = ("scipy.signal", "scipy.ndimage", "pedalboard", "soundfile", "pyloudnorm")


@dataclass
class CandidateJob:
    """One candidate to mix and write: its title, folder, score and novelty figures (render.json)."""

    index: int
    title: str
    folder: Path
    score: Score
    novelty: dict


def prepare_to_mix(bundle: ArtistBundle, settings: RenderSettings, corpus: list[tuple[str, Score]]) -> dict[str, str | None]:
    """What the mixing needs before its first song, done while the songs are written: the audio
    stack imported (``scipy.signal`` alone takes 0.36 s; the MP3 encoder found where asked), the memory of the likely song's mix written
    (``prefault_heap``), and the bundle's provenance (its hashes), which it returns."""
    for module in AUDIO_STACK:
        importlib.import_module(module)
    if "mp3" in settings.formats:
        ffmpeg_exe()
    prefault_heap(mix_memory_bytes(*likely_song(corpus, settings), settings.sample_rate))
    return bundle_provenance(bundle)


def likely_song(corpus: list[tuple[str, Score]], settings: RenderSettings) -> tuple[float, int]:
    """The length (s) and number of tracks a batch's songs will likely have, before they are written:
    the artist's median song, or ``settings.bars`` at its tempo (or the artist's median tempo)."""
    scores = [score for _, score in corpus]
    if not scores:
        return 0.0, 0
    bpm = settings.bpm or float(np.median([s.bpm for s in scores]))
    seconds = settings.bars * BEATS_PER_BAR * 60 / bpm if settings.bars else \
        float(np.median([s.bars * BEATS_PER_BAR * 60 / s.bpm for s in scores]))
    return seconds, int(np.median([len(s.tracks) for s in scores]))


def name_candidates(bundle: ArtistBundle, out_dir: Path, settings: RenderSettings,
                    songs: list[tuple[Score, dict]]) -> list[CandidateJob]:
    """Title and folder of each song; raises InputError before anything is written when a folder
    exists and ``settings.force`` is off."""
    jobs = []
    for i, (score, novelty) in enumerate(songs):
        title = settings.title if settings.title and settings.count == 1 else \
            f"{settings.title or bundle.name.capitalize()} {settings.seed}-{i + 1:02d}"
        folder = out_dir / folder_name(title, score)
        if folder.exists() and not settings.force:
            raise InputError(folder, "already exists: choose another --out or --seed, or pass --force")
        jobs.append(CandidateJob(i, title, folder, score, novelty))
    return jobs


def mix_and_write(bundle: ArtistBundle, jobs: list[CandidateJob], settings: RenderSettings, bar: tqdm,
                  provenance: dict[str, str | None]) -> list[Path]:
    """Mix, master and write each job's song with the artist's samples, one song at a time (the mix
    and the file writing each run on their own thread pool); returns the folders written, in order.

    A song's MP3 encodes (ffmpeg, about 0.7 s of a core for two minutes) while the next song is
    mixed, where the cores have room, and its folder is renamed into place once the next song is
    written (the last one at the end): ten songs 59.8 -> 58.2 s (four runs each, interleaved).
    Mixing the whole next song while the last one was written was measured and not kept: it held
    two songs' tracks at once (2.0 GB at the peak against 1.3 GB) and was no faster. What a written
    candidate freed is handed back to the system before the next one is mixed."""
    folders: list[Path] = []
    waiting: StagedCandidate | None = None
    with SampleLibrary(bundle.samples_dir) as library:
        try:
            for job in jobs:
                bar.set_postfix_str(f"{job.title}: mixing, mastering and writing")
                previous, waiting = waiting, stage(bundle, library, job, settings, provenance)
                if previous is not None:
                    folders.append(previous.claim())
                release_free_memory()
                bar.update(2)
        finally:
            if waiting is not None:
                folders.append(waiting.claim())
    return folders


def stage(bundle: ArtistBundle, library: SampleLibrary, job: CandidateJob, settings: RenderSettings,
          provenance: dict[str, str | None]) -> StagedCandidate:
    """Mix, master and write one candidate into its staging folder, its MP3 still encoding."""
    mixed = mix_song(job.score, library, bundle.mix_profile, seed=kit_seed(settings.seed, job.index),
                     sample_rate=settings.sample_rate, keep_dry=settings.dry_stems)
    return stage_candidate(bundle, job.folder, job.title, job.score, job.novelty, settings, index=job.index,
                           provenance=provenance, mixed=mixed, mastered=master_candidate(bundle, settings, mixed))


def finish_at(bundle_path: str, job: CandidateJob, settings: RenderSettings, provenance: dict[str, str | None]) -> Path:
    """One candidate (``stage``, then its ``claim``) in a Ray task: the bundle read from its (shared) path.
    A task holds one of its node's cores, so its render pools get one thread (``share_cores``) and it
    never forks (a Ray worker runs threads of its own)."""
    tune_malloc_for_render()
    share_cores(os.cpu_count() or 1)
    bundle = ArtistBundle.load(Path(bundle_path))
    with SampleLibrary(bundle.samples_dir) as library:
        return stage(bundle, library, job, settings, provenance).claim()


def bundle_provenance(bundle: ArtistBundle) -> dict[str, str | None]:
    """The bundle's and the model's hashes for render.json; hashing reads every file of the bundle,
    so a batch does it once."""
    return {"bundle_hash": bundle.content_hash(), "model_hash": bundle.model_hash()}


def kit_seed(seed: int, index: int) -> int:
    """The seed of a candidate's kit and round robin: a regenerated candidate keeps its sounds."""
    return seed * KIT_SEED_STRIDE + index
