"""Weight × value norm (Kobayashi et al. 2020, "Attention is not only a weight").

A head's softmax weight α_ij says how much query i looks at key j; what j passes on through that
head is its value vector times the head's slice of the output projection, whose norm ‖f(x_j)‖ =
‖v_j W_O^h‖ the export provides as `value_norms` [L, H, T]. With weighting "value_norm" each row
becomes α_ij·‖f(x_j)‖ / Σ_k α_ik·‖f(x_k)‖ (rows sum to 1 again; a row whose products are all 0 stays
0). Thumbnails are max-pooled AFTER weighting, so a pooled cell is the largest weighted value.
"""

from __future__ import annotations

import numpy as np

from ..common.errors import ServiceError
from ..common.half import to_float32
from .grid import max_pool

WEIGHTINGS = ("attention", "value_norm")


def check_weighting(value: object, qk: bool, reason: str | None, model: str) -> str:
    """"attention" (default) or "value_norm"; 422 for anything else, or for value_norm without value norms."""
    if value is None:
        return "attention"
    if value not in WEIGHTINGS:
        raise ServiceError(422, "invalid_weighting",
                           f"Unknown weighting {str(value)[:40]!r}; use one of: {', '.join(WEIGHTINGS)}.")
    if value == "value_norm" and not qk:
        raise qk_unavailable(model, reason)
    return value  # type: ignore[return-value]


def qk_unavailable(model: str, reason: str | None) -> ServiceError:
    return ServiceError(422, "qk_unavailable",
                        f"Model {model!r} has no queries, keys or value norms ({reason}).")


def weigh(att: np.ndarray, value_norms: np.ndarray) -> np.ndarray:
    """float32 α_ij·‖f(x_j)‖ renormalised per row, for att [..., T, T] and value_norms [..., T]."""
    w = to_float32(att)  # a copy: `att` may be the stored result
    w *= np.asarray(value_norms, dtype=np.float32)[..., None, :]
    total = w.sum(-1, keepdims=True)
    # weights and norms are >= 0: a row whose total is 0 is all zeros already and stays so
    return np.divide(w, total, out=w, where=total > 0)


def shown(att: np.ndarray, value_norms: np.ndarray | None, weighting: str) -> np.ndarray:
    """The weights as asked for: `att` itself, or weighted by the value norms."""
    return att if weighting == "attention" else weigh(att, value_norms)


def pooled(att: np.ndarray, value_norms: np.ndarray | None, weighting: str,
           hide_first: bool = False) -> tuple[np.ndarray, list[list[int]]]:
    """Thumbnails float32 [L, H, t, t] and their cells, weighted by the value norms first when asked,
    and with key 0 hidden (rows renormalised) with ``hide_first``."""
    return max_pool(att, value_norms if weighting == "value_norm" else None, hide_first)
