"""The writes view: what the selected head writes into the vocabulary at the focused query (direct
logit attribution, POST /v1/attention/head with writes=true): the tokens its output pushes up
(promoted) and down (suppressed) most, as two short bar lists.

Python side: the figure for one query and the compact per-query data (``writes-data``), fetched once
per text and head for every query (texts up to MAX_QUERIES tokens). Browser side (writes_view.js):
the focused query (hover the head view, the heatmap or the hover view) redraws the bars from that
data, with no request.
"""

from __future__ import annotations

from dash import dcc, html

from .constants import FONT, INK
from .head_view import plotly_text
from .hover_view import display_token

MAX_QUERIES = 64  # the service's limit for one writes request
PROMOTED_COLOR, SUPPRESSED_COLOR = "#1a9850", "#d73027"
HELP = ("Direct logit attribution: the head's output at the focused query, through the final norm (at that "
        "position's scale) and the LM head, raw and uncentred: the tokens it pushes up and down most. Hover a query "
        "in the head view, the heatmap or the hover view.")


def compact(writes: list[dict]) -> dict:
    """{query: [promoted texts, scores, suppressed texts, scores]} for the browser."""
    return {str(w["query"]): [[e["text"] for e in w["promoted"]], [round(e["score"], 4) for e in w["promoted"]],
                              [e["text"] for e in w["suppressed"]], [round(e["score"], 4) for e in w["suppressed"]]]
            for w in writes}


def labels(texts: list[str]) -> list[str]:
    """Unique bar labels: rank and the quoted token (two tokens may decode alike; spaces stay visible)."""
    return [f"{i + 1} “{plotly_text(t)}”" for i, t in enumerate(texts)]


def writes_figure(rows: list | None, title: str) -> dict:
    """Two horizontal bar lists side by side: promoted (left), suppressed (right), largest at the top."""
    promoted, p_scores, suppressed, s_scores = rows or ([], [], [], [])
    bar = {"type": "bar", "orientation": "h", "hovertemplate": "%{y}: %{x:.3f}<extra></extra>"}
    return {
        "data": [{**bar, "y": labels(promoted), "x": p_scores, "name": "promoted",
                  "marker": {"color": PROMOTED_COLOR}, "xaxis": "x", "yaxis": "y"},
                 {**bar, "y": labels(suppressed), "x": s_scores, "name": "suppressed",
                  "marker": {"color": SUPPRESSED_COLOR}, "xaxis": "x2", "yaxis": "y2"}],
        "layout": {"height": 250, "autosize": True, "font": FONT, "showlegend": False, "bargap": 0.2,
                   "margin": {"l": 90, "r": 10, "t": 44, "b": 28},
                   "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 13, "color": INK}},
                   "xaxis": {"domain": [0, 0.44], "title": {"text": "promoted"}},
                   "xaxis2": {"domain": [0.56, 1], "title": {"text": "suppressed"}, "anchor": "y2"},
                   "yaxis": {"autorange": "reversed", "type": "category", "automargin": True},
                   "yaxis2": {"autorange": "reversed", "type": "category", "anchor": "x2", "automargin": True},
                   "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff", "dragmode": False},
    }


def title_for(tokens: list[dict], query: int, layer: int, head: int) -> str:
    return f"layer {layer} · head {head} at “{plotly_text(display_token(tokens[query]))}” (token {query})"


def writes_panel() -> html.Div:
    return html.Div(className="hg-writes", children=[
        html.H3("What this head writes"),
        html.P(HELP, className="hg-help"),
        html.Div(id="writes-note", className="hg-muted hg-small-text", role="status"),
        dcc.Graph(id="writes-view", config={"displaylogo": False, "displayModeBar": False},
                  figure=writes_figure(None, "")),
    ])
