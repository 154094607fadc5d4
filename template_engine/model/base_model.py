"""The base model file: one safetensors file holding a pretrained model and everything to use it.

Tensors are the transformer's weights; the file's metadata (strings) holds ``config`` (the
``ModelConfig`` as JSON), ``tokenizer`` (the shared vocabulary, ``ArtistTokenizer.to_json``) and
``summary`` (how it was trained: data, steps, losses). Every artist fine-tuned from a base keeps its
vocabulary, so the base and its artists speak the same tokens. The shipped base lies in the package
(``SHIPPED_BASE``), with its model card and the licence of the data it was trained on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from sample_library.audio_io import atomic_path, follow_umask
from sample_library.errors import InputError
from template_engine.model.config import ModelConfig
from template_engine.model.tokens import ArtistTokenizer
from template_engine.model.transformer import MusicTransformer

SHIPPED_BASE = Path(__file__).with_name("base") / "base.safetensors"


@dataclass
class BaseModel:
    """A loaded base: weights (name -> tensor), config, vocabulary and training summary."""

    path: Path
    weights: dict[str, torch.Tensor]
    config: ModelConfig
    tok: ArtistTokenizer
    summary: dict

    def model(self, context: int | None = None) -> MusicTransformer:
        """A transformer with the base's weights, its context widened to ``context`` tokens if larger."""
        cfg = ModelConfig(**{**self.config.to_dict(), "context": max(self.config.context, context or 0)})
        model = MusicTransformer(cfg)
        model.load_state_dict(self.weights)
        return model


def save_base(path: Path, weights: dict[str, torch.Tensor], config: ModelConfig, tok: ArtistTokenizer,
              summary: dict) -> None:
    """Write a base file atomically."""
    metadata = {"config": json.dumps(config.to_dict()), "tokenizer": tok.to_json(), "summary": json.dumps(summary),
                "format": "template-base-1"}
    with atomic_path(Path(path)) as tmp:
        save_file({k: v.contiguous() for k, v in weights.items()}, str(tmp), metadata=metadata)
        follow_umask(tmp)


def load_base(path: Path) -> BaseModel:
    """Read a base file; an unreadable or foreign file is an InputError naming it."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such base model file (make one with `template pretrain`)")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            weights = {k: f.get_tensor(k) for k in f.keys()}
        config = ModelConfig(**json.loads(meta["config"]))
        tok = ArtistTokenizer.from_json(meta["tokenizer"])
        summary = json.loads(meta.get("summary", "{}"))
    except KeyError as exc:
        raise InputError(path, f"is not a base model made by `template pretrain` (no {exc} in its metadata)") from None
    except Exception as exc:  # safetensors raises its own error types for a damaged file
        raise InputError(path, f"cannot be read as a base model ({exc})") from None
    if config.vocab_size != tok.vocab_size:
        raise InputError(path, f"its config has {config.vocab_size} tokens but its tokenizer {tok.vocab_size}")
    return BaseModel(path, weights, config, tok, summary)
