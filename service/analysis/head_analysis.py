"""Per-head statistics and pattern tags for one attention array [L, H, T, T] (rows are queries).

Scores (means over the query rows i that can show the pattern; for causal models row 0 is
ignored because it can only attend to itself):
- previous: A[i, i-1]            - first (sink): A[i, 0]          - self: A[i, i]
- next (bidirectional only): A[i, i+1]
- entropy: row entropy / log(number of keys the row may see), in [0, 1]
- max_weight / argmax: per query row, the largest weight and the key it goes to.
With the value norms n_j = ‖v_j W_O^h‖ (what token j passes on through head h; models exported
with q/k), over the query rows i that see token 0 and at least one other token (causal: i ≥ 1,
seeing keys 1..i; bidirectional: every row, seeing keys 1..T-1):
- first_norm: r_i = n_0 / median(n_j over the row's other visible keys j ≠ 0), averaged over rows —
  how much the first token passes on relative to a typical token of the row (1 = typical);
- sink: A[i, 0] · r_i averaged over rows — the attention to the first token, scaled by how much it
  passes on. Equal to `first` when the first token passes on as much as the others; near 0 for a
  head that pours its weight into a first token that passes on little (an attention "sink" that is
  mostly a no-op). Both are null without value norms or when no row qualifies.
Tags follow `THRESHOLDS` (every condition of a tag must hold); a head can carry several. The same thresholds are documented in README
and in the OpenAPI description, so what the dashboard marks is what the numbers say.
"""

from __future__ import annotations

import numpy as np

from ..common.half import to_float32

THRESHOLDS = {
    "previous-token": (("previous", ">", 0.5),),
    "first-token": (("first", ">", 0.6),),
    "self": (("self", ">", 0.5),),
    "next-token": (("next", ">", 0.5),),
    "broad": (("entropy", ">", 0.8),),
    "focused": (("entropy", "<", 0.2),),
    # a first-token head whose first token passes on less than half of what a typical token does
    "sink": (("first", ">", 0.6), ("first_norm", "<", 0.5)),
    # profile-only scores, from a random token sequence repeated twice
    "induction": (("induction", ">", 0.3),),
    "duplicate-token": (("duplicate", ">", 0.3),),
}
VALUE_TAGS = ("sink",)  # tags that need value norms (models exported with q/k)
TAGS = tuple(tag for tag in THRESHOLDS if tag not in VALUE_TAGS)  # tags of the attention pattern alone
ALL_TAGS = tuple(THRESHOLDS)
SCORES = ("previous", "first", "self", "next", "entropy", "first_norm", "sink")


def _mean_over(values: np.ndarray, rows: np.ndarray) -> np.ndarray | None:
    """Mean over the selected query rows of [L, H, T] values; None when no row qualifies."""
    if rows.size == 0:
        return None
    return values[..., rows].mean(-1, dtype=np.float64)


def first_token_ratio(value_norms: np.ndarray, causal: bool) -> np.ndarray | None:
    """r [..., T]: n_0 / median of the other keys row i sees (nan for rows that see no other key);
    None when no row sees another key (T = 1)."""
    vn = np.asarray(value_norms, dtype=np.float64)
    t = vn.shape[-1]
    if t < 2:
        return None
    if causal:
        medians = np.full(vn.shape, np.nan)
        medians[..., 1:] = prefix_medians(vn[..., 1:])
    else:
        medians = np.repeat(np.median(vn[..., 1:], axis=-1, keepdims=True), t, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(medians > 0, vn[..., :1] / medians, np.nan)


def prefix_medians(x: np.ndarray) -> np.ndarray:
    """m[..., k] = np.median(x[..., :k + 1], axis=-1) for every k, in O(n·m²) memory moves instead of
    m median calls: each series' values are replaced by their ranks, and the ranks of all series,
    offset by series (key = series · m + rank, exact integers), are kept in one sorted array into
    which step k inserts every series' k-th key; series s then holds positions s·(k+1) … s·(k+1)+k,
    in order. Equal to np.median's result (the two middle values averaged as (a + b) / 2)."""
    shape = x.shape
    m = shape[-1]
    flat = np.asarray(x, dtype=np.float64).reshape(-1, m)
    n = flat.shape[0]
    order = np.argsort(flat, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(m), axis=1)
    ordered = np.take_along_axis(flat, order, axis=1).ravel()  # series s's values sorted: ordered[s·m + rank]
    keys = ranks + np.arange(n)[:, None] * m
    held = np.empty(0, dtype=keys.dtype)
    out = np.empty((n, m))
    starts = np.arange(n)
    for k in range(m):
        held = np.insert(held, np.searchsorted(held, keys[:, k]), keys[:, k])
        base = starts * (k + 1)
        low, high = ordered[held[base + k // 2]], ordered[held[base + (k + 1) // 2]]
        out[:, k] = (low + high) / 2
    return out.reshape(shape)


ROWS = ("first", "self", "previous", "next", "plogp", "max")  # per query row i, see `row_values`


def row_values(att: np.ndarray) -> np.ndarray:
    """float32 [..., T, 6] per query row of weights [..., T, T]: A[i, 0], A[i, i], A[i, i-1], A[i, i+1]
    (indices clamped into range; the rows that use them are chosen in `head_scores`), Σ_j A[i, j]·log A[i, j]
    (0·log 0 = 0) and max_j A[i, j] — the same values service/runtime/attention_summary.py computes in a graph."""
    a = np.asarray(att, dtype=np.float32)
    t = a.shape[-1]
    i = np.arange(t)
    plogp = np.log(a, where=a > 0, out=np.zeros_like(a))  # 0·log 0 counts as 0; one float32 buffer
    plogp *= a
    return np.stack([a[..., 0], a[..., i, i], a[..., i, np.maximum(i - 1, 0)], a[..., i, np.minimum(i + 1, t - 1)],
                     plogp.sum(-1, dtype=np.float64).astype(np.float32), a.max(-1)], axis=-1)


def head_scores(att: np.ndarray | None, causal: bool, value_norms: np.ndarray | None = None, *,
                ratio: np.ndarray | None = None, rows: np.ndarray | None = None) -> dict[str, np.ndarray | None]:
    """The pattern scores, each [L, H] (None where the text is too short to show it, and first_norm /
    sink without value norms [L, H, T]), of weights `att` [L, H, T, T] or of their `rows` (`row_values`).
    `ratio`: first_token_ratio(value_norms) when already computed."""
    r = row_values(att) if rows is None else rows
    t = r.shape[-2]
    first_row = 1 if causal else 0
    queries = np.arange(first_row, t)
    visible = np.arange(1, t + 1) if causal else np.full(t, t)  # keys row i may see
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -r[..., 4].astype(np.float64) / np.log(visible)  # rows seeing one key: nan, never selected
    if ratio is None and value_norms is not None:
        ratio = first_token_ratio(value_norms, causal)
    return {
        "previous": _mean_over(r[..., 2], np.arange(max(first_row, 1), t)),
        "first": _mean_over(r[..., 0], queries),
        "self": _mean_over(r[..., 1], queries),
        "next": None if causal else _mean_over(r[..., 3], np.arange(0, t - 1)),
        "entropy": _mean_over(entropy, queries[visible[queries] > 1]),
        "first_norm": None if ratio is None else _mean_over(ratio, queries),
        "sink": None if ratio is None else _mean_over(r[..., 0] * ratio, queries),
    }


def tags_for(scores: dict[str, np.ndarray | None], shape: tuple[int, int]) -> list[list[list[str]]]:
    """[L][H] lists of tag names whose threshold the head's score passes."""
    tags: list[list[list[str]]] = [[[] for _ in range(shape[1])] for _ in range(shape[0])]
    for tag, conditions in THRESHOLDS.items():
        hit = np.ones(shape, dtype=bool)
        for score, op, limit in conditions:
            values = scores.get(score)
            if values is None:
                hit[:] = False
                break
            hit &= values > limit if op == ">" else values < limit
        for layer, head in zip(*np.nonzero(hit), strict=True):
            tags[layer][head].append(tag)
    return tags


def _rounded(values: np.ndarray | None) -> list | None:
    """Rounded in float64, so JSON gets the short decimal (0.1234, not float32's 0.12340000271797180)."""
    return None if values is None else np.round(np.asarray(values, dtype=np.float64), 4).tolist()


def heads_stats(att: np.ndarray, causal: bool, value_norms: np.ndarray | None = None) -> dict:
    """The API's `heads_stats` of weights [L, H, T, T]: one layer at a time in float32 (float16 results
    of long texts converted by table, see service/common/half.py), so a 512-token text needs room for one
    layer, not all of them."""
    rows, argmax = [], []
    buf = np.empty((1, *att.shape[1:]), dtype=np.float32)  # one layer, reused (no fresh pages per layer)
    for layer in range(att.shape[0]):
        a = to_float32(att[layer:layer + 1], out=buf)
        rows.append(row_values(a))
        argmax.append(a.argmax(-1))
    return stats_from_rows(np.concatenate(rows), np.concatenate(argmax), causal, value_norms)


def stats_from_rows(rows: np.ndarray, argmax: np.ndarray, causal: bool, value_norms: np.ndarray | None = None) -> dict:
    """The API's `heads_stats` — [L][H] scores, per-query max weight and argmax key, and tags — from the
    row values [L, H, T, 6] (`row_values`, or computed from queries and keys by
    service/runtime/attention_kernel.py) and each row's argmax key [L, H, T]."""
    scores = head_scores(None, causal, value_norms, rows=rows)
    return {
        "scores": {name: _rounded(values) for name, values in scores.items()},
        "max_weight": _rounded(rows[..., 5]),  # [L][H][T]
        "argmax": np.asarray(argmax).tolist(),  # [L][H][T]
        "tags": tags_for(scores, rows.shape[:2]),
        "thresholds": thresholds_doc(),
    }


def repeat_scores(att: np.ndarray, offset: int, length: int) -> dict[str, np.ndarray]:
    """Induction and duplicate-token scores on `prefix + r + r` (r of `length` tokens at `offset`).

    For a query in the second copy at position i, the previous occurrence of its token sits at
    i - length (duplicate-token) and the token after that occurrence at i - length + 1 (induction).
    """
    a = np.asarray(att, dtype=np.float64)
    queries = np.arange(
        offset + length + 1, offset + 2 * length
    )  # the first query of the copy has no "after"
    return {
        "induction": a[..., queries, queries - length + 1].mean(-1),
        "duplicate": a[..., queries, queries - length].mean(-1),
    }


def thresholds_doc() -> dict[str, str]:
    """Human-readable thresholds, e.g. {"previous-token": "previous > 0.5", "sink": "first > 0.6 and first_norm < 0.5"}."""
    return {tag: " and ".join(f"{score} {op} {limit}" for score, op, limit in conditions)
            for tag, conditions in THRESHOLDS.items()}
