"""The query · key view (successor of BertViz's neuron view): why the selected head attends.

For one query token i of the selected head it shows, for every key token j,
- the softmax weight α_ij the model computed (bars, top),
- the score before softmax s_ij = q_i·k_j·scale (markers, top, right axis; a line beyond
  FOCUS_MAX_TOKENS tokens, where markers would cover the bars),
- the per-dimension products q_i[d]·k_j[d]·scale as a heatmap (dimensions × keys, bottom): a
  column sums to that key's score, so one sees which dimensions make the match.
Keys the query may not see (the future of a causal model) are gaps.

Python side: the figure for the default query (the last token: under a causal mask it sees every
key) and the head's q and k for the page (``qk_payload``), fetched once when the head is selected.
Browser side (qk_view.js): hovering a query token in the head view or a row of the heatmap redraws
this view for that query from the payload already in the page (no server request), as a Patch.
"""

from __future__ import annotations

import base64

import numpy as np

from .constants import FOCUS_MAX_TOKENS, FONT, INK, LINE_COLOR, QK_COLORSCALE, QK_SCORE_COLOR
from .head_view import axis_labels, default_query

CAPTION = ("Why this head attends: the query of the hovered token meets every key; a key's score is the sum "
           "of the products per dimension (heatmap), the softmax turns scores into the weights (bars).")


def query_parts(queries: np.ndarray, keys: np.ndarray, scale: float, query: int, causal: bool) -> dict:
    """Scores, softmax weights and per-dimension products of one query against every key.

    ``queries``/``keys``: [T, d] float32 as the attention used them (after rotary embedding).
    Masked keys (j > query when causal) are NaN in ``scores`` and ``products`` and 0 in ``weights``.
    """
    q = np.asarray(queries, dtype=np.float32)[query]
    k = np.asarray(keys, dtype=np.float32)
    products = (k * q[None, :] * np.float32(scale)).T  # [d, T]
    scores = products.sum(axis=0, dtype=np.float64)
    visible = np.ones(k.shape[0], dtype=bool)
    if causal:
        visible[query + 1:] = False
    e = np.where(visible, np.exp(scores - scores[visible].max()), 0.0)
    products = np.where(visible[None, :], products, np.nan).astype(np.float32)
    return {"scores": np.where(visible, scores, np.nan), "weights": e / e.sum(), "products": products}


def f32_b64(a: np.ndarray) -> str:
    """Little-endian float32 bytes, base64 (the page decodes them into a Float32Array)."""
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode()


def qk_payload(queries: np.ndarray, keys: np.ndarray, scale: float, *, key: str, layer: int, head: int,
               causal: bool) -> dict:
    """What the browser needs to redraw the view for any query: q and k [T, d] as base64 float32."""
    q = np.asarray(queries, dtype=np.float32)
    return {"key": key, "layer": layer, "head": head, "T": int(q.shape[0]), "d": int(q.shape[1]),
            "scale": float(scale), "causal": bool(causal), "q": f32_b64(q), "k": f32_b64(keys)}


def _title(labels: list[str], query: int, weights: np.ndarray) -> str:
    top = int(np.argmax(weights))
    return f"query {labels[query]} → strongest key {labels[top]} ({weights[top]:.2f})"


def qk_view_figure(queries: np.ndarray, keys: np.ndarray, scale: float, tokens: list[dict], *, layer: int,
                   head: int, causal: bool, query: int | None = None, height: int = 420) -> dict:
    """The figure for one query (default: :func:`default_query`); qk_view.js patches it on hover."""
    query = default_query(tokens) if query is None else query
    parts = query_parts(queries, keys, scale, query, causal)
    labels = axis_labels(tokens)
    d = int(np.asarray(queries).shape[1])
    lim = float(np.nanmax(np.abs(parts["products"]))) if np.isfinite(parts["products"]).any() else 1.0
    return {
        "data": [
            {"type": "bar", "x": labels, "y": parts["weights"].tolist(), "name": "weight", "yaxis": "y",
             "marker": {"color": LINE_COLOR}, "hovertemplate": "key %{x}<br>weight %{y:.3f}<extra></extra>"},
            # a long text's scores as a thin line: 2,048 diamonds would cover the bars
            {"type": "scatter", "mode": "markers" if len(tokens) <= FOCUS_MAX_TOKENS else "lines", "x": labels,
             "y": _nulls(parts["scores"]), "name": "score", "yaxis": "y3", "line": {"color": QK_SCORE_COLOR, "width": 1},
             "marker": {"color": QK_SCORE_COLOR, "size": 6, "symbol": "diamond"},
             "hovertemplate": "key %{x}<br>score before softmax %{y:.2f}<extra></extra>"},
            {"type": "heatmap", "x": labels, "y": list(range(d)), "z": _nulls(parts["products"]),
             "xaxis": "x", "yaxis": "y2", "zmid": 0.0, "zmin": -lim, "zmax": lim, "colorscale": QK_COLORSCALE,
             "name": "q⊙k", "hoverongaps": False,
             "hovertemplate": "dimension %{y}<br>key %{x}<br>q·k part %{z:.3f}<extra></extra>",
             "colorbar": {"thickness": 10, "len": 0.62, "y": 0.0, "yanchor": "bottom",
                          "title": {"text": "q[d]·k[d]·scale", "side": "right"}}},
        ],
        "layout": {
            "meta": {"layer": layer, "head": head, "tokens": len(tokens), "view": "qk", "query": query,
                     "labels": labels, "dims": d},
            "height": height, "autosize": True, "font": FONT, "showlegend": False, "bargap": 0.15,
            "margin": {"l": 50, "r": 60, "t": 30, "b": 80}, "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
            "title": {"text": _title(labels, query, parts["weights"]), "font": {"size": 12, "color": INK},
                      "x": 0.0, "xanchor": "left", "y": 0.99},
            "xaxis": {"type": "category", "tickangle": -60, "tickfont": {"size": 10}, "anchor": "y2"},
            "yaxis": {"domain": [0.68, 1.0], "range": [0, 1], "title": {"text": "weight"}, "fixedrange": True},
            "yaxis3": {"overlaying": "y", "side": "right", "title": {"text": "score"}, "fixedrange": True,
                       "showgrid": False, "zeroline": False},
            "yaxis2": {"domain": [0.0, 0.62], "title": {"text": "dimension"}, "autorange": "reversed"},
            "dragmode": "zoom", "hovermode": "closest",
        },
    }


def _nulls(a: np.ndarray) -> list:
    """NaN → None (JSON null: Plotly draws a gap)."""
    a = np.round(np.asarray(a, dtype=np.float64), 5)
    return np.where(np.isnan(a), None, a).tolist()
