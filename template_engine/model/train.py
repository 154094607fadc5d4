"""``template train``: fit the tokenizer and the transformer to an artist's corpus.

A plain loop: songs split into train and validation, phrases sampled with augmentation, AdamW,
validation every ``eval_every`` steps, early stopping, safetensors checkpoints that resume after a
kill (``checkpoint``), and a JSON-lines training log with the bigram baseline on the same tokens.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from tqdm import tqdm

from project_ingest.bundle import ArtistBundle
from project_ingest.corpus import load_corpus
from sample_library.errors import InputError
from template_engine.model.checkpoint import TrainState, publish, resume, save_checkpoint
from template_engine.model.dataset import EncodedPhrase, encode_phrases, in_c, sample_sequence, song_phrases
from template_engine.model.tokens import ArtistTokenizer
from template_engine.model.transformer import IGNORE_INDEX, ModelConfig, MusicTransformer, bigram_cross_entropy

WARMUP_STEPS = 100
WEIGHT_DECAY = 0.05
ADAM_BETAS = (0.9, 0.95)
GRAD_CLIP = 1.0
MIN_IMPROVEMENT = 1e-3  # nats/token a validation loss must gain to count as better
EVAL_BATCH = 8


@dataclass
class TrainSettings:
    """How long and how to train: a time budget (minutes) and a step limit, whichever comes first;
    with a step limit (and a seed) the same weights on any machine."""

    minutes: float = 10.0
    device: str = "cpu"
    seed: int = 0
    batch_size: int = 8
    lr: float = 1e-3
    eval_every: int = 50
    patience: int = 6
    max_steps: int | None = None  # None: the time budget alone ends training
    bpe_vocab: int = 600
    model: ModelConfig | None = None


@dataclass
class TrainData:
    """Tokenised material: the tokenizer (BPE fitted on the training songs), the training phrases,
    and fixed validation and un-augmented training sequences (token ids)."""

    tok: ArtistTokenizer
    train_titles: list[str]
    valid_titles: list[str]
    train_eps: list[EncodedPhrase]
    valid_eps: list[EncodedPhrase]
    valid_seqs: list[list[int]]
    train_plain: list[list[int]]


@dataclass
class TrainSummary:
    """What a run gives: steps, the best validation loss and the bigram baseline (nats/token)."""

    steps: int
    best_step: int
    valid_loss: float
    bigram_valid_loss: float
    params: int
    vocab_size: int
    train_songs: list[str]
    valid_songs: list[str]
    train_phrases: int
    valid_phrases: int
    seconds: float
    device: str
    seed: int
    extra: dict = field(default_factory=dict)

    @property
    def beats_bigram(self) -> bool:
        """Whether the model predicts held-out songs better than a bigram model of the same tokens."""
        return self.valid_loss < self.bigram_valid_loss

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(out.pop("extra"))
        return out


def split_songs(titles: list[str], seed: int) -> tuple[list[str], list[str]]:
    """Validation gets one song in five (at least one when there are two or more)."""
    order = sorted(titles)
    rng = np.random.default_rng(seed)
    rng.shuffle(order)
    n_valid = max(1, len(order) // 5) if len(order) >= 2 else 0
    return sorted(order[n_valid:]), sorted(order[:n_valid])


def get_batch(seqs: list[list[int]], context: int, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and next-token targets (batch, time) of ``seqs`` cut to ``context``; padding is ignored."""
    seqs = [s[: context + 1] for s in seqs]
    length = max(len(s) for s in seqs) - 1
    x = torch.full((len(seqs), length), pad, dtype=torch.long)
    y = torch.full((len(seqs), length), IGNORE_INDEX, dtype=torch.long)
    for i, s in enumerate(seqs):
        t = torch.tensor(s)
        x[i, : len(s) - 1] = t[:-1]
        y[i, : len(s) - 1] = t[1:]
    return x, y


def prepare_data(bundle: ArtistBundle, settings: TrainSettings, *, progress: bool) -> TrainData:
    """The corpus in C, cut into phrases, tokenised, and the BPE learned on the training songs."""
    songs = load_corpus(bundle.path)
    if not songs:
        raise InputError(bundle.path / "corpus", "the artist has no corpus songs to train on")
    train_titles, valid_titles = split_songs([t for t, _ in songs], settings.seed)
    phrases = {title: song_phrases(in_c(score)) for title, score in songs}
    tok = ArtistTokenizer()
    encoded = {title: encode_phrases(tok, phrases[title])
               for title in tqdm(sorted(phrases), desc="tokenising", unit="song", disable=not progress)}
    tok.train_bpe([ids for t in train_titles for ep in encoded[t] for ids in ep.base.values()], settings.bpe_vocab)
    train_eps = [ep for t in train_titles for ep in encoded[t]]
    valid_eps = [ep for t in valid_titles for ep in encoded[t]] or train_eps[-max(1, len(train_eps) // 10):]

    def plain(eps: list[EncodedPhrase]) -> list[list[int]]:
        return [sample_sequence(tok, ep, np.random.default_rng(i), augment=False) for i, ep in enumerate(eps)]

    return TrainData(tok, train_titles, valid_titles, train_eps, valid_eps, plain(valid_eps), plain(train_eps))


def get_lr(settings: TrainSettings, step: int) -> float:
    """Linear warm-up over ``WARMUP_STEPS``, then constant."""
    return settings.lr * min(1.0, (step + 1) / WARMUP_STEPS)


def estimate_loss(model: MusicTransformer, seqs: list[list[int]], context: int, pad: int, device: str) -> float:
    """Mean cross-entropy (nats per token) over ``seqs``."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(seqs), EVAL_BATCH):
            x, y = get_batch(seqs[i:i + EVAL_BATCH], context, pad)
            n = int((y != IGNORE_INDEX).sum())
            total += float(model.loss(x.to(device), y.to(device))) * n
            count += n
    return total / max(count, 1)


def train(bundle: ArtistBundle, settings: TrainSettings, *, progress: bool = True) -> TrainSummary:
    """Train and write ``model/`` into the bundle (atomically). Returns the summary written beside it."""
    torch.manual_seed(settings.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    data = prepare_data(bundle, settings, progress=progress)
    work = bundle.model_dir.parent / ".model.work"
    work.mkdir(exist_ok=True)
    longest = max(len(s) for s in data.valid_seqs + data.train_plain)
    cfg = settings.model or ModelConfig()
    cfg = ModelConfig(**{**cfg.to_dict(), "vocab_size": data.tok.vocab_size, "context": max(cfg.context, _pow2(longest))})
    model = MusicTransformer(cfg).to(settings.device)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=WEIGHT_DECAY, betas=ADAM_BETAS)
    bigram = bigram_cross_entropy(data.train_plain, data.valid_seqs, data.tok.vocab_size)
    state = resume(work, model, opt, data.tok)
    start_time = time.monotonic()
    run_loop(model, opt, data, settings, state, work, progress=progress)
    if not (work / "best.safetensors").exists():
        save_file(model.state_dict(), str(work / "best.safetensors"))
        state.best = estimate_loss(model, data.valid_seqs, cfg.context, data.tok.song_end, settings.device)
        state.best_step = state.step
    summary = TrainSummary(
        steps=state.step, best_step=state.best_step, valid_loss=round(state.best, 4),
        bigram_valid_loss=round(bigram, 4), params=model.n_params(), vocab_size=data.tok.vocab_size,
        train_songs=data.train_titles, valid_songs=data.valid_titles, train_phrases=len(data.train_eps),
        valid_phrases=len(data.valid_eps), seconds=round(time.monotonic() - start_time, 1),
        device=settings.device, seed=settings.seed)
    publish(bundle, work, data.tok, cfg, summary.to_dict())
    return summary


def run_loop(model: MusicTransformer, opt: torch.optim.Optimizer, data: TrainData, settings: TrainSettings,
             state: TrainState, work: Path, *, progress: bool) -> None:
    """Train from ``state`` until ``max_steps``, the time budget or the patience runs out; validate,
    log and checkpoint every ``eval_every`` steps, keeping the best weights in ``work``."""
    tok, context = data.tok, model.cfg.context
    rng = np.random.default_rng(settings.seed + state.step)
    start_time = time.monotonic()
    budget = settings.minutes * 60
    by_steps = settings.max_steps is not None
    bar = tqdm(total=settings.max_steps if by_steps else int(budget), initial=state.step if by_steps else 0,
               desc="training", unit="step" if by_steps else "s", disable=not progress)
    while settings.max_steps is None or state.step < settings.max_steps:
        elapsed = time.monotonic() - start_time
        bar.n = state.step if by_steps else int(min(elapsed, budget))
        if elapsed > budget:
            break
        model.train()
        seqs = [sample_sequence(tok, data.train_eps[int(i)], rng, augment=True)
                for i in rng.integers(len(data.train_eps), size=settings.batch_size)]
        x, y = get_batch(seqs, context, tok.song_end)
        loss = model.loss(x.to(settings.device), y.to(settings.device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        for g in opt.param_groups:
            g["lr"] = get_lr(settings, state.step)
        opt.step()
        state.step += 1
        bar.set_postfix(loss=f"{loss.item():.3f}", best=f"{state.best:.3f}")
        if state.step % settings.eval_every == 0:
            val = estimate_loss(model, data.valid_seqs, context, tok.song_end, settings.device)
            with (work / "training_log.jsonl").open("a") as f:
                f.write(json.dumps({"step": state.step, "train_loss": round(loss.item(), 4),
                                    "valid_loss": round(val, 4), "seconds": round(elapsed, 1)}) + "\n")
            if val < state.best - MIN_IMPROVEMENT:
                state.best, state.best_step, state.bad = val, state.step, 0
                save_file(model.state_dict(), str(work / "best.safetensors"))
            else:
                state.bad += 1
            save_checkpoint(work, model, opt, state)
            if state.bad >= settings.patience:
                break
    bar.close()


def _pow2(n: int) -> int:
    """The context length for sequences of ``n`` tokens: the next power of two, at least 256."""
    return 1 << max(8, int(math.ceil(math.log2(max(n, 2)))))
