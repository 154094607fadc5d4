"""``template train``: fit the tokenizer and the transformer to an artist's corpus.

A plain loop: songs split into train and validation, phrases sampled with augmentation, AdamW,
validation every ``eval_every`` steps, early stopping, safetensors checkpoints that resume after a
kill, and a JSON-lines training log with the bigram baseline on the same tokens.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from project_ingest.bundle import ArtistBundle, replace_dir, write_json
from project_ingest.corpus import load_corpus
from sample_library.errors import InputError
from template_engine.dataset import EncodedPhrase, encode_phrases, in_c, sample_sequence, song_phrases
from template_engine.model import ModelConfig, MusicTransformer, bigram_cross_entropy
from template_engine.tokens import ArtistTokenizer


@dataclass
class TrainSettings:
    minutes: float = 10.0
    device: str = "cpu"
    seed: int = 0
    batch_size: int = 8
    lr: float = 1e-3
    eval_every: int = 50
    patience: int = 6
    max_steps: int = 100_000
    bpe_vocab: int = 600
    model: ModelConfig | None = None


def split_songs(titles: list[str], seed: int) -> tuple[list[str], list[str]]:
    """Validation gets one song in five (at least one when there are two or more)."""
    order = sorted(titles)
    rng = np.random.default_rng(seed)
    rng.shuffle(order)
    n_valid = max(1, len(order) // 5) if len(order) >= 2 else 0
    return sorted(order[n_valid:]), sorted(order[:n_valid])


def _batch(seqs: list[list[int]], context: int, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    seqs = [s[: context + 1] for s in seqs]
    length = max(len(s) for s in seqs) - 1
    x = torch.full((len(seqs), length), pad, dtype=torch.long)
    y = torch.full((len(seqs), length), -100, dtype=torch.long)
    for i, s in enumerate(seqs):
        t = torch.tensor(s)
        x[i, : len(s) - 1] = t[:-1]
        y[i, : len(s) - 1] = t[1:]
    return x, y


def train(bundle: ArtistBundle, settings: TrainSettings, *, progress: bool = True) -> dict:
    """Train and write ``model/`` into the bundle (atomically). Returns the summary written to the log."""
    torch.manual_seed(settings.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    songs = load_corpus(bundle.path)
    if not songs:
        raise InputError(bundle.path / "corpus", "the artist has no corpus songs to train on")
    train_titles, valid_titles = split_songs([t for t, _ in songs], settings.seed)
    phrases = {title: song_phrases(in_c(score)) for title, score in songs}
    tok = ArtistTokenizer()
    work = bundle.model_dir.parent / ".model.work"
    work.mkdir(exist_ok=True)
    encoded: dict[str, list[EncodedPhrase]] = {}
    for title in tqdm(sorted(phrases), desc="tokenising", unit="song", disable=not progress):
        encoded[title] = encode_phrases(tok, phrases[title])
    base_for_bpe = [ids for t in train_titles for ep in encoded[t] for ids in ep.base.values()]
    tok.train_bpe(base_for_bpe, settings.bpe_vocab)
    train_eps = [ep for t in train_titles for ep in encoded[t]]
    valid_eps = [ep for t in valid_titles for ep in encoded[t]] or train_eps[-max(1, len(train_eps) // 10):]
    valid_seqs = [sample_sequence(tok, ep, np.random.default_rng(i), augment=False) for i, ep in enumerate(valid_eps)]
    train_plain = [sample_sequence(tok, ep, np.random.default_rng(i), augment=False) for i, ep in enumerate(train_eps)]
    longest = max(len(s) for s in valid_seqs + train_plain)
    cfg = settings.model or ModelConfig()
    cfg = ModelConfig(**{**cfg.to_dict(), "vocab_size": tok.vocab_size, "context": max(cfg.context, _pow2(longest))})
    model = MusicTransformer(cfg).to(settings.device)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=0.05, betas=(0.9, 0.95))
    bigram = bigram_cross_entropy(train_plain, valid_seqs, tok.vocab_size)
    state = _resume(work, model, opt, tok)
    log_path = work / "training_log.jsonl"
    start_time = time.monotonic()
    best, best_step, bad = state.get("best", math.inf), state.get("best_step", 0), state.get("bad", 0)
    step = state.get("step", 0)
    rng = np.random.default_rng(settings.seed + step)
    bar = tqdm(total=int(settings.minutes * 60), desc="training", unit="s", disable=not progress)
    while step < settings.max_steps:
        elapsed = time.monotonic() - start_time
        bar.n = int(min(elapsed, settings.minutes * 60))
        if elapsed > settings.minutes * 60:
            break
        model.train()
        seqs = [sample_sequence(tok, train_eps[int(i)], rng, augment=True)
                for i in rng.integers(len(train_eps), size=settings.batch_size)]
        x, y = _batch(seqs, cfg.context, tok.song_end)
        loss = model.loss(x.to(settings.device), y.to(settings.device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        for g in opt.param_groups:
            g["lr"] = settings.lr * min(1.0, (step + 1) / 100)
        opt.step()
        step += 1
        bar.set_postfix(loss=f"{loss.item():.3f}", best=f"{best:.3f}")
        if step % settings.eval_every == 0:
            val = evaluate_loss(model, valid_seqs, cfg.context, tok.song_end, settings.device)
            with log_path.open("a") as f:
                f.write(json.dumps({"step": step, "train_loss": round(loss.item(), 4), "valid_loss": round(val, 4),
                                    "seconds": round(elapsed, 1)}) + "\n")
            if val < best - 1e-3:
                best, best_step, bad = val, step, 0
                save_file(model.state_dict(), str(work / "best.safetensors"))
            else:
                bad += 1
            _checkpoint(work, model, opt, {"step": step, "best": best, "best_step": best_step, "bad": bad})
            if bad >= settings.patience:
                break
    bar.close()
    if not (work / "best.safetensors").exists():
        save_file(model.state_dict(), str(work / "best.safetensors"))
        best = evaluate_loss(model, valid_seqs, cfg.context, tok.song_end, settings.device)
        best_step = step
    summary = {"steps": step, "best_step": best_step, "valid_loss": round(best, 4), "bigram_valid_loss": round(bigram, 4),
               "params": model.n_params(), "vocab_size": tok.vocab_size, "train_songs": train_titles,
               "valid_songs": valid_titles, "train_phrases": len(train_eps), "valid_phrases": len(valid_eps),
               "seconds": round(time.monotonic() - start_time, 1), "device": settings.device, "seed": settings.seed}
    _publish(bundle, work, tok, cfg, summary)
    return summary


def evaluate_loss(model: MusicTransformer, seqs: list[list[int]], context: int, pad: int, device: str) -> float:
    """Mean cross-entropy (nats per token) over ``seqs``."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(seqs), 8):
            x, y = _batch(seqs[i:i + 8], context, pad)
            n = int((y != -100).sum())
            total += float(model.loss(x.to(device), y.to(device))) * n
            count += n
    return total / max(count, 1)


def _pow2(n: int) -> int:
    return 1 << max(8, int(math.ceil(math.log2(max(n, 2)))))


def _checkpoint(work: Path, model: MusicTransformer, opt: torch.optim.Optimizer, state: dict) -> None:
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    for pid, s in opt.state_dict()["state"].items():
        for name, value in s.items():
            if torch.is_tensor(value):
                tensors[f"opt.{pid}.{name}"] = value.reshape(-1) if value.dim() == 0 else value
    save_file(tensors, str(work / "checkpoint.tmp.safetensors"))
    (work / "checkpoint.tmp.safetensors").replace(work / "checkpoint.safetensors")
    write_json(work / "checkpoint.json", state)


def _resume(work: Path, model: MusicTransformer, opt: torch.optim.Optimizer, tok: ArtistTokenizer) -> dict:
    """Continue from a checkpoint left by a killed run with the same vocabulary, if there is one."""
    ckpt, meta = work / "checkpoint.safetensors", work / "checkpoint.json"
    vocab_file = work / "vocab_size"
    if vocab_file.exists() and int(vocab_file.read_text()) != tok.vocab_size:
        shutil.rmtree(work)
        work.mkdir()
    vocab_file.write_text(str(tok.vocab_size))
    if not (ckpt.exists() and meta.exists()):
        (work / "training_log.jsonl").unlink(missing_ok=True)
        return {}
    tensors = load_file(str(ckpt))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    opt_state = opt.state_dict()
    n_params = sum(len(g["params"]) for g in opt.param_groups)
    for pid in range(n_params):
        entry = {}
        for name in ("step", "exp_avg", "exp_avg_sq"):
            key = f"opt.{pid}.{name}"
            if key in tensors:
                entry[name] = tensors[key].reshape(()) if name == "step" else tensors[key]
        if entry:
            opt_state["state"][pid] = entry
    opt.load_state_dict(opt_state)
    return json.loads(meta.read_text())


def _publish(bundle: ArtistBundle, work: Path, tok: ArtistTokenizer, cfg: ModelConfig, summary: dict) -> None:
    staging = bundle.path / ".model.staging"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    shutil.copy(work / "best.safetensors", staging / "model.safetensors")
    tok.save(staging)
    write_json(staging / "config.json", cfg.to_dict())
    log = work / "training_log.jsonl"
    (staging / "training_log.jsonl").write_text(log.read_text() if log.exists() else "")
    write_json(staging / "training_summary.json", summary)
    replace_dir(staging, bundle.model_dir)
    shutil.rmtree(work, ignore_errors=True)


def load_model(bundle: ArtistBundle, device: str = "cpu") -> tuple[MusicTransformer, ArtistTokenizer]:
    """The trained model and tokenizer of a bundle."""
    if not bundle.is_trained:
        raise InputError(bundle.model_dir, "the artist has no trained model: run `template train --artist NAME`")
    cfg = ModelConfig(**json.loads((bundle.model_dir / "config.json").read_text()))
    model = MusicTransformer(cfg)
    model.load_state_dict(load_file(str(bundle.model_dir / "model.safetensors")))
    model.eval()
    return model.to(device), ArtistTokenizer.load(bundle.model_dir)
