"""The model's on-disk formats: the resumable training checkpoint and the published ``model/`` folder.

``model/`` in a bundle holds ``model.safetensors`` (weights), ``config.json`` (``ModelConfig``),
``tokenizer.json``, ``training_log.jsonl`` and ``training_summary.json``. While training runs, a
``.model.work`` folder beside it holds ``checkpoint.safetensors`` (weights and AdamW moments),
``checkpoint.json`` (``TrainState``) and ``best.safetensors``; a killed run resumes from it.
Weights are safetensors, never pickle.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from project_ingest.bundle import ArtistBundle, replace_dir, write_json
from sample_library.audio_io import follow_umask
from template_engine.model.config import ModelConfig
from template_engine.model.tokens import ArtistTokenizer
from template_engine.model.transformer import MusicTransformer

ADAM_STATE = ("step", "exp_avg", "exp_avg_sq")
STATE_KEY = "train_state"


@dataclass
class TrainState:
    """Where a training run stands: steps taken, best validation loss (nats/token) and its step, and
    evaluations since it improved."""

    step: int = 0
    best: float = float("inf")
    best_step: int = 0
    bad: int = 0


def save_checkpoint(work: Path, model: MusicTransformer, opt: torch.optim.Optimizer, state: TrainState) -> None:
    """Weights, AdamW moments and ``state`` into ``work`` as one file replaced atomically (``state`` in
    its metadata, so a kill can never leave the weights of one step with the state of another); then
    ``checkpoint.json``, the same state for people and progress bars to read."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    for pid, s in opt.state_dict()["state"].items():
        for name, value in s.items():
            if torch.is_tensor(value):
                tensors[f"opt.{pid}.{name}"] = value.reshape(-1) if value.dim() == 0 else value
    save_file(tensors, str(work / "checkpoint.tmp.safetensors"), metadata={STATE_KEY: json.dumps(asdict(state))})
    (work / "checkpoint.tmp.safetensors").replace(work / "checkpoint.safetensors")
    write_json(work / "checkpoint.json", asdict(state))


def resume(work: Path, model: MusicTransformer, opt: torch.optim.Optimizer, tok: ArtistTokenizer) -> TrainState:
    """Continue from a checkpoint left by a killed run with the same vocabulary, if there is one; its
    state is the one recorded in the weights file (``checkpoint.json`` for a checkpoint written before
    the state was kept there)."""
    ckpt, meta = work / "checkpoint.safetensors", work / "checkpoint.json"
    vocab_file = work / "vocab_size"
    if vocab_file.exists() and int(vocab_file.read_text()) != tok.vocab_size:
        shutil.rmtree(work)
        work.mkdir()
    vocab_file.write_text(str(tok.vocab_size))
    recorded = None
    if ckpt.exists():
        with safe_open(str(ckpt), framework="pt") as f:
            recorded = (f.metadata() or {}).get(STATE_KEY)
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        if recorded is None and meta.exists():
            recorded = meta.read_text()
    if recorded is None:
        (work / "training_log.jsonl").unlink(missing_ok=True)
        return TrainState()
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    opt_state = opt.state_dict()
    n_params = sum(len(g["params"]) for g in opt.param_groups)
    for pid in range(n_params):
        entry = {}
        for name in ADAM_STATE:
            key = f"opt.{pid}.{name}"
            if key in tensors:
                entry[name] = tensors[key].reshape(()) if name == "step" else tensors[key]
        if entry:
            opt_state["state"][pid] = entry
    opt.load_state_dict(opt_state)
    return TrainState(**json.loads(recorded))


def publish(bundle: ArtistBundle, work: Path, tok: ArtistTokenizer, cfg: ModelConfig, summary: dict) -> None:
    """Replace the bundle's ``model/`` with the best weights of ``work``, the tokenizer, config, log
    and ``summary``, through a staging folder renamed into place; ``work`` is then removed."""
    staging = bundle.path / ".model.staging"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    shutil.copy(work / "best.safetensors", staging / "model.safetensors")
    follow_umask(staging / "model.safetensors")
    tok.save(staging)
    write_json(staging / "config.json", cfg.to_dict())
    log = work / "training_log.jsonl"
    (staging / "training_log.jsonl").write_text(log.read_text() if log.exists() else "")
    write_json(staging / "training_summary.json", summary)
    replace_dir(staging, bundle.model_dir)
    shutil.rmtree(work, ignore_errors=True)
