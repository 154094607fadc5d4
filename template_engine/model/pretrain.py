"""``template pretrain``: a base model from any folders of MIDI files.

The songs are read as an artist's corpus is (roles, key, sections: ``project_ingest.midi_corpus``),
moved to C and cut into phrases; the BPE vocabulary is learned once here, on the training songs, and
every artist fine-tuned from this base keeps it. Training runs a fixed number of steps (the same
weights for the same seed, to float32 rounding), checkpoints into ``.<out>.work`` beside the output and
resumes from it after a kill; under ``torchrun`` the processes share the work (``workers``). The
result is one file (``base_model``) and its training log (``<out>.log.jsonl``) beside it.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from safetensors.torch import load_file

from project_ingest.discovery import Problem
from project_ingest.midi_corpus import read_midi_corpus
from project_ingest.score import Score
from sample_library.errors import InputError
from template_engine.model.base_model import save_base
from template_engine.model.tokens import ArtistTokenizer
from template_engine.model.train import TrainData, TrainSettings, TrainSummary, fit, initial_model, summarise, tokenise_songs
from template_engine.model.workers import Workers, start_workers

PRETRAIN_VALID_SHARE = 0.05
PRETRAIN_BPE_VOCAB = 1000


def pretrain_settings(max_steps: int, seed: int = 0, device: str = "cpu") -> TrainSettings:
    """Settings of a pretraining run: a fixed number of steps, no time budget, no early stop."""
    return TrainSettings(minutes=float("inf"), device=device, seed=seed, max_steps=max_steps, batch_size=16,
                         eval_every=max(1, min(250, max_steps // 4)), patience=10**9,
                         bpe_vocab=PRETRAIN_BPE_VOCAB, valid_share=PRETRAIN_VALID_SHARE)


def work_folder(out: Path) -> Path:
    """Where a run checkpoints: ``.<name>.work`` beside the output file."""
    return out.parent / f".{out.name}.work"


def shared_tokenizer(data_songs: list[tuple[str, Score]], settings: TrainSettings, work: Path, workers: Workers, *,
                     progress: bool) -> TrainData:
    """Tokenised songs in one vocabulary for all processes: rank 0 learns the BPE (or a resumed run
    reads the one it learned) and the others read it from ``work``."""
    saved = work / "tokenizer.json"
    if workers.is_main:
        tok = ArtistTokenizer.load(work) if saved.exists() else None
        data = tokenise_songs(data_songs, settings, tok, progress=progress)
        if tok is None:
            data.tok.save(work)
        workers.wait()
        return data
    workers.wait()
    return tokenise_songs(data_songs, settings, ArtistTokenizer.load(work), progress=False)


def pretrain(folders: Sequence[Path], out: Path, settings: TrainSettings, *, progress: bool = True,
             ) -> tuple[TrainSummary | None, list[Problem]]:
    """Pretrain on every usable MIDI file under ``folders`` and write the base to ``out``.

    Returns the summary (None in processes other than rank 0) and the files skipped, with reasons.
    """
    workers = start_workers(settings.device)
    try:
        songs, problems = read_midi_corpus(folders)
        if len(songs) < 2:
            raise InputError(", ".join(str(f) for f in folders), f"holds {len(songs)} usable MIDI songs; pretraining needs two or more")
        work = work_folder(Path(out))
        if workers.is_main:
            work.mkdir(parents=True, exist_ok=True)
        data = shared_tokenizer([(s.name, s.score) for s in songs], settings, work, workers, progress=progress)
        model = initial_model(data, settings, None)
        state, seconds = fit(model, data, settings, work, workers, progress=progress)
        if not workers.is_main:
            return None, problems
        summary = summarise(model, data, settings, state, seconds)
        summary.extra.update({"corpus": [str(f) for f in folders], "songs": len(songs), "skipped_files": len(problems),
                              "processes": workers.world, "batch_per_process": settings.batch_size})
        save_base(Path(out), load_file(str(work / "best.safetensors")), model.cfg, data.tok, summary.to_dict())
        log = work / "training_log.jsonl"
        if log.exists():
            log.replace(Path(out).with_suffix(".log.jsonl"))
        shutil.rmtree(work, ignore_errors=True)
        return summary, problems
    finally:
        workers.close()
