"""The model view (after BertViz's model view): every head of every layer as one small tile.

Python side: the service's per-head thumbnails (``detail=grid``: at most 32×32 cells,
max-pooled over blocks of tokens so a one-token-wide diagonal survives) drawn as they are, in one
mosaic heatmap sent as a base64 typed array (Plotly's ``{dtype, bdata}``), tag badges and filter
veils. The data sent grows as L·H·min(T, 32)², never as L·H·T².
Browser side (model_view.js): the selected/cursor outlines, click → tile from the pointer's
coordinates, keyboard selection and the hover tooltip.

Traces: 0 mosaic heatmap, 1 tag badges, 2 selected-tile outline, 3 keyboard-cursor outline, 4 the
knocked-out tiles' crosses (knock-out, views/knockout_view.py).
Veils are layout shapes named ``dim-<layer>-<head>``; a generated answer's start, dotted lines named
``answer-row-<layer>`` and ``answer-col-<head>``.
"""

from __future__ import annotations

import base64

import numpy as np
import plotly.colors

from .constants import (
    ANSWER_COLOR,
    BADGE_COLOR,
    COLORSCALE,
    CURSOR_COLOR,
    DIM_FILL,
    FONT,
    GAP,
    INK,
    KNOCKOUT_COLOR,
    SELECT_COLOR,
    TILE_MAX_PX,
    TILE_MIN_PX,
    badge_xy,
)

# u2 mosaic: weights are round(w * SCALE), gaps are GAP_VALUE (drawn white). 0x5555 (bits 0101…) and not
# 0xFFFF: Dash's JSON writes each "/" of the base64 (six 1-bits in a row) as "\u002f", 6 bytes for 1, and a
# gap of all ones made a long text's model view 25 % larger. Steps of 1/21844 are finer than any colour.
GAP_VALUE = 0x5555
SCALE = GAP_VALUE - 1
MARGIN = {"l": 48, "r": 10, "t": 38, "b": 6}
BADGE_TRACE, SELECTED_TRACE, CURSOR_TRACE, KNOCKED_TRACE = 1, 2, 3, 4


def cell_edges(cells: list[list[int]]) -> list[int]:
    """Token index where each pooled cell starts, plus the token count at the end (for the tooltip)."""
    return [int(a) for a, _ in cells] + [int(cells[-1][1])]


def mosaic_u2(thumbs: np.ndarray) -> np.ndarray:
    """[L,H,c,c] → uint16 mosaic [L*(c+g)-g, H*(c+g)-g]; rows are layers × queries."""
    L, H, c, _ = thumbs.shape
    s = c + GAP
    out = np.full((L, s, H, s), GAP_VALUE, dtype=np.uint16)
    out[:, :c, :, :c] = np.rint(np.clip(thumbs, 0, 1) * SCALE).astype(np.uint16).transpose(0, 2, 1, 3)
    return out.reshape(L * s, H * s)[: L * s - GAP, : H * s - GAP]


def typed_array(a: np.ndarray) -> dict:
    """A numpy array as Plotly's typed-array spec (little-endian bytes, base64; shape "rows,cols")."""
    dtype = {"uint16": "u2", "float32": "f4", "uint8": "u1"}[a.dtype.name]
    return {"dtype": dtype, "bdata": base64.b64encode(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"))
                                                      .tobytes()).decode(), "shape": ",".join(map(str, a.shape))}


def colorscale() -> list:
    """Viridis over the weights 0–1, white for the gap value just above them."""
    stops = plotly.colors.get_colorscale(COLORSCALE)
    top = SCALE / GAP_VALUE
    return [[float(v) * top, c] for v, c in stops] + [[1.0, "#ffffff"]]


def tile_px(layers: int, heads: int, panel: dict | None) -> int:
    """Tile size on screen: the whole grid in the panel when its tiles stay at least TILE_MIN_PX;
    else tiles as wide as the panel allows (at least TILE_MIN_PX) and the panel scrolls down."""
    w = (panel or {}).get("width") or 640
    h = (panel or {}).get("height") or 640
    by_width = (w - MARGIN["l"] - MARGIN["r"] - 2) / heads
    by_height = (h - MARGIN["t"] - MARGIN["b"] - 2) / layers
    if by_height >= TILE_MIN_PX:  # the whole grid fits: as large as both sides allow
        return int(min(by_width, by_height, TILE_MAX_PX))
    return int(min(max(by_width, TILE_MIN_PX), TILE_MAX_PX))  # too tall: fill the width, scroll down


def legend_gradient() -> str:
    """CSS gradient of the colour scale, for the HTML legend under the grid."""
    stops = plotly.colors.get_colorscale(COLORSCALE)
    return "linear-gradient(to right, " + ", ".join(f"{c} {100 * float(v):.0f}%" for v, c in stops) + ")"


def dim_shapes(tags: list | None, tag: str | None, cells: int) -> list[dict]:
    """A white veil over every tile whose head does NOT carry ``tag`` (none when no tag is chosen)."""
    if not tag or not tags:
        return []
    s = cells + GAP
    return [{"type": "rect", "xref": "x", "yref": "y", "x0": head * s - 0.5, "x1": head * s + cells - 0.5,
             "y0": layer * s - 0.5, "y1": layer * s + cells - 0.5, "line": {"width": 0}, "fillcolor": DIM_FILL,
             "layer": "above", "name": f"dim-{layer}-{head}"}
            for layer, row in enumerate(tags) for head, ts in enumerate(row) if tag not in ts]


def answer_position(answer_start: int | None, cell_ranges: list[list[int]]) -> float | None:
    """Where a generated answer starts on a tile's axis (data units from the tile's first cell's
    centre): the edge before its first token, inside a pooled cell in proportion."""
    if not answer_start:
        return None
    for c, (a, b) in enumerate(cell_ranges):
        if a <= answer_start < b:
            return c - 0.5 + (answer_start - a) / (b - a)
    return None


def answer_shapes(answer_start: int | None, cell_ranges: list[list[int]], layers: int, heads: int) -> list[dict]:
    """A dashed line on every tile where the answer starts: across each layer's row of tiles (queries
    below it are the answer's) and down each head's column (keys right of it); L + H shapes."""
    p = answer_position(answer_start, cell_ranges)
    if p is None:
        return []
    cells = len(cell_ranges)
    s = cells + GAP
    style = {"type": "line", "xref": "x", "yref": "y", "line": {"color": ANSWER_COLOR, "width": 1.5, "dash": "dot"},
             "layer": "above"}
    rows = [{**style, "x0": -0.5, "x1": heads * s - GAP - 0.5, "y0": i * s + p, "y1": i * s + p, "name": f"answer-row-{i}"}
            for i in range(layers)]
    cols = [{**style, "y0": -0.5, "y1": layers * s - GAP - 0.5, "x0": h * s + p, "x1": h * s + p, "name": f"answer-col-{h}"}
            for h in range(heads)]
    return rows + cols


def badge_points(tags: list | None, cells: int) -> dict:
    """x, y and hover text of the badge trace: one dot per tagged head."""
    xs, ys, text = [], [], []
    for layer, row in enumerate(tags or []):
        for head, ts in enumerate(row):
            if ts:
                x, y = badge_xy(layer, head, cells + GAP, cells)
                xs.append(x)
                ys.append(y)
                text.append(f"layer {layer} · head {head}: {', '.join(ts)}")
    return {"x": xs, "y": ys, "text": text}


def outline_trace(name: str, color: str, dash: str) -> dict:
    """An empty rectangle outline; model_view.js fills in x/y for the selected tile or the cursor."""
    return {"type": "scatter", "mode": "lines", "x": [], "y": [], "name": name, "hoverinfo": "skip",
            "showlegend": False, "line": {"color": color, "width": 4, "dash": dash}, "cliponaxis": False}


def model_view_figure(thumbs: np.ndarray, cell_ranges: list[list[int]], *, model: str, key: str, tokens: list[str],
                      panel: dict | None = None, tags: list | None = None, tag_filter: str | None = None,
                      answer_start: int | None = None) -> dict:
    """The model view: one heatmap of the L×H thumbnails [L,H,t,t] (t ``cell_ranges`` of tokens, as
    the service pooled them), labelled; outlines are added by the browser. ``answer_start``: a
    generated answer's first token, marked by a dotted line on every tile."""
    L, H, cells, _ = thumbs.shape
    T = len(tokens)
    s = cells + GAP
    px = tile_px(L, H, panel)
    width = H * px + MARGIN["l"] + MARGIN["r"]
    height = L * px + MARGIN["t"] + MARGIN["b"]
    centers = [i * s + (cells - 1) / 2 for i in range(max(L, H))]
    return {
        "data": [
            {"type": "heatmap", "z": typed_array(mosaic_u2(thumbs)), "zmin": 0, "zmax": GAP_VALUE,
             "colorscale": colorscale(), "hoverinfo": "none", "name": "mosaic", "showscale": False},
            {"type": "scatter", "mode": "markers", **badge_points(tags, cells), "name": "tags",
             "hovertemplate": "%{text}<extra></extra>", "showlegend": False, "cliponaxis": False,
             "marker": {"size": 7, "color": BADGE_COLOR, "line": {"width": 1, "color": INK}}},
            outline_trace("selected", SELECT_COLOR, "solid"),
            outline_trace("cursor", CURSOR_COLOR, "dot"),
            {"type": "scatter", "mode": "markers", "x": [], "y": [], "name": "knocked out", "hoverinfo": "skip",
             "showlegend": False, "cliponaxis": False,
             "marker": {"symbol": "x-thin", "size": 18, "line": {"width": 3, "color": KNOCKOUT_COLOR}}},
        ],
        "layout": {
            "meta": {"model": model, "key": key, "layers": L, "heads": H, "tokens": T, "cells": cells, "tile": s,
                     "edges": cell_edges(cell_ranges), "labels": tokens, "scale": SCALE, "gap": GAP_VALUE},
            "width": int(width), "height": int(height), "autosize": False, "margin": MARGIN, "font": FONT,
            "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
            "xaxis": {"title": {"text": "head", "standoff": 2}, "side": "top", "tickmode": "array",
                      "tickvals": centers[:H], "ticktext": [str(h) for h in range(H)], "showgrid": False,
                      "zeroline": False, "range": [-0.5, H * s - GAP - 0.5], "constrain": "domain"},
            "yaxis": {"title": {"text": "layer", "standoff": 2}, "tickmode": "array", "tickvals": centers[:L],
                      "ticktext": [str(i) for i in range(L)], "showgrid": False, "zeroline": False,
                      "range": [L * s - GAP - 0.5, -0.5], "scaleanchor": "x", "constrain": "domain"},
            "shapes": dim_shapes(tags, tag_filter, cells) + answer_shapes(answer_start, cell_ranges, L, H),
            # A badge takes hover only when the pointer is on it (it lies inside its own tile).
            "hoverdistance": 4, "hovermode": "closest", "dragmode": "zoom", "uirevision": key,
        },
    }
