"""Per-head summary statistics of an attention array [L,H,T,T], for the dashboard's overview."""

from __future__ import annotations

import numpy as np


def head_stats(att: np.ndarray, tokens: list[dict] | None = None) -> dict:
    """Each value is an [L][H] list (rounded to 4 decimals), averaged over query rows:

    - entropy: row entropy in nats (0 = one key takes everything; ln(T) = uniform)
    - max: the largest weight in the row
    - self: weight on the token itself (the diagonal)
    - previous: weight on the token just before (rows 1..T-1; 0 when T < 2)
    - first: weight on the first token (BOS/CLS "sink")
    """
    a = att.astype(np.float32, copy=False)
    t = a.shape[-1]
    ent = -(a * np.log(np.clip(a, 1e-12, None))).sum(-1).mean(-1)
    diag = np.diagonal(a, axis1=-2, axis2=-1)
    prev = np.diagonal(a, offset=-1, axis1=-2, axis2=-1).mean(-1) if t > 1 else np.zeros(a.shape[:2], np.float32)

    def r(x: np.ndarray) -> list:
        return np.round(x.astype(np.float64), 4).tolist()

    return {
        "entropy": r(ent),
        "max": r(a.max(-1).mean(-1)),
        "self": r(diag.mean(-1)),
        "previous": r(prev),
        "first": r(a[..., 0].mean(-1)),
    }
