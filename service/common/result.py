"""AttentionResult: what the engine returns and the client decodes into (no onnxruntime import needed)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class AttentionResult:
    """One text's attentions: tokens with offsets, float32 [L,H,T,T], timing and whether it was cached."""

    model: str
    tokens: list[dict]  # {"text": str, "id": int, "start": int, "end": int, "special": bool}
    attentions: np.ndarray | None  # float32 [L, H, T, T]; None for a from_qk model's grid/head result
    layers: int
    heads: int
    timing_ms: dict[str, float]  # tokenize, queue (waiting for the model), inference, total
    cached: bool
    batch_size: int = 1  # how many requests shared the onnxruntime run (0 when cached)
    causal: bool | None = None  # the model's attention is causal (None: not known to the sender)
    heads_stats: dict | None = None  # the API's `heads_stats` when the HTTP service sent them
    value_norms: np.ndarray | None = None  # float32 [L, H, T] ‖v_j W_O^h‖; None for models without q/k
    queries: np.ndarray | None = field(default=None, repr=False)  # [L, H, T, d] (engine only, not sent)
    keys: np.ndarray | None = field(default=None, repr=False)  # [L, kv_heads, T, d] (engine only, not sent)
    weighting: str = "attention"  # "value_norm": `attentions` rows are α_ij·‖f(x_j)‖ renormalised
    predictions: list[dict] | None = None  # per token {"next", "top"} when asked for (models with an LM head)
    text: str | None = None  # the text these are the attentions of (as asked for)
    # (engine only, not sent) a from_qk model's "thumbs" [L, H, t, t], "rows" [L, H, T, 6], "argmax" [L, H, T]
    summary: dict | None = field(default=None, repr=False)


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
    value_norms: np.ndarray | None = None  # float32 [L, H, T]; None for models without q/k
    weighting: str = "attention"  # "value_norm": weighted by the value norms before pooling
    predictions: list[dict] | None = None  # per token {"next", "top"} when asked for
    text: str | None = None


@dataclass(frozen=True)
class HeadResult:
    """One head's full float32 [T, T] attention matrix (row = query token, column = key token)."""

    model: str
    layer: int
    head: int
    tokens: list[dict]
    attention: np.ndarray  # float32 [T, T] (weighted by the value norms when weighting is "value_norm")
    timing_ms: dict[str, float]
    cached: bool
    value_norms: np.ndarray | None = None  # float32 [T]; None for models without q/k
    weighting: str = "attention"
    predictions: list[dict] | None = None  # per token {"next", "top"} when asked for
    # only when asked for with qk=True:
    queries: np.ndarray | None = None  # float32 [T, d] as the attention used them (after rotary embedding)
    keys: np.ndarray | None = None  # float32 [T, d] of kv_head
    scores: np.ndarray | None = None  # float32 [T, T] q·kᵀ·scale before the softmax; -inf where masked
    kv_head: int | None = None  # the key/value head this query head reads (grouped-query attention)
    scale: float | None = None
    writes: dict | None = None  # with writes=True: {"query", "promoted", "suppressed"} (service/runtime/writes.py)
    text: str | None = None
