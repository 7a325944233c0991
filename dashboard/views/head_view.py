"""The head view (after BertViz's head view) and a heatmap of the same head.

Head view: query tokens on the left, key tokens on the right, a line from each query to its
TOP_K strongest keys (none under MIN_LINE_WEIGHT); opacity and width follow the weight. The figure
is as tall as the tokens need and scrolls inside a bounded box. Hovering a token (head_view.js)
shows all of its lines with their weights, from the matrix already in the page.
Beyond FOCUS_MAX_TOKENS tokens it is a focus window: FOCUS_QUERIES queries around the focused one
and the keys their lines reach, in text order with the gaps marked; the server sends every query's
lines (``layout.meta.focus``) and head_view.js draws the window, moved from the heatmap or the
hover view without a server request.
Heatmap: queries × keys with token labels, the full T×T matrix of the selected head. Beyond
HEATMAP_MAX_CELLS tokens it is drawn max-pooled (each cell the largest weight of a block of b×b
queries × keys, b = ceil(T / HEATMAP_MAX_CELLS): a one-token diagonal stays visible) on token-index
axes, and the full matrix travels beside it (:func:`matrix_payload`, the ``head-matrix`` store) for
the browser: the hover names the exact (query, key) under the pointer and its weight, and the hover
and head views read their rows there.
A generated text's answer: its tokens' labels in teal and a dashed line where it starts (head view:
across both columns; heatmap: on both axes).
"""

from __future__ import annotations

import base64

import numpy as np

from .constants import (
    ANSWER_COLOR,
    COLORSCALE,
    FOCUS_MAX_TOKENS,
    FOCUS_QUERIES,
    FONT,
    HEATMAP_MAX_CELLS,
    INK,
    LINE_COLOR,
    MIN_LINE_WEIGHT,
    SPECIAL_COLOR,
    TOKEN_ROW_PX,
    TOP_K,
)
from .hover_view import display_token
from .model_view import typed_array

LINE_BINS = 6


def plotly_text(text: str) -> str:
    """Escape text for Plotly labels (Plotly reads a small HTML subset; tokens are plain text)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def top_k_pairs(matrix: np.ndarray, k: int = TOP_K, floor: float = MIN_LINE_WEIGHT) -> list[tuple[int, int, float]]:
    """(query, key, weight) of each query's k strongest keys with weight >= floor."""
    m = np.asarray(matrix, dtype=np.float32)
    T = m.shape[0]
    k = min(k, T)
    idx = np.argpartition(-m, k - 1, axis=1)[:, :k]
    return [(q, int(key), float(m[q, key])) for q in range(T) for key in idx[q] if m[q, key] >= floor]


def line_bins(bins: int = LINE_BINS) -> list[dict]:
    """The lines' weight bins and how each is drawn (width and opacity follow the bin's middle)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    return [{"lo": float(lo), "hi": float(hi), "width": float(0.8 + 2 * (lo + hi)),
             "opacity": float(min(1.0, 0.15 + 0.85 * (lo + hi) / 2))} for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


def line_traces(pairs: list[tuple[int, int, float]], color: str, *, bins: int = LINE_BINS, name: str = "",
                group: str | None = None) -> list[dict]:
    """Query→key lines, one trace per weight bin (the trace count does not grow with T)."""
    styles = line_bins(bins)
    out: list[dict] = []
    for b, style in enumerate(styles):
        lo, hi = style["lo"], style["hi"]
        xs: list = []
        ys: list = []
        for q, key, w in pairs:
            if lo <= w < hi or (b == bins - 1 and w >= hi):
                xs += [0.0, 1.0, None]
                ys += [-q, -key, None]
        if not xs:
            continue
        tr = {"type": "scatter", "mode": "lines", "x": xs, "y": ys, "hoverinfo": "skip", "showlegend": False,
              "line": {"color": color, "width": style["width"]}, "opacity": style["opacity"],
              "name": name or f"w {lo:.2f}–{hi:.2f}"}
        if group is not None:
            tr["legendgroup"] = group
        out.append(tr)
    return out


def token_color(i: int, tok: dict, answer_start: int | None) -> str:
    """Special tokens in purple, a generated answer's tokens in teal, the rest in ink."""
    if tok.get("special"):
        return SPECIAL_COLOR
    return ANSWER_COLOR if answer_start is not None and i >= answer_start else INK


def answer_line(answer_start: int | None, T: int) -> list[dict]:
    """A dashed line across both token columns before a generated answer's first token."""
    if answer_start is None or not 0 < answer_start < T:
        return []
    y = -(answer_start - 0.5)
    return [{"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": y, "y1": y, "name": "answer",
             "line": {"color": ANSWER_COLOR, "width": 1.5, "dash": "dash"}, "layer": "below"}]


def token_columns(tokens: list[dict], answer_start: int | None = None) -> list[dict]:
    """Two columns of token labels: queries (left) and keys (right)."""
    T = len(tokens)
    labels = [plotly_text(display_token(t)) for t in tokens]
    colors = [token_color(i, t, answer_start) for i, t in enumerate(tokens)]
    base = {"type": "scatter", "mode": "markers+text", "hoverinfo": "none", "showlegend": False, "cliponaxis": False,
            "marker": {"size": 9, "color": colors, "line": {"width": 1, "color": "#ffffff"}},
            "textfont": {"color": colors, "size": 13}, "y": [-i for i in range(T)], "text": labels}
    return [{**base, "x": [0.0] * T, "textposition": "middle left", "name": "query"},
            {**base, "x": [1.0] * T, "textposition": "middle right", "name": "key"}]


def columns_layout(T: int, meta: dict, *, legend: bool = False) -> dict:
    """Layout of a two-column token figure, TOKEN_ROW_PX per token (its box scrolls)."""
    top = 30 if not legend else 72  # room for a two-row legend of heads
    return {
        "meta": meta, "height": top + 12 + TOKEN_ROW_PX * max(T, 4), "autosize": True,
        "margin": {"l": 100, "r": 100, "t": top, "b": 8}, "font": FONT,
        "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
        "xaxis": {"visible": False, "range": [-0.05, 1.05], "fixedrange": True},
        "yaxis": {"visible": False, "range": [-(T - 1) - 0.6, 0.6], "fixedrange": True},
        "annotations": [{"text": t, "x": x, "y": 1.0, "xref": "x", "yref": "paper", "yanchor": "bottom",
                         "showarrow": False, "font": {"color": "#666"}} for t, x in (("query", 0), ("key", 1))],
        "dragmode": False, "hovermode": False, "showlegend": legend,
    }


def default_query(tokens: list[dict]) -> int:
    """The query in focus before any hover: the last token that is not special (else the last)."""
    for i in range(len(tokens) - 1, -1, -1):
        if not tokens[i].get("special"):
            return i
    return len(tokens) - 1


def focused_query(focus: dict | None, key: str, T: int, tokens: list[dict]) -> int:
    """The query the user last focused on this text (the page's ``focus`` store), else the default."""
    q = (focus or {}).get("query")
    if (focus or {}).get("key") == key and isinstance(q, int) and 0 <= q < T:
        return q
    return default_query(tokens)


def head_view_figure(matrix: np.ndarray, tokens: list[dict], *, layer: int, head: int,
                     query: int | None = None, answer_start: int | None = None) -> dict:
    """Head view: queries (left) → keys (right), each query's TOP_K strongest keys. Beyond
    FOCUS_MAX_TOKENS tokens: empty token columns (their style) and a gap trace, and in ``layout.meta.focus`` every query's lines (flat
    [q, k, w, …]), the line bins and the focused query (``query``), from which head_view.js draws the
    focus window."""
    T = len(tokens)
    meta = {"layer": layer, "head": head, "tokens": T, "view": "head", "answer": answer_start}
    pairs = top_k_pairs(matrix)
    if T <= FOCUS_MAX_TOKENS:
        layout = columns_layout(T, meta)
        layout["shapes"] = answer_line(answer_start, T)
        return {"data": line_traces(pairs, LINE_COLOR) + token_columns(tokens, answer_start), "layout": layout}
    meta["focus"] = {"query": default_query(tokens) if query is None else query, "queries": FOCUS_QUERIES,
                     "bins": line_bins(), "pairs": [v for q, k, w in pairs for v in (q, k, round(w, 4))]}
    layout = columns_layout(FOCUS_QUERIES, meta)
    layout["margin"]["t"] = 60  # room for the window's caption (the title, set by head_view.js)
    gaps = {"type": "scatter", "mode": "text", "x": [], "y": [], "text": [], "name": "gap", "hoverinfo": "none",
            "showlegend": False, "cliponaxis": False, "textposition": "middle right",
            "textfont": {"color": "#888", "size": 11}}
    return {"data": [*token_columns([]), gaps], "layout": layout}


def axis_labels(tokens: list[dict]) -> list[str]:
    """Unique category labels "i token" (the same token text can occur twice)."""
    return [f"{i} {display_token(t)}" for i, t in enumerate(tokens)]


WEIGHTING_NAMES = {"attention": "weight", "value_norm": "weight × value norm"}


def pool_max(matrix: np.ndarray, cells: int = HEATMAP_MAX_CELLS) -> tuple[np.ndarray, int]:
    """The T×T matrix max-pooled to at most ``cells`` a side, and the block size b (1: as it is): cell
    (i, j) is the largest weight of queries [i·b, i·b+b) × keys [j·b, j·b+b) (the last block may be
    shorter)."""
    m = np.asarray(matrix, dtype=np.float32)
    T = m.shape[0]
    b = max(1, -(-T // cells))
    if b == 1:
        return m, 1
    n = -(-T // b)
    padded = np.full((n * b, n * b), -np.inf, dtype=np.float32)
    padded[:T, :T] = m
    return padded.reshape(n, b, n, b).max(axis=(1, 3)), b


def matrix_payload(matrix: np.ndarray, *, key: str, layer: int, head: int) -> dict:
    """The full T×T float32 matrix for the browser (the ``head-matrix`` store) when the heatmap is pooled:
    base64 little-endian float32, only the lower triangle (row i: keys 0..i, ``"tril"``) when every weight
    above the diagonal is 0 (a causal head: half the bytes)."""
    m = np.asarray(matrix, dtype=np.float32)
    tril = not np.triu(m, 1).any()
    values = m[np.tril_indices(m.shape[0])] if tril else m.ravel()
    return {"key": key, "layer": layer, "head": head, "T": int(m.shape[0]), "tril": bool(tril),
            "f4": base64.b64encode(np.ascontiguousarray(values, dtype="<f4").tobytes()).decode()}


def heatmap_figure(matrix: np.ndarray, tokens: list[dict], *, layer: int, head: int, size: int = 420,
                   weighting: str = "attention", answer_start: int | None = None,
                   max_cells: int = HEATMAP_MAX_CELLS) -> dict:
    """The head's full T×T matrix, queries as rows (top to bottom), keys as columns, labelled; the
    colour bar names the weighting (``"value_norm"``: rows of α_ij·‖f(x_j)‖ renormalised); a
    generated answer's start as dashed lines on both axes. Beyond ``max_cells`` tokens the matrix is
    drawn max-pooled (:func:`pool_max`) on token-index axes, Plotly's own hover off: the page's hover
    (head_view.js) reads the exact weight from the full matrix (``layout.meta.pooled``: the block size)."""
    T = len(tokens)
    edge = answer_start - 0.5 if answer_start is not None and 0 < answer_start < T else None
    style = {"type": "line", "line": {"color": ANSWER_COLOR, "width": 1.5, "dash": "dash"}, "name": "answer"}
    shapes = [] if edge is None else [
        {**style, "xref": "x", "yref": "paper", "x0": edge, "x1": edge, "y0": 0, "y1": 1},
        {**style, "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": edge, "y1": edge}]
    name = WEIGHTING_NAMES[weighting]
    z, block = pool_max(matrix, max_cells) if max_cells < T else (np.asarray(matrix, dtype=np.float32), 1)
    trace = {"type": "heatmap", "z": typed_array(z), "zmin": 0.0, "zmax": 1.0, "colorscale": COLORSCALE,
             "name": "head", "colorbar": {"thickness": 10, "len": 0.8, "title": {"text": name, "side": "right"}}}
    axis = {"tickfont": {"size": 10}, "automargin": False}
    if block == 1:
        labels = axis_labels(tokens)
        trace.update(x=labels, y=labels, hovertemplate=f"query %{{y}}<br>key %{{x}}<br>{name} %{{z:.3f}}<extra></extra>")
        xaxis = {**axis, "title": {"text": "key"}, "type": "category", "tickangle": -60}
        yaxis = {**axis, "title": {"text": "query"}, "type": "category", "autorange": "reversed"}
    else:  # cell centres on token indexes: the axes' coordinates are tokens, whatever the block
        centre = (block - 1) / 2
        trace.update(x0=centre, dx=block, y0=centre, dy=block, hoverinfo="none")
        xaxis = {**axis, "title": {"text": f"key (token; cells of {block}×{block})"}, "type": "linear",
                 "range": [-0.5, T - 0.5], "showgrid": False, "zeroline": False}
        yaxis = {**axis, "title": {"text": "query (token)"}, "type": "linear", "range": [T - 0.5, -0.5],
                 "showgrid": False, "zeroline": False}
    return {
        "data": [trace],
        "layout": {
            "meta": {"layer": layer, "head": head, "tokens": T, "view": "heatmap", "weighting": weighting,
                     "pooled": block},
            "height": size, "autosize": True, "font": FONT,
            # token labels need room below and left; a pooled heatmap's token indexes much less
            "margin": {"l": 90, "r": 10, "t": 28, "b": 80} if block == 1 else {"l": 56, "r": 10, "t": 28, "b": 48},
            "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
            "xaxis": xaxis, "yaxis": {**yaxis, "scaleanchor": "x", "constrain": "domain"},
            "dragmode": "zoom", "shapes": shapes,
        },
    }
