"""The layer view (after BertViz's head view with all heads of a layer): every head of the
selected layer overlaid in its own colour, each query's TOP_K strongest keys per head.
Heads are switched on and off in the legend (a click toggles one head, a double click isolates it).
Beyond LAYER_MAX_TOKENS tokens it is not drawn (:func:`layer_too_long` says so): it would fetch every
head's full matrix and draw two columns of T labels.
"""

from __future__ import annotations

import numpy as np

from .constants import FONT, HEAD_COLORS, LAYER_MAX_TOKENS
from .head_view import columns_layout, line_traces, token_columns, top_k_pairs

LAYER_BINS = 3


def layer_view_figure(layer_att: np.ndarray, tokens: list[dict], *, layer: int, selected_head: int) -> dict:
    """[H,T,T] of one layer → one legend entry (and group of line traces) per head."""
    H = layer_att.shape[0]
    T = len(tokens)
    data: list[dict] = []
    for h in range(H):
        color = HEAD_COLORS[h % len(HEAD_COLORS)]
        traces = line_traces(top_k_pairs(layer_att[h]), color, bins=LAYER_BINS, name=f"head {h}", group=f"head {h}")
        if not traces:  # keep a legend entry even for a head with nothing to draw
            traces = [{"type": "scatter", "mode": "lines", "x": [], "y": [], "name": f"head {h}",
                       "legendgroup": f"head {h}", "line": {"color": color}}]
        traces[-1]["showlegend"] = True
        data += traces
    data += token_columns(tokens)
    layout = columns_layout(T, {"layer": layer, "heads": H, "tokens": T, "view": "layer",
                                "selected": selected_head}, legend=True)
    layout["legend"] = {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "top", "yref": "container",
                        "font": {"size": 11}, "itemclick": "toggle", "itemdoubleclick": "toggleothers"}
    return {"data": data, "layout": layout}


def layer_too_long(tokens: int, *, layer: int, selected_head: int) -> dict:
    """The layer view of a text beyond LAYER_MAX_TOKENS: a note in its place (with the meta of the layer it
    stands for, so that the page knows which head's views are complete)."""
    note = (f"The layer view draws texts of up to {LAYER_MAX_TOKENS} tokens (this one has {tokens}):<br>"
            "the head view's focus window and the heatmap show the selected head.")
    return {"data": [], "layout": {
        "meta": {"layer": layer, "tokens": tokens, "view": "layer", "selected": selected_head, "too_long": True},
        "height": 80, "margin": {"l": 10, "r": 10, "t": 10, "b": 10}, "font": FONT,
        "xaxis": {"visible": False}, "yaxis": {"visible": False}, "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
        "annotations": [{"text": note, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5,
                         "font": {"color": "#666", "size": 12}}]}}
