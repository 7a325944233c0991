"""The knock-out view: what the output loses when heads are knocked out (POST /v1/ablate).

A strip under the hover view, one bar per token. For a causal LM: the change in the log-probability
the model gives that token from the ones before it (nats; below 0, red: the heads helped predict
it), with the largest drop named ("−3.2 nats at ‘cookie’"). For a model without an LM head: the cosine of each token's final hidden
state with and without the heads, and the sentence embedding's cosine. The hover text of a bar says
what was predicted there and the probabilities before and after; it is the figure's own (no request).
The model view marks the knocked-out tiles (trace 4, drawn by model_view.js's outline callback).
"""

from __future__ import annotations

import math

from dash import dcc, html

from .constants import FONT, INK, KNOCKOUT_COLORSCALE
from .head_view import plotly_text
from .hover_view import display_token

STRIP_HEIGHT = 190


def _layout(title: str, labels: list[str], meta: dict, y_title: str, y_range: list | None) -> dict:
    return {
        "meta": meta, "height": STRIP_HEIGHT, "autosize": True, "font": FONT, "bargap": 0.15,
        "margin": {"l": 56, "r": 10, "t": 30, "b": 64}, "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 13, "color": INK}},
        "xaxis": {"type": "category", "tickangle": -50, "tickfont": {"size": 10}, "categoryorder": "array",
                  "categoryarray": labels, "automargin": False},
        "yaxis": {"title": {"text": y_title}, "zeroline": True, "zerolinecolor": "#888", "range": y_range,
                  "fixedrange": True},
        "dragmode": False, "hovermode": "closest",
    }


def largest_drop(tokens: list[dict], delta: list[float | None]) -> tuple[int, float] | None:
    """(index of the token whose log-prob fell most, the change): delta[t] is about token t + 1."""
    found = [(d, t) for t, d in enumerate(delta) if d is not None]
    if not found:
        return None
    d, t = min(found)
    return t + 1, d


def nats(d: float) -> str:
    return f"{d:+.1f}".replace("-", "−")


def drop_text(tokens: list[dict], delta: list[float | None]) -> str:
    worst = largest_drop(tokens, delta)
    if worst is None:
        return "nothing to predict: a one-token text"
    at, d = worst
    if d >= 0:
        return f"no token is less likely without the heads (smallest change {nats(d)} nats)"
    word = display_token(tokens[at]).strip() or display_token(tokens[at])
    return f"largest drop: {nats(d)} nats at ‘{word}’"


def prediction_strip(answer: dict, key: str) -> dict:
    """The strip of a causal LM's knock-out: one bar per token, the change in the log-probability the
    model gave that token from the tokens before it (nothing predicts the first token: no bar)."""
    tokens, delta = answer["tokens"], answer["delta"]
    labels = [f"{i} {display_token(t)}" for i, t in enumerate(tokens)]
    ys = [0.0] + [0.0 if d is None else d for d in delta[:-1]]
    bound = max(0.5, max((abs(v) for v in ys), default=0.5))
    hover = ["the first token: nothing predicts it"]
    for t in range(len(tokens) - 1):
        b, a = answer["baseline"][t], answer["ablated"][t]
        p0, p1 = math.exp(b["next"]["logprob"]), math.exp(a["next"]["logprob"])
        hover.append(f"“{plotly_text(display_token(tokens[t + 1]))}” after “{plotly_text(display_token(tokens[t]))}”: "
                     f"p {p0:.1%} → {p1:.1%} (Δ log-prob {nats(delta[t])} nats)<br>the model's top choice there "
                     f"without the heads: “{plotly_text(a['top'][0]['text'])}”")
    trace = {"type": "bar", "x": labels, "y": ys, "name": "Δ log-prob", "customdata": hover,
             "hovertemplate": "%{customdata}<extra></extra>",
             "marker": {"color": ys, "colorscale": KNOCKOUT_COLORSCALE, "cmin": -bound, "cmax": bound}}
    meta = {"key": key, "heads": answer["heads"], "kind": "predictions", "drop": largest_drop(tokens, delta)}
    return {"data": [trace], "layout": _layout(drop_text(tokens, delta), labels, meta, "Δ log p (nats)",
                                               [-bound * 1.05, bound * 1.05])}


def cosine_strip(answer: dict, key: str) -> dict:
    """The strip of an encoder's knock-out: cosine of each token's final hidden state, clean vs ablated."""
    tokens, cos = answer["tokens"], answer["cosine"]
    labels = [f"{i} {display_token(t)}" for i, t in enumerate(tokens)]
    low = min(cos) if cos else 1.0
    trace = {"type": "bar", "x": labels, "y": cos, "name": "cosine", "marker": {"color": "#2166ac"},
             "hovertemplate": "“%{x}”: cosine %{y:.4f} with and without the heads<extra></extra>"}
    title = (f"sentence embedding cosine {answer['sentence_cosine']:.4f}; lowest token cosine {low:.4f}")
    meta = {"key": key, "heads": answer["heads"], "kind": "hidden", "sentence_cosine": answer["sentence_cosine"]}
    return {"data": [trace], "layout": _layout(title, labels, meta, "cosine (clean vs knocked out)",
                                               [min(0.0, low - 0.05), 1.02])}


def strip_figure(answer: dict, key: str) -> dict:
    return prediction_strip(answer, key) if answer["kind"] == "predictions" else cosine_strip(answer, key)


def heads_text(heads: list[list[int]]) -> str:
    shown = ", ".join(f"{layer}.{head}" for layer, head in heads[:8])
    more = f" and {len(heads) - 8} more" if len(heads) > 8 else ""
    return f"{len(heads)} head{'s' if len(heads) != 1 else ''} knocked out (layer.head: {shown}{more})"


def summary(answer: dict) -> str:
    """The knock-out in one line, beside the toggle (the strip itself is under the hover view)."""
    what = heads_text(answer["heads"])
    if answer["kind"] == "predictions":
        return f"{what} · {drop_text(answer['tokens'], answer['delta'])} (strip below the hover view)"
    return f"{what} · sentence embedding cosine {answer['sentence_cosine']:.4f} (strip below the hover view)"


def answers_panel(original: str | None, without: str | None) -> list:
    """The generated answer beside the one the model gives without the heads (a generated text only)."""
    if original is None or without is None:
        return []
    return [html.Div([html.Span("answer: ", className="hg-label"), html.Span(original, className="hg-answer-new")]),
            html.Div([html.Span("without the heads: ", className="hg-label"),
                      html.Span(without, className="hg-knocked-answer")])]


KNOCK_HINT = ("Knock out: run the text again with this head's output removed (zero ablation: its context set to 0 "
              "before the output projection) and show what the output loses. Toggle more heads to knock several out.")


def knockout_controls() -> list:
    """The toggle beside the selected head, Clear, and a one-line summary of the knock-out."""
    return [dcc.Checklist(id="knockout-toggle", className="hg-toggle hg-knock-toggle", inline=True, value=[],
                          inputClassName="hg-toggle-input",
                          options=[{"label": " Knock out", "value": "on", "title": KNOCK_HINT}]),
            html.Button("Clear", id="knockout-clear", n_clicks=0, className="hg-button hg-small hg-plain",
                        title="Put every knocked-out head back"),
            html.Span(id="knockout-note", className="hg-knockout-note", role="status")]


def knockout_panel() -> html.Div:
    """The strip and its notes, under the hover view."""
    from .constants import KNOCKOUT_CAPTION

    return html.Div(className="hg-knockout", children=[
        html.H3("Knock-out"),
        html.P(KNOCKOUT_CAPTION, className="hg-help"),
        dcc.Graph(id="knockout-strip", config={"displaylogo": False, "displayModeBar": False},
                  figure={"data": [], "layout": {"height": 60, "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
                                                 "xaxis": {"visible": False}, "yaxis": {"visible": False}}}),
        html.Div(id="knockout-answers", className="hg-knockout-answers"),
    ])
