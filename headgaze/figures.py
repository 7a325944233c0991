"""The dashboard's Plotly figures for a result, for papers and notebooks (no server, no page):

    res = headgaze.attention("The fluffy blue monster ate the cookie.")
    headgaze.figures.model_view(res)            # every layer × head as thumbnails
    headgaze.figures.head_view(res, 3, 5)       # one head as lines between two token columns
    headgaze.figures.heatmap(res, 3, 5)         # the same head as a matrix
    headgaze.figures.layer_view(res, 3)         # every head of a layer, one colour each

Each returns a plotly.graph_objects.Figure drawn by the dashboard's own figure code
(dashboard/views/), from an AttentionResult (the engine's or the client's) or, for the model view,
a GridResult as well.
"""

from __future__ import annotations

import numpy as np


def _figure(spec: dict):
    import plotly.graph_objects as go

    return go.Figure(spec)


def _tokens(result) -> list[dict]:
    return [dict(t) for t in result.tokens]


def model_view(result, tag_filter: str | None = None):
    """Every layer × head: max-pooled thumbnails (at most 32×32 cells per tile), as the page draws them."""
    from headgaze.dashboard.views.hover_view import display_token
    from headgaze.dashboard.views.model_view import model_view_figure
    from headgaze.service.analysis.grid import max_pool

    if getattr(result, "grid", None) is not None:
        thumbs, cells = np.asarray(result.grid, dtype=np.float32), result.cells
    else:
        thumbs, cells = max_pool(result.attentions)
    stats = getattr(result, "heads_stats", None) or {}
    fig = model_view_figure(thumbs, cells, model=result.model, key=result.model,
                            tokens=[display_token(t) for t in _tokens(result)], tags=stats.get("tags"),
                            tag_filter=tag_filter)
    return _figure(fig)


def head_view(result, layer: int, head: int):
    """One head: each query's strongest keys as lines (a text over 96 tokens: the figure's focus data)."""
    from headgaze.dashboard.views.head_view import head_view_figure

    return _figure(head_view_figure(_matrix(result, layer, head), _tokens(result), layer=layer, head=head))


def heatmap(result, layer: int, head: int):
    """One head's full matrix, queries down, keys across, labelled."""
    from headgaze.dashboard.views.head_view import heatmap_figure

    return _figure(heatmap_figure(_matrix(result, layer, head), _tokens(result), layer=layer, head=head))


def layer_view(result, layer: int, selected_head: int = 0):
    """Every head of one layer overlaid, one colour each."""
    from headgaze.dashboard.views.layer_view import layer_view_figure

    att = np.asarray(result.attentions[layer], dtype=np.float32)
    return _figure(layer_view_figure(att, _tokens(result), layer=layer, selected_head=selected_head))


def _matrix(result, layer: int, head: int) -> np.ndarray:
    if getattr(result, "attention", None) is not None:  # a HeadResult
        return np.asarray(result.attention, dtype=np.float32)
    return np.asarray(result.attentions[layer, head], dtype=np.float32)
