"""``template train``: fit the tokenizer and the transformer to an artist's corpus.

A plain loop: songs split into train and validation, phrases sampled with augmentation, AdamW,
validation every ``eval_every`` steps, early stopping, safetensors checkpoints that resume after a
kill (``checkpoint``), and a JSON-lines training log with the bigram baseline on the same tokens.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch.nn import functional as F
from tqdm import tqdm

from project_ingest.bundle import ArtistBundle
from project_ingest.corpus import load_corpus
from project_ingest.score import Score
from sample_library.errors import InputError
from template_engine.model.base_model import BaseModel, load_base
from template_engine.model.checkpoint import TrainState, publish, resume, save_checkpoint
from template_engine.model.config import ModelConfig
from template_engine.model.dataset import EncodedPhrase, encode_phrases, in_c, sample_sequence, song_phrases
from template_engine.model.tokens import ArtistTokenizer
from template_engine.model.transformer import IGNORE_INDEX, MusicTransformer, bigram_cross_entropy
from template_engine.model.workers import Workers

WARMUP_STEPS = 100
WARMUP_SHARE = 5  # at most this share (1/n) of a run's steps is warm-up
WEIGHT_DECAY = 0.05
ADAM_BETAS = (0.9, 0.95)
GRAD_CLIP = 1.0
MICRO_BATCH_OVERHEAD = 128  # tokens' worth of time one more forward and backward pass costs
MIN_IMPROVEMENT = 1e-3  # nats/token a validation loss must gain to count as better
EVAL_BATCH = 8
SCRATCH_LR = 1e-3
FINE_TUNE_LR = 3e-4  # a base's weights are moved gently, not relearned
FINAL_LR_SHARE = 0.1  # the learning rate at the last of ``max_steps``, as a share of the peak


@dataclass
class TrainSettings:
    """How long and how to train: a time budget (minutes) and a step limit, whichever comes first;
    with a step limit (and a seed) the same weights whatever the load, to float32 rounding."""

    minutes: float = 10.0
    device: str = "cpu"
    seed: int = 0
    batch_size: int = 8
    lr: float | None = None  # peak learning rate (None: ``SCRATCH_LR``, or ``FINE_TUNE_LR`` from a base)
    eval_every: int = 50
    patience: int = 6
    max_steps: int | None = None  # None: the time budget alone ends training
    bpe_vocab: int = 600
    model: ModelConfig | None = None
    base: Path | None = None  # fine-tune this base model, in its vocabulary (None: learn a vocabulary here)
    from_scratch: bool = False  # with a base: its vocabulary and shape, but random weights
    valid_share: float = 0.2  # share of the songs held out for validation

    @property
    def peak_lr(self) -> float:
        if self.lr is not None:
            return self.lr
        return FINE_TUNE_LR if self.base is not None and not self.from_scratch else SCRATCH_LR


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
    context: int = 1024  # tokens a training sequence is cut to (the model's context)


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

    @classmethod
    def from_dict(cls, d: dict) -> TrainSummary:
        """The summary ``to_dict`` wrote: the fields it does not know go back into ``extra``."""
        known = {f.name for f in fields(cls)} - {"extra"}
        return cls(**{k: v for k, v in d.items() if k in known}, extra={k: v for k, v in d.items() if k not in known})


def split_songs(titles: list[str], seed: int, valid_share: float = 0.2) -> tuple[list[str], list[str]]:
    """Validation gets ``valid_share`` of the songs (at least one when there are two or more)."""
    order = sorted(titles)
    rng = np.random.default_rng(seed)
    rng.shuffle(order)
    n_valid = max(1, int(len(order) * valid_share)) if len(order) >= 2 else 0
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


def prepare_data(bundle: ArtistBundle, settings: TrainSettings, tok: ArtistTokenizer | None, *,
                 progress: bool) -> TrainData:
    """The artist's corpus as training data, in ``tok``'s vocabulary (a new one when None)."""
    songs = load_corpus(bundle.path)
    if not songs:
        raise InputError(bundle.path / "corpus", "the artist has no corpus songs to train on")
    return tokenise_songs(songs, settings, tok, progress=progress)


def tokenise_songs(songs: list[tuple[str, Score]], settings: TrainSettings, tok: ArtistTokenizer | None, *,
                   progress: bool) -> TrainData:
    """Songs moved to C, cut into phrases and tokenised; with no ``tok``, BPE is learned on the training songs."""
    train_titles, valid_titles = split_songs([t for t, _ in songs], settings.seed, settings.valid_share)
    scores = dict(songs)
    encoder = tok or ArtistTokenizer()
    encoded = {title: encode_phrases(encoder, song_phrases(in_c(scores[title])))
               for title in tqdm(sorted(scores), desc="tokenising", unit="song", disable=not progress)}
    if tok is None:
        encoder.train_bpe([ids for t in train_titles for ep in encoded[t] for ids in ep.base.values()], settings.bpe_vocab)
    train_eps = [ep for t in train_titles for ep in encoded[t]]
    valid_eps = [ep for t in valid_titles for ep in encoded[t]] or train_eps[-max(1, len(train_eps) // 10):]

    def plain(eps: list[EncodedPhrase]) -> list[list[int]]:
        return [sample_sequence(encoder, ep, np.random.default_rng(i), augment=False) for i, ep in enumerate(eps)]

    return TrainData(encoder, train_titles, valid_titles, train_eps, valid_eps, plain(valid_eps), plain(train_eps))


def warmup_steps(settings: TrainSettings) -> int:
    """``WARMUP_STEPS``, or a fifth of a shorter run's step limit (a short fine-tune warms up quickly)."""
    if settings.max_steps is None:
        return WARMUP_STEPS
    return max(1, min(WARMUP_STEPS, settings.max_steps // WARMUP_SHARE))


def get_lr(settings: TrainSettings, step: int) -> float:
    """Linear warm-up over ``warmup_steps``; then, with a step limit, a cosine down to a tenth of the
    rate at the last step, and without one a constant rate."""
    warmup = warmup_steps(settings)
    warm = min(1.0, (step + 1) / warmup)
    if settings.max_steps is None or step < warmup:
        return settings.peak_lr * warm
    done = min(1.0, (step - warmup) / max(1, settings.max_steps - warmup))
    return settings.peak_lr * (FINAL_LR_SHARE + (1 - FINAL_LR_SHARE) * 0.5 * (1 + math.cos(math.pi * done)))


def estimate_loss(model: MusicTransformer, seqs: list[list[int]], context: int, pad: int, device: str) -> float:
    """Mean cross-entropy (nats per token) over ``seqs`` (batched by length, so little is padded)."""
    model.eval()
    seqs = sorted(seqs, key=len)
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(seqs), EVAL_BATCH):
            x, y = get_batch(seqs[i:i + EVAL_BATCH], context, pad)
            n = int((y != IGNORE_INDEX).sum())
            total += float(model.loss(x.to(device), y.to(device))) * n
            count += n
    return total / max(count, 1)


def initial_model(data: TrainData, settings: TrainSettings, base: BaseModel | None) -> MusicTransformer:
    """The model training starts from: the base's weights, or random weights in the base's shape (with
    ``from_scratch``) or in ``settings.model``'s; the context fits the longest sequence."""
    longest = _pow2(max(len(s) for s in data.valid_seqs + data.train_plain))
    torch.manual_seed(settings.seed)
    if base is not None and not settings.from_scratch:
        return base.model(context=longest).to(settings.device)
    cfg = base.config if base is not None else settings.model or ModelConfig()
    cfg = ModelConfig(**{**cfg.to_dict(), "vocab_size": data.tok.vocab_size, "context": max(cfg.context, longest)})
    return MusicTransformer(cfg).to(settings.device)


def start_from(settings: TrainSettings) -> str:
    """Where a run's weights start, in words (for the summary)."""
    if settings.base is None:
        return "random weights, vocabulary learned on the artist"
    return f"{'random weights' if settings.from_scratch else 'fine-tuned'}, base {Path(settings.base).name}"


def train(bundle: ArtistBundle, settings: TrainSettings, *, progress: bool = True) -> TrainSummary:
    """Train and write ``model/`` into the bundle (atomically). Returns the summary written beside it."""
    base = load_base(settings.base) if settings.base is not None else None
    data = prepare_data(bundle, settings, base.tok if base is not None else None, progress=progress)
    work = bundle.model_dir.parent / ".model.work"
    work.mkdir(exist_ok=True)
    model = initial_model(data, settings, base)
    state, seconds = fit(model, data, settings, work, Workers(), progress=progress)
    summary = summarise(model, data, settings, state, seconds)
    summary.extra["start"] = start_from(settings)
    publish(bundle, work, data.tok, model.cfg, summary.to_dict())
    return summary


def fit(model: MusicTransformer, data: TrainData, settings: TrainSettings, work: Path, workers: Workers, *,
        progress: bool) -> tuple[TrainState, float]:
    """Train ``model`` in ``work`` (resuming a killed run) until the loop ends; ``work`` then holds
    ``best.safetensors``. Returns the final state and the seconds this run took."""
    torch.use_deterministic_algorithms(True, warn_only=True)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.peak_lr, weight_decay=WEIGHT_DECAY, betas=ADAM_BETAS)
    state = resume(work, model, opt, data.tok)
    start_time = time.monotonic()
    run_loop(model, opt, data, settings, state, work, workers, progress=progress and workers.is_main)
    if workers.is_main and not (work / "best.safetensors").exists():
        save_file(model.state_dict(), str(work / "best.safetensors"))
        state.best = estimate_loss(model, data.valid_seqs, model.cfg.context, data.tok.song_end, settings.device)
        state.best_step = state.step
    return state, time.monotonic() - start_time


def summarise(model: MusicTransformer, data: TrainData, settings: TrainSettings, state: TrainState,
              seconds: float) -> TrainSummary:
    """The run's summary, with the bigram baseline fitted on the same training tokens."""
    bigram = bigram_cross_entropy(data.train_plain, data.valid_seqs, data.tok.vocab_size)
    return TrainSummary(
        steps=state.step, best_step=state.best_step, valid_loss=round(state.best, 4),
        bigram_valid_loss=round(bigram, 4), params=model.n_params(), vocab_size=data.tok.vocab_size,
        train_songs=data.train_titles, valid_songs=data.valid_titles, train_phrases=len(data.train_eps),
        valid_phrases=len(data.valid_eps), seconds=round(seconds, 1), device=settings.device, seed=settings.seed)


def train_step(net: torch.nn.Module, opt: torch.optim.Optimizer, data: TrainData, settings: TrainSettings,
               state: TrainState, workers: Workers) -> float:
    """One optimiser step on a batch drawn for this step alone (so a resumed run draws what the
    uninterrupted one would have); returns the batch's loss (nats/token)."""
    rng = np.random.default_rng([settings.seed, state.step, workers.rank])
    torch.manual_seed(settings.seed * 1_000_003 + state.step * 101 + workers.rank)
    net.train()
    seqs = [sample_sequence(data.tok, data.train_eps[int(i)], rng, augment=True)
            for i in rng.integers(len(data.train_eps), size=settings.batch_size)]
    batches = [get_batch(group, data.context, data.tok.song_end) for group in micro_batches(seqs, data.context)]
    targets = sum(int((y != IGNORE_INDEX).sum()) for _, y in batches)
    opt.zero_grad(set_to_none=True)
    total = 0.0
    for k, (x, y) in enumerate(batches):
        with workers.accumulating(net, sync=k == len(batches) - 1):
            logits = net(x.to(settings.device))
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.to(settings.device).reshape(-1),
                                   ignore_index=IGNORE_INDEX, reduction="sum") / targets
            loss.backward()
        total += float(loss.item())
    torch.nn.utils.clip_grad_norm_(net.parameters(), GRAD_CLIP)
    for g in opt.param_groups:
        g["lr"] = get_lr(settings, state.step)
    opt.step()
    state.step += 1
    return total


def micro_batches(seqs: list[list[int]], context: int) -> list[list[list[int]]]:
    """``seqs`` sorted by length and cut into the runs that pad least (each run costs its size times
    its longest sequence, plus ``MICRO_BATCH_OVERHEAD`` tokens). A batch's gradient is the sum of its
    runs' (each loss a sum over tokens, divided by the batch's tokens), so it is the one batch's
    gradient, with phrases of 120 and 700 tokens no longer padded to one length."""
    order = sorted(seqs, key=len)
    lengths = [min(len(s), context + 1) for s in order]
    best, cut = [0.0] + [math.inf] * len(order), [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        for start in range(end):
            cost = best[start] + (end - start) * lengths[end - 1] + MICRO_BATCH_OVERHEAD
            if cost < best[end]:
                best[end], cut[end] = cost, start
    runs, end = [], len(order)
    while end > 0:
        runs.append(order[cut[end]:end])
        end = cut[end]
    return runs[::-1]


def run_loop(model: MusicTransformer, opt: torch.optim.Optimizer, data: TrainData, settings: TrainSettings,
             state: TrainState, work: Path, workers: Workers, *, progress: bool) -> None:
    """Train from ``state`` until ``max_steps``, the time budget or the patience runs out; validate,
    log and checkpoint every ``eval_every`` steps (rank 0), keeping the best weights in ``work``."""
    data.context = model.cfg.context
    net = workers.wrap(model)
    start_time = time.monotonic()
    budget = settings.minutes * 60
    by_steps = settings.max_steps is not None
    bar = tqdm(total=settings.max_steps if by_steps else int(budget), initial=state.step if by_steps else 0,
               desc="training", unit="step" if by_steps else "s", disable=not progress)
    while settings.max_steps is None or state.step < settings.max_steps:
        elapsed = time.monotonic() - start_time
        bar.n = state.step if by_steps else int(min(elapsed, budget))
        if workers.agree(elapsed > budget):
            break
        loss = train_step(net, opt, data, settings, state, workers)
        bar.set_postfix(loss=f"{loss:.3f}", best=f"{state.best:.3f}")
        if state.step % settings.eval_every == 0:
            if workers.is_main:
                validate(model, opt, data, settings, state, work, loss, elapsed)
            if workers.agree(state.bad >= settings.patience):
                break
    bar.close()


def validate(model: MusicTransformer, opt: torch.optim.Optimizer, data: TrainData, settings: TrainSettings,
             state: TrainState, work: Path, train_loss: float, elapsed: float) -> None:
    """Validation loss into the log, the best weights kept, and a checkpoint to resume from."""
    val = estimate_loss(model, data.valid_seqs, data.context, data.tok.song_end, settings.device)
    with (work / "training_log.jsonl").open("a") as f:
        f.write(json.dumps({"step": state.step, "train_loss": round(train_loss, 4), "valid_loss": round(val, 4),
                            "lr": round(get_lr(settings, state.step - 1), 6), "seconds": round(elapsed, 1)}) + "\n")
    if val < state.best - MIN_IMPROVEMENT:
        state.best, state.best_step, state.bad = val, state.step, 0
        save_file(model.state_dict(), str(work / "best.safetensors"))
    else:
        state.bad += 1
    save_checkpoint(work, model, opt, state)


def _pow2(n: int) -> int:
    """The context length for sequences of ``n`` tokens: the next power of two, at least 256."""
    return 1 << max(8, int(math.ceil(math.log2(max(n, 2)))))
