"""Plotly figures as plain dicts: the model-view mosaic and the head-view base figure.

The model view is ONE heatmap: every head's T×T matrix is a tile of a mosaic with one-cell gaps,
layers as rows and heads as columns, a single shared colour scale (viridis, 0–1). Drawing one
heatmap of ~100k cells takes a fraction of the time of 270 subplots. The head view draws tokens in
two columns and the query→key lines binned by weight (one trace per bin, so the trace count does
not grow with T²); the per-token hover state is built in the browser (assets/headgaze.js).
"""

from __future__ import annotations

import numpy as np

COLORSCALE = "Viridis"  # perceptually uniform and colour-blind safe
GAP = 1  # empty cells between tiles
SELECT_COLOR = "#ff1744"
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}


def display_token(tok: dict) -> str:
    """How a token is shown: special tokens by name, whitespace made visible."""
    text = tok.get("text", "")
    if tok.get("special"):
        return text
    return text.replace("\n", "⏎").replace("\t", "⇥") or "∅"


def plotly_text(text: str) -> str:
    """Escape text for Plotly labels (Plotly reads a small HTML subset; tokens are plain text)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def tile_size(tokens: int) -> int:
    """Cells per tile including the gap."""
    return tokens + GAP


def mosaic(att: np.ndarray) -> np.ndarray:
    """[L,H,T,T] → 2-D mosaic [L*(T+g)-g, H*(T+g)-g] with NaN gaps (float32)."""
    L, H, T, _ = att.shape
    s = tile_size(T)
    out = np.full((L, s, H, s), np.nan, dtype=np.float32)
    out[:, :T, :, :T] = att.transpose(0, 2, 1, 3)  # L, Tq, H, Tk
    return out.reshape(L * s, H * s)[: L * s - GAP, : H * s - GAP]


def selection_shape(layer: int, head: int, tokens: int, *, dashed: bool = False, name: str = "selected") -> dict:
    """Rectangle around one tile (in data coordinates of the mosaic)."""
    s = tile_size(tokens)
    x0, y0 = head * s - 0.5, layer * s - 0.5
    return {
        "type": "rect",
        "xref": "x",
        "yref": "y",
        "x0": x0 - 0.35,
        "x1": x0 + tokens + 0.35,
        "y0": y0 - 0.35,
        "y1": y0 + tokens + 0.35,
        "line": {"color": SELECT_COLOR if not dashed else "#ffffff", "width": 4, "dash": "dot" if dashed else "solid"},
        "fillcolor": "rgba(0,0,0,0)",
        "name": name,
    }


DIM_FILL = "rgba(255,255,255,0.78)"
BADGE_COLOR = "#ffbf47"


def dim_shapes(tags: list | None, tag: str | None, tokens: int) -> list[dict]:
    """A white veil over every tile whose head does NOT carry ``tag`` (none when no tag is chosen).

    Named ``dim-<layer>-<head>`` so that scripts and tests can read which heads are dimmed.
    assets/headgaze.js builds the same shapes in the browser when the filter changes.
    """
    if not tag or not tags:
        return []
    s = tile_size(tokens)
    out = []
    for layer, row in enumerate(tags):
        for head, ts in enumerate(row):
            if tag in ts:
                continue
            x0, y0 = head * s - 0.5, layer * s - 0.5
            out.append({"type": "rect", "xref": "x", "yref": "y", "x0": x0, "x1": x0 + tokens, "y0": y0,
                        "y1": y0 + tokens, "line": {"width": 0}, "fillcolor": DIM_FILL, "layer": "above",
                        "name": f"dim-{layer}-{head}"})
    return out


def badge_trace(tags: list | None, tokens: int) -> dict:
    """One scatter trace: a small marker in the top-right corner of every tagged tile (hover: its tags).

    assets/headgaze.js rebuilds x/y/text with Plotly.restyle when the tag source changes.
    """
    s = tile_size(tokens)
    xs, ys, text = [], [], []
    for layer, row in enumerate(tags or []):
        for head, ts in enumerate(row):
            if ts:
                xs.append(head * s + tokens - 1 - 0.1 * tokens)
                ys.append(layer * s + 0.1 * tokens)
                text.append(f"layer {layer} · head {head}: {', '.join(ts)}")
    return {
        "type": "scatter", "mode": "markers", "x": xs, "y": ys, "text": text, "name": "tags",
        "hovertemplate": "%{text}<extra></extra>", "showlegend": False, "cliponaxis": False,
        "marker": {"size": 6, "color": BADGE_COLOR, "symbol": "circle", "line": {"width": 1, "color": "#1d2433"}},
    }


def model_view_figure(att: np.ndarray, *, model: str, key: str, layer: int, head: int, cell_px: int | None = None,
                      tags: list | None = None, tag_filter: str | None = None) -> dict:
    """The model view: one heatmap of all L×H heads, labelled, with the selected tile outlined.

    ``tags`` ([L][H][tag names], from this text or the model profile) adds one badge trace;
    ``tag_filter`` dims the heads that do not carry that tag.
    """
    L, H, T, _ = att.shape
    s = tile_size(T)
    z = mosaic(att)
    # Pixel size of one tile: big enough to click, small enough that 30 layers fit a screen.
    tile_px = cell_px or int(np.clip(760 / L, 26, 64))
    margin = {"l": 58, "r": 20, "t": 46, "b": 10}
    width = H * tile_px + margin["l"] + margin["r"] + 70  # + colour bar
    height = L * tile_px + margin["t"] + margin["b"]
    centers = [i * s + (T - 1) / 2 for i in range(max(L, H))]
    return {
        "data": [
            {
                "type": "heatmap",
                "z": z,
                "zmin": 0.0,
                "zmax": 1.0,
                "colorscale": COLORSCALE,
                "hoverongaps": False,
                "hovertemplate": "weight %{z:.3f}<extra></extra>",
                "colorbar": {"title": {"text": "weight", "side": "right"}, "thickness": 12, "len": min(1.0, 300 / max(height, 1))},
                "xgap": 0,
                "ygap": 0,
            },
            badge_trace(tags, T),
        ],
        "layout": {
            "meta": {"model": model, "key": key, "layers": L, "heads": H, "tokens": T, "tile": s},
            "width": width,
            "height": height,
            "autosize": False,
            "margin": margin,
            "font": FONT,
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
            "xaxis": {
                "title": {"text": "head", "standoff": 4},
                "side": "top",
                "tickmode": "array",
                "tickvals": centers[:H],
                "ticktext": [str(h) for h in range(H)],
                "showgrid": False,
                "zeroline": False,
                "range": [-0.5, H * s - GAP - 0.5],
                "constrain": "domain",
                "fixedrange": True,
            },
            "yaxis": {
                "title": {"text": "layer", "standoff": 4},
                "tickmode": "array",
                "tickvals": centers[:L],
                "ticktext": [str(layer_) for layer_ in range(L)],
                "showgrid": False,
                "zeroline": False,
                "range": [L * s - GAP - 0.5, -0.5],
                "scaleanchor": "x",
                "constrain": "domain",
                "fixedrange": True,
            },
            "shapes": [selection_shape(layer, head, T), *dim_shapes(tags, tag_filter, T)],
            # A badge takes hover/click only when the pointer is on it (it lies inside its own tile);
            # with Plotly's default 20 px it would capture clicks on the neighbouring tile.
            "hoverdistance": 4,
            "dragmode": False,
        },
    }


def empty_figure(message: str, height: int = 200) -> dict:
    """A blank figure with a centred note (before the first Process, or after an error)."""
    return {
        "data": [],
        "layout": {
            "height": height,
            "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
            "xaxis": {"visible": False},
            "yaxis": {"visible": False},
            "font": FONT,
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
            "annotations": [
                {"text": message, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5,
                 "font": {"color": "#666", "size": 13}}
            ],
        },
    }


LINE_BINS = 8


def head_view_figure(matrix: np.ndarray, tokens: list[dict], *, layer: int, head: int) -> dict:
    """Head view: queries (left) → keys (right); line opacity and width follow the weight."""
    T = len(tokens)
    labels = [plotly_text(display_token(t)) for t in tokens]
    ys = [-i for i in range(T)]
    colors = ["#7a4fbf" if t.get("special") else "#1d2433" for t in tokens]
    data: list[dict] = []
    # Line traces binned by weight (weights < 1/200 are not drawn: invisible anyway).
    edges = np.linspace(0.0, 1.0, LINE_BINS + 1)
    for b in range(LINE_BINS):
        lo, hi = edges[b], edges[b + 1]
        xs: list = []
        yl: list = []
        for q in range(T):
            for k in range(T):
                w = float(matrix[q, k])
                if w < 0.005 or not (lo <= w < hi or (b == LINE_BINS - 1 and w >= hi)):
                    continue
                xs += [0.0, 1.0, None]
                yl += [-q, -k, None]
        if not xs:
            continue
        mid = (lo + hi) / 2
        data.append({
            "type": "scatter", "mode": "lines", "x": xs, "y": yl, "hoverinfo": "skip", "showlegend": False,
            "line": {"color": "#e4572e", "width": 0.8 + 4.5 * mid}, "opacity": float(min(1.0, 0.08 + 0.92 * mid)),
            "name": f"w {lo:.2f}–{hi:.2f}",
        })
    token_trace = {
        "type": "scatter", "mode": "markers+text", "hoverinfo": "none", "showlegend": False,
        "marker": {"size": 10, "color": colors, "line": {"width": 1, "color": "#ffffff"}},
        "textfont": {"color": colors, "size": 13},
        "cliponaxis": False,
    }
    data.append({**token_trace, "x": [0.0] * T, "y": ys, "text": labels, "textposition": "middle left", "name": "query"})
    data.append({**token_trace, "x": [1.0] * T, "y": ys, "text": labels, "textposition": "middle right", "name": "key"})
    height = max(220, 40 + 26 * T)
    return {
        "data": data,
        "layout": {
            "meta": {"layer": layer, "head": head, "tokens": T, "view": "head"},
            "height": height,
            "autosize": True,
            "margin": {"l": 110, "r": 110, "t": 30, "b": 10},
            "font": FONT,
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
            "xaxis": {"visible": False, "range": [-0.05, 1.05], "fixedrange": True},
            "yaxis": {"visible": False, "range": [-(T - 1) - 0.6, 0.6], "fixedrange": True},
            "annotations": [
                {"text": "query", "x": 0, "y": 1.0, "xref": "x", "yref": "paper", "yanchor": "bottom",
                 "showarrow": False, "font": {"color": "#666"}},
                {"text": "key", "x": 1, "y": 1.0, "xref": "x", "yref": "paper", "yanchor": "bottom",
                 "showarrow": False, "font": {"color": "#666"}},
            ],
            "dragmode": False,
            "hovermode": "closest",
        },
    }
