"""AttentionResult: what the engine returns and the client decodes into (no onnxruntime import needed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AttentionResult:
    """One text's attentions: tokens with offsets, float32 [L,H,T,T], timing and whether it was cached."""

    model: str
    tokens: list[dict]  # {"text": str, "id": int, "start": int, "end": int, "special": bool}
    attentions: np.ndarray  # float32 [L, H, T, T]
    layers: int
    heads: int
    timing_ms: dict[str, float]  # tokenize, queue (waiting for the model), inference, total
    cached: bool
    batch_size: int = 1  # how many requests shared the onnxruntime run (0 when cached)
    causal: bool | None = None  # the model's attention is causal (None: not known to the sender)
    heads_stats: dict | None = None  # the API's `heads_stats` when the HTTP service sent them


@dataclass(frozen=True)
class GridResult:
    """One text's per-head thumbnails: float32 [L, H, t, t] max-pooled over `cells` (t = min(T, 32))."""

    model: str
    tokens: list[dict]
    grid: np.ndarray  # float32 [L, H, t, t]
    cells: list[list[int]]  # t [start, end) token ranges, the same for queries and keys
    layers: int
    heads: int
    heads_stats: dict  # as in the API's heads_stats
    timing_ms: dict[str, float]
    cached: bool


@dataclass(frozen=True)
class HeadResult:
    """One head's full float32 [T, T] attention matrix (row = query token, column = key token)."""

    model: str
    layer: int
    head: int
    tokens: list[dict]
    attention: np.ndarray  # float32 [T, T]
    timing_ms: dict[str, float]
    cached: bool
