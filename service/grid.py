"""Fixed-size per-head thumbnails: an [L, H, T, T] attention array max-pooled to [L, H, t, t], t = min(T, 32).

Query and key tokens are split into t contiguous blocks ("cells", [start, end) token ranges that
differ in length by at most one); each thumbnail pixel is the MAX weight over its block of query ×
key tokens, so a one-token-wide diagonal (previous-token, self) stays visible at any length.
With ``hide_first`` the weights are pooled after :func:`hide_first_token` (key 0 removed, rows
renormalised), so thumbnails of the "hide first token" view are exact, not an estimate.
"""

from __future__ import annotations

import numpy as np

GRID_SIZE = 32


def cells(tokens: int, size: int = GRID_SIZE) -> list[list[int]]:
    """The t = min(tokens, size) blocks as [start, end) token ranges covering 0..tokens."""
    t = min(tokens, size)
    edges = (np.arange(t + 1) * tokens) // t
    return [[int(a), int(b)] for a, b in zip(edges[:-1], edges[1:], strict=True)]


def hide_first_token(att: np.ndarray) -> np.ndarray:
    """Remove attention to key 0 and renormalise each query row over the remaining keys (float32).

    Works on any [..., T, T] array (rows are queries). Column 0 becomes 0. A row whose weight was
    all on key 0 (row 0 of a causal model, or a head that only looks at the sink) has nothing left
    to renormalise: it is zeros rather than divided by zero.
    """
    a = np.array(att, dtype=np.float32, copy=True)
    a[..., 0] = 0.0
    total = a.sum(-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(total > 1e-12, a / np.where(total > 1e-12, total, 1.0), 0.0)
    return out.astype(np.float32)


def thumbnails(att: np.ndarray, hide_first: bool = False, size: int = GRID_SIZE) -> tuple[np.ndarray, list[list[int]]]:
    """``max_pool`` of [L, H, T, T] attentions, or of them with key 0 hidden (one layer at a time, so a
    long text needs float32 room for one layer only)."""
    if not hide_first:
        return max_pool(att, size)
    pooled = [max_pool(hide_first_token(att[layer]), size)[0] for layer in range(att.shape[0])]
    return np.stack(pooled).astype(att.dtype), cells(att.shape[-1], size)


def max_pool(att: np.ndarray, size: int = GRID_SIZE) -> tuple[np.ndarray, list[list[int]]]:
    """(thumbnails [..., t, t] in att's dtype, cells) for attentions [..., T, T]."""
    blocks = cells(att.shape[-1], size)
    starts = [start for start, _ in blocks]
    rows = np.maximum.reduceat(att, starts, axis=-2)
    return np.maximum.reduceat(rows, starts, axis=-1), blocks
