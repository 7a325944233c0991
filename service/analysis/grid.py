"""Fixed-size per-head thumbnails: an [L, H, T, T] attention array max-pooled to [L, H, t, t], t = min(T, 32),
optionally weighted by the value norms and/or with the first token hidden first.

Query and key tokens are split into t contiguous blocks ("cells", [start, end) token ranges that
differ in length by at most one: the longer ones first, so that each group pools as one reshape, see
service/runtime/attention_summary.py); each thumbnail pixel is the MAX weight over its block of query ×
key tokens, so a one-token-wide diagonal (previous-token, self) stays visible at any length.
With ``hide_first`` the weights are pooled after :func:`hide_first_token` (key 0 removed, rows
renormalised), so thumbnails of the "hide first token" view are exact, not an estimate; with value
norms each row is weighted first (service/analysis/weighting.py). Both commute: hiding key 0 and renormalising
after weighting equals weighting the hidden rows.
"""

from __future__ import annotations

import numpy as np

from ..common.half import to_float32

GRID_SIZE = 32
TINY = 1e-12  # a row total at or below this has nothing left to renormalise: the row is zeros


def cells(tokens: int, size: int = GRID_SIZE) -> list[list[int]]:
    """The t = min(tokens, size) blocks as [start, end) token ranges covering 0..tokens: `long` blocks of
    b = ceil(tokens / t) tokens, then t - long blocks of b - 1 (see `cell_split`)."""
    edges = cell_edges(tokens, size)
    return [[int(a), int(e)] for a, e in zip(edges[:-1], edges[1:], strict=True)]


def cell_edges(tokens: int, size: int = GRID_SIZE) -> np.ndarray:
    """The t + 1 token indices where the cells start and end: 0, b, 2b, ..., tokens."""
    t, b, long = cell_split(tokens, size)
    return np.concatenate([[0], np.cumsum([b] * long + [b - 1] * (t - long))])


def cell_split(tokens: int, size: int = GRID_SIZE) -> tuple[int, int, int]:
    """(t, b, long): t = min(tokens, size) cells, the first `long` of b = ceil(tokens / t) tokens, the
    rest of b - 1 (long·b + (t - long)·(b - 1) = tokens, 1 <= long <= t)."""
    if tokens < 1:
        raise ValueError(f"tokens must be >= 1, got {tokens}")
    t = min(tokens, size)
    b = -(-tokens // t)
    return t, b, tokens - t * (b - 1)


def hide_first_token(att: np.ndarray) -> np.ndarray:
    """Remove attention to key 0 and renormalise each query row over the remaining keys (float32).

    Works on any [..., T, T] array (rows are queries). Column 0 becomes 0. A row whose weight was
    all on key 0 (row 0 of a causal model, or a head that only looks at the sink) has nothing left
    to renormalise: it is zeros rather than divided by zero.
    """
    a = to_float32(att)
    a[..., 0] = 0.0
    total = a.sum(-1, keepdims=True)
    return np.divide(a, total, out=np.zeros_like(a), where=total > TINY)


def max_pool(att: np.ndarray, value_norms: np.ndarray | None = None, hide_first: bool = False,
             size: int = GRID_SIZE) -> tuple[np.ndarray, list[list[int]]]:
    """(thumbnails float32 [L, H, t, t], cells) for attentions [L, H, T, T].

    With value norms [L, H, T] each row is first weighted, α_ij·n_j / Σ_k α_ik·n_k; with ``hide_first``
    key 0 is removed and rows renormalised. One layer at a time in float32 (room for one layer only).
    The renormalising total is one positive number per query row, so the max over a block of keys of
    a_ij / total_i is (max of a_ij) / total_i: the division runs on [T, t] instead of [T, T]."""
    blocks = cells(att.shape[-1], size)
    starts = [start for start, _ in blocks]
    out = np.empty((*att.shape[:2], len(blocks), len(blocks)), dtype=np.float32)
    renormalise = value_norms is not None or hide_first
    a = np.empty(att.shape[1:], dtype=np.float32)  # one layer's copy, reused: `att` may be the stored result
    for layer in range(att.shape[0]):
        to_float32(att[layer], out=a)
        if value_norms is not None:
            a *= np.asarray(value_norms[layer], dtype=np.float32)[..., None, :]
        if hide_first:
            a[..., 0] = 0.0
        keys = np.maximum.reduceat(a, starts, axis=-1)  # [H, T, t]
        if renormalise:
            total = a.sum(-1, keepdims=True)  # [H, T, 1]
            keys = np.divide(keys, total, out=np.zeros_like(keys), where=total > TINY)
        out[layer] = np.maximum.reduceat(keys, starts, axis=-2)
    return out, blocks
