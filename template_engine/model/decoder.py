"""Writing with the trained transformer in numpy: the forward pass of ``transformer.MusicTransformer``
(the same safetensors weights, float32, equal to float32 rounding) with a key/value cache. A render
loads and runs its model without importing torch (2.5 s of its start), and a step with the one to
nine rows a song writes at once runs about twice as fast as torch's."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from scipy.special import erf

from project_ingest.bundle import ArtistBundle
from sample_library.errors import InputError
from template_engine.model.config import ROTARY_BASE, ModelConfig
from template_engine.model.tokens import ArtistTokenizer

LAYER_NORM_EPS = 1e-5  # torch.nn.LayerNorm's
MIN_EXPONENT = -80.0  # softmax weights below exp(-80) are raised to it: no float32 weight is ever subnormal (an x86
# core takes ~100 cycles on each), and a weight that small moves no float32 sum it is added to


class KVCache:
    """Keys (batch, heads, head_dim, capacity) and values (batch, heads, capacity, head_dim) of every
    layer, written in place; the capacity doubles when a step needs more, up to the context."""

    def __init__(self, cfg: ModelConfig, batch: int, capacity: int = 256) -> None:
        self.context = cfg.context
        head_dim, size = cfg.d_model // cfg.n_head, min(capacity, cfg.context)
        self.keys = [np.zeros((batch, cfg.n_head, head_dim, size), np.float32) for _ in range(cfg.n_layer)]
        self.values = [np.zeros((batch, cfg.n_head, size, head_dim), np.float32) for _ in range(cfg.n_layer)]

    def reserve(self, length: int) -> None:
        """Make room for ``length`` positions."""
        size = self.values[0].shape[2]
        if length <= size:
            return
        more = min(self.context, max(2 * size, length)) - size
        self.keys = [np.concatenate([k, np.zeros((*k.shape[:3], more), np.float32)], axis=3) for k in self.keys]
        self.values = [np.concatenate([v, np.zeros((*v.shape[:2], more, v.shape[3]), np.float32)], axis=2)
                       for v in self.values]

    def keep(self, rows: np.ndarray) -> None:
        """Keep only the batch ``rows`` (indices), in that order."""
        self.keys = [k[rows] for k in self.keys]
        self.values = [v[rows] for v in self.values]


@dataclass
class _Layer:
    """One block's weights, each matrix as (inputs, outputs)."""

    ln1: tuple[np.ndarray, np.ndarray]
    qkv: np.ndarray
    proj: np.ndarray
    ln2: tuple[np.ndarray, np.ndarray]
    up: tuple[np.ndarray, np.ndarray]
    down: tuple[np.ndarray, np.ndarray]


class Decoder:
    """Token ids (batch, time) -> the next token's logits (batch, vocab), from the weights of a
    ``MusicTransformer`` (its state dict, as numpy arrays)."""

    def __init__(self, cfg: ModelConfig, weights: Mapping[str, np.ndarray]) -> None:
        self.cfg = cfg

        width, vocab = cfg.d_model, cfg.vocab_size

        def read(name: str, shape: tuple[int, ...]) -> np.ndarray:
            """The weight ``name``, as float32; ValueError where its shape is not the config's."""
            if tuple(weights[name].shape) != shape:
                raise ValueError(f"{name} has shape {tuple(weights[name].shape)}, the config gives {shape}")
            return np.asarray(weights[name], np.float32)

        def matrix(name: str, inputs: int, outputs: int) -> np.ndarray:
            """A linear layer's weight (torch keeps it as (outputs, inputs)) as (inputs, outputs)."""
            return np.ascontiguousarray(read(name, (outputs, inputs)).T)

        def norm(name: str) -> tuple[np.ndarray, np.ndarray]:
            return read(f"{name}.weight", (width,)), read(f"{name}.bias", (width,))

        def linear(name: str, inputs: int, outputs: int) -> tuple[np.ndarray, np.ndarray]:
            return matrix(f"{name}.weight", inputs, outputs), read(f"{name}.bias", (outputs,))

        self.embed = read("embed.weight", (vocab, width))
        self.layers = [_Layer(norm(f"blocks.{i}.ln1"), matrix(f"blocks.{i}.attn.qkv.weight", width, 3 * width),
                              matrix(f"blocks.{i}.attn.proj.weight", width, width), norm(f"blocks.{i}.ln2"),
                              linear(f"blocks.{i}.mlp.0", width, 4 * width), linear(f"blocks.{i}.mlp.2", 4 * width, width))
                       for i in range(cfg.n_layer)]
        self.ln = norm("ln")
        self.head = matrix("head.weight", width, vocab)
        head_dim = cfg.d_model // cfg.n_head
        inverse = 1.0 / ROTARY_BASE ** (np.arange(0, head_dim, 2, dtype=np.float32) / head_dim)
        angles = np.outer(np.arange(cfg.context, dtype=np.float32), inverse)
        self.cos, self.sin = np.cos(angles), np.sin(angles)

    @classmethod
    def load(cls, folder: Path) -> Decoder:
        """The model a bundle's ``model/`` folder publishes (``config.json``, ``model.safetensors``)."""
        try:
            cfg = ModelConfig(**json.loads((folder / "config.json").read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise InputError(folder / "config.json", f"is not a model config ({exc}): retrain the artist") from None
        weights = folder / "model.safetensors"
        try:
            return cls(cfg, load_file(str(weights)))
        except Exception as exc:  # safetensors raises its own error types for a damaged file
            raise InputError(weights, f"cannot be read as this model's weights ({exc}): retrain the artist with "
                                      "`template train`") from None

    def cache(self, batch: int) -> KVCache:
        return KVCache(self.cfg, batch)

    def next_logits(self, ids: np.ndarray, cache: KVCache, start: int) -> np.ndarray:
        """Logits (batch, vocab) of the token after ``ids`` (batch, time), placed at positions
        ``start..``; their keys and values are written into ``cache`` and the earlier ones read."""
        batch, time = ids.shape
        cache.reserve(start + time)
        x = self.embed[ids]
        for layer, keys, values in zip(self.layers, cache.keys, cache.values):
            x += self._attend(layer, _layer_norm(x, layer.ln1), keys, values, start)
            hidden = _gelu(_layer_norm(x, layer.ln2).reshape(batch * time, -1) @ layer.up[0] + layer.up[1])
            x += (hidden @ layer.down[0] + layer.down[1]).reshape(x.shape)
        return _layer_norm(x[:, -1], self.ln) @ self.head

    def _attend(self, layer: _Layer, x: np.ndarray, keys: np.ndarray, values: np.ndarray, start: int) -> np.ndarray:
        """Causal self-attention of ``x`` (batch, time, d_model) at positions ``start..`` over the
        cached positions before them; the new keys and values are written into the cache."""
        batch, time, width = x.shape
        heads = self.cfg.n_head
        head_dim, end = width // heads, start + time
        qkv = (x.reshape(batch * time, width) @ layer.qkv).reshape(batch, time, 3, heads, head_dim)
        turned = _rotate(qkv[:, :, :2], self.cos[start:end, None, None, :], self.sin[start:end, None, None, :])
        query, key = turned[:, :, 0], turned[:, :, 1]
        keys[:, :, :, start:end] = key.transpose(0, 2, 3, 1)
        values[:, :, start:end] = qkv[:, :, 2].transpose(0, 2, 1, 3)
        scores = np.matmul(query.transpose(0, 2, 1, 3), keys[:, :, :, :end]) * np.float32(1 / math.sqrt(head_dim))
        causal = np.tri(time, end, k=start, dtype=bool) if time > 1 else None
        if causal is not None:
            scores = np.where(causal, scores, np.float32(-np.inf))
        scores -= np.maximum.reduce(scores, axis=-1, keepdims=True)
        scores = np.exp(np.maximum(scores, np.float32(MIN_EXPONENT), out=scores), out=scores)
        if causal is not None:
            scores *= causal
        scores /= np.add.reduce(scores, axis=-1, keepdims=True)
        mixed = np.matmul(scores, values[:, :, :end]).transpose(0, 2, 1, 3).reshape(batch * time, width)
        return (mixed @ layer.proj).reshape(batch, time, width)


def _rotate(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """Rotary positions: pairs of channels (2i, 2i+1) of ``x`` (batch, time, ..., head_dim) turned by
    their position's angle (``cos``, ``sin``: (time, 1, ..., head_dim / 2)), written into one new array
    (queries and keys in one call: each numpy call costs a few microseconds, which a one-row step
    of the model feels)."""
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty(x.shape, np.float32)
    np.subtract(even * cos, odd * sin, out=out[..., 0::2])
    np.add(even * sin, odd * cos, out=out[..., 1::2])
    return out


def _layer_norm(x: np.ndarray, weight_bias: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """``x`` (..., d_model) normalised over its last axis, then scaled and shifted."""
    centred = x - np.add.reduce(x, axis=-1, keepdims=True) / np.float32(x.shape[-1])  # x.mean, without its wrapper
    variance = np.einsum("...i,...i->...", centred, centred)[..., None] / np.float32(x.shape[-1])
    return centred / np.sqrt(variance + np.float32(LAYER_NORM_EPS)) * weight_bias[0] + weight_bias[1]


def _gelu(x: np.ndarray) -> np.ndarray:
    """The exact (erf) GELU, as ``torch.nn.GELU()``."""
    return np.float32(0.5) * x * (np.float32(1.0) + erf(x * np.float32(1 / math.sqrt(2))))


def load_decoder(bundle: ArtistBundle) -> tuple[Decoder, ArtistTokenizer]:
    """The trained model and tokenizer of a bundle, for writing."""
    if not bundle.is_trained:
        raise InputError(bundle.model_dir, "the artist has no trained model: run `template train --artist NAME`")
    return Decoder.load(bundle.model_dir), ArtistTokenizer.load(bundle.model_dir)
