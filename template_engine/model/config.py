"""The transformer's shape, shared by training (torch) and writing (numpy) without importing either."""

from __future__ import annotations

from dataclasses import asdict, dataclass

ROTARY_BASE = 10000.0  # rotary positions turn channel pair i by position * ROTARY_BASE ** (-2i / head_dim)


@dataclass
class ModelConfig:
    vocab_size: int = 512
    context: int = 1024
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 256
    dropout: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)
