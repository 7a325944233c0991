"""One head's queries, keys and scores before the softmax, from a computed result.

scores[i, j] = q_i · k_j · scale (the layer's attention scale from the manifest), with the key head
the query head reads under grouped-query attention (head // (heads / kv_heads)). Entries a causal
model masks (key after query, j > i) are -inf: softmax of each row gives back the head's attention
row. Bidirectional models mask nothing (requests are never padded).
"""

from __future__ import annotations

import numpy as np


def qk_scores(queries: np.ndarray, keys: np.ndarray, scale: float, causal: bool) -> np.ndarray:
    """float32 [T, T] q·kᵀ·scale for queries [T, d] and keys [T, d]; -inf above the diagonal when causal."""
    scores = (np.asarray(queries, np.float64) @ np.asarray(keys, np.float64).T * scale).astype(np.float32)
    if causal:
        scores[np.triu_indices(scores.shape[0], k=1)] = -np.inf
    return scores

