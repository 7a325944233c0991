"""The ONNX nodes that reduce a block of attention weights to what the views and the head statistics need.

For weights p [H, R, K] (R query rows, K keys; the scores s before the softmax beside them):
- `rows` [H, R, 6]: per query row A[i, 0], A[i, i], A[i, i-1], A[i, i+1] (the key indices come in as
  `rowidx`, clamped into range by the caller), Σ_j A[i, j]·log A[i, j] and max_j A[i, j] — everything
  the head statistics need (service/analysis/head_analysis.py `stats_from_rows`);
- `argmax` [H, R, 1] (int64): the key of each row's largest weight (the lowest index on ties);
- `thumbs` [H, r, k]: the block's part of the max-pooled thumbnail over service/analysis/grid.py's
  cells (their longer cells come first, so each group of equal cells pools as one Slice + Reshape +
  ReduceMax, with no element-wise Gather: that was 10x slower at 512 tokens).

Σ_j p log p takes no logarithm per weight: with m the row's largest score and p_max its weight,
log p_j = s_j − m + log p_max, so Σ_j p_j·log p_j = Σ_j p_j·s_j − m + log p_max (one multiply-add
pass instead of a log pass; masked keys carry a finite −1e30 score and weight exactly 0).
The index and pooling shapes are inputs computed by the caller (service/runtime/attention_kernel.py).
"""

from __future__ import annotations

import numpy as np

MASKED = -1e30  # the score of a masked key: finite, so that p·s = 0·(−1e30) = 0 where NaN would be 0·(−inf)
POOL_INPUTS = ("pool.rows.split", "pool.rows.long", "pool.rows.short",
               "pool.keys.split", "pool.keys.long", "pool.keys.short")  # int64 [1], [4], [4] each


def constants() -> list:
    """The initializers the nodes below use."""
    from onnx import numpy_helper

    return [numpy_helper.from_array(np.asarray(v, np.int64), name) for name, v in
            (("sum.0", [0]), ("sum.1", [1]), ("sum.end", [np.iinfo(np.int64).max]), ("sum.ax_last", [-1]),
             ("sum.ax_m2", [-2]))]


def pool_nodes(src: str, out: str, tag: str) -> list:
    """max-pool `src` [H, R, K] into `out` [H, r, k]: rows first (whole rows are block copies), then keys."""
    from onnx import helper

    n, x = helper.make_node, f"sum.{tag}"
    nodes = []
    for axis, part, ax, into in (("rows", src, "sum.ax_m2", f"{x}.rows"), ("keys", f"{x}.rows", "sum.ax_last", out)):
        pooled = []
        for group, lo, hi in (("long", "sum.0", f"pool.{axis}.split"), ("short", f"pool.{axis}.split", "sum.end")):
            y = f"{x}.{axis}.{group}"
            nodes += [n("Slice", [part, lo, hi, ax], [f"{y}.part"]),
                      n("Reshape", [f"{y}.part", f"pool.{axis}.{group}"], [f"{y}.cells"]),
                      n("ReduceMax", [f"{y}.cells", ax], [y], keepdims=0)]
            pooled.append(y)
        nodes.append(n("Concat", pooled, [into], axis=-2 if axis == "rows" else -1))
    return nodes


def row_nodes(p: str, s: str, *, rows: str, argmax: str, tag: str) -> list:
    """`rows` [H, R, 6] and `argmax` [H, R, 1] of weights `p` with scores `s` (the input `rowidx` [H, R, 3]:
    each row's own, previous and next key)."""
    from onnx import helper

    n, x = helper.make_node, f"sum.{tag}"
    return [
        n("Slice", [p, "sum.0", "sum.1", "sum.ax_last"], [f"{x}.first"]),
        n("GatherElements", [p, "rowidx"], [f"{x}.diag3"], axis=-1),
        n("ArgMax", [p], [argmax], axis=-1, keepdims=1),
        n("GatherElements", [p, argmax], [f"{x}.max"], axis=-1),
        n("GatherElements", [s, argmax], [f"{x}.smax"], axis=-1),
        n("Mul", [p, s], [f"{x}.ps"]),
        n("ReduceSum", [f"{x}.ps", "sum.ax_last"], [f"{x}.sum_ps"], keepdims=1),
        n("Log", [f"{x}.max"], [f"{x}.log_max"]),
        n("Sub", [f"{x}.sum_ps", f"{x}.smax"], [f"{x}.centred"]),
        n("Add", [f"{x}.centred", f"{x}.log_max"], [f"{x}.plogp"]),
        n("Concat", [f"{x}.first", f"{x}.diag3", f"{x}.plogp", f"{x}.max"], [rows], axis=-1),
    ]


def pool_shapes(heads: int, rows: tuple[int, int, int], keys: tuple[int, int, int], n_keys: int) -> dict[str, np.ndarray]:
    """The pooling inputs for a block of rows × `n_keys` keys whose row cells are `rows` = (count,
    b, long) — `long` cells of b rows then count - long of b - 1 — and key cells `keys` likewise."""
    out = {}
    for axis, (count, b, long), other in (("rows", rows, n_keys), ("keys", keys, None)):
        short_b = max(b - 1, 1)  # b = 1: every cell is long, the short group is empty
        if axis == "rows":
            long_shape, short_shape = [heads, long, b, other], [heads, count - long, short_b, other]
        else:
            long_shape, short_shape = [heads, rows[0], long, b], [heads, rows[0], count - long, short_b]
        out[f"pool.{axis}.split"] = np.array([long * b], np.int64)
        out[f"pool.{axis}.long"] = np.array(long_shape, np.int64)
        out[f"pool.{axis}.short"] = np.array(short_shape, np.int64)
    return out
