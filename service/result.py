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
