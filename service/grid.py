"""Fixed-size per-head thumbnails: an [L, H, T, T] attention array max-pooled to [L, H, t, t], t = min(T, 32).

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


def max_pool(att: np.ndarray, size: int = GRID_SIZE) -> tuple[np.ndarray, list[list[int]]]:
    """(thumbnails [..., t, t] in att's dtype, cells) for attentions [..., T, T]."""
    blocks = cells(att.shape[-1], size)
    starts = [start for start, _ in blocks]
    rows = np.maximum.reduceat(att, starts, axis=-2)
    return np.maximum.reduceat(rows, starts, axis=-1), blocks
