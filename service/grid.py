"""Fixed-size per-head thumbnails: an [L, H, T, T] attention array max-pooled to [L, H, t, t], t = min(T, 32),
optionally weighted by the value norms first.

Query and key tokens are split into t contiguous blocks ("cells", [start, end) token ranges that
differ in length by at most one); each thumbnail pixel is the MAX weight over its block of query ×
key tokens, so a one-token-wide diagonal (previous-token, self) stays visible at any length.
"""

from __future__ import annotations

import numpy as np

GRID_SIZE = 32


def cells(tokens: int, size: int = GRID_SIZE) -> list[list[int]]:
    """The t = min(tokens, size) blocks as [start, end) token ranges covering 0..tokens."""
    t = min(tokens, size)
    edges = (np.arange(t + 1) * tokens) // t
    return [[int(a), int(b)] for a, b in zip(edges[:-1], edges[1:], strict=True)]


def float32(arr: np.ndarray) -> np.ndarray:
    """A float32 copy. float16 goes through a 65536-entry table: numpy's own conversion takes a slow path
    for subnormals, and near-zero attention weights are mostly subnormal in float16 (measured 8 ms vs
    1.6 ms per 512-token SmolLM2 layer)."""
    if arr.dtype == np.float16:
        return np.take(_FLOAT16_TABLE, np.ascontiguousarray(arr).view(np.uint16))
    return np.array(arr, dtype=np.float32)


_FLOAT16_TABLE = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)


def max_pool(att: np.ndarray, value_norms: np.ndarray | None = None,
             size: int = GRID_SIZE) -> tuple[np.ndarray, list[list[int]]]:
    """(thumbnails float32 [L, H, t, t], cells) for attentions [L, H, T, T].

    With value norms [L, H, T] each row is first weighted, α_ij·n_j / Σ_k α_ik·n_k (service/weighting.py).
    One layer at a time in float32 (room for one layer only). The renormalising total is one positive
    number per query row, so the max over a block of keys of α_ij·n_j / total_i is
    (max of α_ij·n_j) / total_i: the division runs on [T, t] instead of [T, T]."""
    blocks = cells(att.shape[-1], size)
    starts = [start for start, _ in blocks]
    out = np.empty((*att.shape[:2], len(blocks), len(blocks)), dtype=np.float32)
    for layer in range(att.shape[0]):
        a = float32(att[layer])  # a copy: `att` may be the stored result
        if value_norms is not None:
            n = np.asarray(value_norms[layer], dtype=np.float32)
            total = np.matmul(a, n[..., :, None])  # [H, T, 1] row sums of α_ij·n_j
            a *= n[..., None, :]
        keys = np.maximum.reduceat(a, starts, axis=-1)  # [H, T, t]
        if value_norms is not None:
            np.divide(keys, total, out=keys, where=total > 0)
        out[layer] = np.maximum.reduceat(keys, starts, axis=-2)
    return out, blocks
