"""Page layout: controls, status line, the model view beside the selected head's views, stable ids.

Ids other tools rely on: text-input, model-select, process-button, generate-button, stop-button,
chat-switch, show-template, answer-view (the streamed answer), answer (its store), knockout-toggle,
knockout-shown, knockout-clear, knockout-strip, knockout (its store), model-view, head-view,
head-heatmap, layer-view, hover-view, selected-head, status; head analysis: tag-source,
tag-filter, tag-counts, head-stats, hide-first-token, weighting, export-csv, export-png; the selected
head's query · key view: qk-view (its q and k in the qk-data store); a long text: progress (the elapsed
seconds of a slow request), hover-pager (hover-prev, hover-next, hover-page-note); the view state lives
in the URL (dcc.Location ``url``). The layout is a function so that the model list is fetched when
a page is opened (the service may start after the dashboard).

At 1440×900 the model view (left) and the selected head's views (right) sit side by side in
panels as tall as the window, each scrolling on its own, so a tile click never moves the page.
"""

from __future__ import annotations

from dash import dcc, html

from .about import about_panel
from .data import AttentionData, DashboardError
from .heads import TAG_LABELS, TAGS
from .views.answer_view import answer_panel, generate_controls, template_toggle
from .views.constants import (
    ANSWER_COLOR,
    BADGE_COLOR,
    FOCUS_MAX_TOKENS,
    FOCUS_QUERIES,
    HOVER_MAX_COLOR,
    MIN_LINE_WEIGHT,
    TOP_K,
    browser_config,
)
from .views.knockout_view import knockout_controls, knockout_panel
from .views.model_view import legend_gradient
from .views.qk_view import CAPTION as QK_CAPTION
from .views.writes_view import writes_panel

EXAMPLE_TEXT = "The fluffy blue monster ate the cookie."
BERTVIZ_URL = "https://github.com/jessevig/bertviz"
WEIGHTING_LABELS = {"attention": " attention weights", "value_norm": " weight × value norm"}
WEIGHTING_LEGEND = "weight × value norm: each row α_ij·‖f(x_j)‖ renormalised to sum to 1"
WEIGHTING_HINT = ("Weight × value norm (Kobayashi et al. 2020): each weight α_ij times ‖f(x_j)‖ = ‖v_j W_O‖, what "
                  "token j passes on through this head, each row renormalised to sum to 1. A head that looks at a "
                  "token passing on little (an attention sink) fades. Applies to every view and the CSV export; "
                  "the scores and tags keep the raw weights.")

GRAPH_CONFIG = {"displaylogo": False, "displayModeBar": True, "scrollZoom": False,
                "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d", "zoom2d", "pan2d",
                                           "zoomIn2d", "zoomOut2d", "resetScale2d"]}
ZOOM_BUTTONS = ["select2d", "lasso2d", "autoScale2d"]  # the model view keeps zoom, pan and reset


def graph_config(filename: str, *, zoom: bool = False) -> dict:
    # doubleClickDelay 1 ms: two quick clicks on two tiles are two selections, not a double click.
    return {**GRAPH_CONFIG, "doubleClick": False, "doubleClickDelay": 1,
            **({"modeBarButtonsToRemove": ZOOM_BUTTONS} if zoom else {}),
            "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2}}


def empty_figure(message: str, height: int = 200) -> dict:
    """A blank figure with a centred note (before the first Process, or after an error)."""
    return {"data": [], "layout": {
        "height": height, "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
        "xaxis": {"visible": False}, "yaxis": {"visible": False},
        "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
        "annotations": [{"text": message, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5,
                         "font": {"color": "#666", "size": 13}}]}}


def default_model(models: list[dict]) -> str | None:
    """SmolLM2 when present, else a model flagged default, else the first one."""
    for m in models:
        if "smollm2" in str(m.get("id", "")).lower():
            return m["id"]
    for m in models:
        if m.get("default"):
            return m["id"]
    return models[0]["id"] if models else None


def model_options(models: list[dict]) -> list[dict]:
    out = []
    for m in models:
        kind = "causal" if m.get("causal") else "bidirectional"
        label = f"{m.get('display_name') or m['id']} — {m.get('layers', '?')}×{m.get('heads', '?')} heads, {kind}"
        out.append({"label": label, "value": m["id"]})
    return out


def controls(models: list[dict], max_chars: int, text: str = EXAMPLE_TEXT, model: str | None = None) -> list:
    return [
        html.Section(className="hg-controls", children=[
            html.Label("Text", htmlFor="text-input", className="hg-label"),
            # No maxLength: the browser would count UTF-16 units (an emoji as two); the counter and
            # the server count code points, as the API does.
            dcc.Input(id="text-input", type="text", value=text, debounce=False, autoComplete="off",
                      spellCheck=False, className="hg-input", placeholder=f"Type up to {max_chars} characters"),
            html.Span(f"{len(text)}/{max_chars}", id="char-counter", className="hg-counter"),
            html.Label("Model", htmlFor="model-select", className="hg-label"),
            dcc.Dropdown(id="model-select", options=model_options(models),
                         value=model if any(m.get("id") == model for m in models) else default_model(models),
                         clearable=False, searchable=False, className="hg-select"),
            html.Button("Process", id="process-button", n_clicks=0, className="hg-button"),
            *generate_controls(),
        ]),
        html.Section(className="hg-controls hg-tag-controls", children=[
            html.Span("Tags from", className="hg-label"),
            dcc.RadioItems(id="tag-source", className="hg-radio", inline=True, value="text", options=[
                {"label": " this text", "value": "text"}, {"label": " model profile", "value": "profile"}]),
            html.Span("Show only", className="hg-label"),
            dcc.RadioItems(id="tag-filter", className="hg-radio", inline=True, value="", options=[
                {"label": " all heads", "value": ""},
                *({"label": f" {t}", "value": t, "title": TAG_LABELS[t]} for t in TAGS)]),
            dcc.Checklist(id="hide-first-token", className="hg-toggle", inputClassName="hg-toggle-input",
                          options=[{"label": " hide first token", "value": "hide"}], value=[], inline=True),
            html.Span("(?)", className="hg-hint", title="Hide first token drops the weight on token 0 and renormalises "
                      "each row over the other keys; a row with nothing left (row 0 of a causal model) shows as zeros. "
                      "The model view's tiles are pooled after hiding; the scores keep the raw weights."),
            html.Span("Show", className="hg-label"),
            dcc.RadioItems(id="weighting", className="hg-radio", inline=True, value="attention",
                           options=weighting_options(None)),
            html.Span("(?)", className="hg-hint", title=WEIGHTING_HINT),
            html.Span(id="weighting-note", className="hg-muted"),
            template_toggle(),
            html.Button("Knock out all shown", id="knockout-shown", n_clicks=0, className="hg-button hg-small hg-knock",
                        title="Knock out every head the tag filter shows (e.g. all induction heads) and see what the "
                              "output loses"),
        ]),
    ]


def weighting_options(reason: str | None) -> list[dict]:
    """The weighting switch's options; "weight × value norm" disabled, saying why, for a model
    without value norms (``reason``: its manifest's qk_reason)."""
    return [{"label": WEIGHTING_LABELS["attention"], "value": "attention"},
            {"label": WEIGHTING_LABELS["value_norm"], "value": "value_norm", "disabled": reason is not None,
             "title": f"Not available for this model: {reason}" if reason else WEIGHTING_HINT}]


def model_panel() -> html.Section:
    return html.Section(className="hg-panel hg-model-panel", children=[
        html.Div(className="hg-panel-head", children=[
            html.H2("Model view"),
            html.Span("every head of every layer: rows are layers, columns heads; each tile shows its weights "
                      "(queries down, keys across). Click a tile, or focus the grid and use the arrow keys and "
                      "Enter. Drag to zoom, the toolbar pans and resets.", className="hg-help"),
        ]),
        html.Div(id="model-view-wrap", tabIndex=0, className="hg-grid-wrap",
                 **{"aria-label": "Model view grid: arrow keys move, Enter selects a head"},
                 children=dcc.Loading(id="loading", type="dot", delay_show=150,
                                      target_components={"model-view": "figure"},
                                      overlay_style={"visibility": "visible", "opacity": 0.55},
                                      children=dcc.Graph(id="model-view", config=graph_config(
                                          "headgaze-model-view", zoom=True),
                                          figure=empty_figure("Press Process to draw the grid.")))),
        html.Div(className="hg-legend", children=[
            html.Span("weight 0"), html.Span(className="hg-gradient", style={"background": legend_gradient()}),
            html.Span("1"),
            html.Span(id="weighting-legend", className="hg-weighting-legend"),
            html.Span([html.Span("●", style={"color": BADGE_COLOR}), " tagged head (hover the dot); "
                       "long texts: each tile cell is the largest weight of a block of tokens"],
                      className="hg-muted"),
        ]),
        html.Div(id="tag-note", className="hg-tag-note", role="status"),
        html.Div(id="tag-counts", className="hg-tag-counts"),
        html.Div(className="hg-export", children=[
            html.Span("Export:", className="hg-label"),
            html.Button("Head matrix (CSV)", id="export-csv", n_clicks=0, className="hg-button hg-small"),
            html.Button("Grid (PNG)", id="export-png", n_clicks=0, className="hg-button hg-small"),
        ]),
        dcc.Download(id="download-csv"),
    ])


def head_panel() -> html.Section:
    lines = f"lines: each query's {TOP_K} strongest keys (none under {MIN_LINE_WEIGHT:g})"
    return html.Section(className="hg-panel hg-head-panel", children=[
        html.Div(className="hg-selected-row", children=[
            html.H2(["Selected head: ", html.Span("—", id="selected-head", className="hg-selected")]),
            *knockout_controls(),
        ]),
        html.Div(className="hg-head-row", children=[
            html.Div(className="hg-head-col", children=[
                html.H3("Head view"),
                html.P(f"Query (left) → key (right); {lines}. Hover a token for all its weights. Beyond "
                       f"{FOCUS_MAX_TOKENS} tokens it shows {FOCUS_QUERIES} queries and the keys their lines reach: "
                       "hover a heatmap row or the hover view's text to move that window.", className="hg-help"),
                html.Div(id="head-window-note", className="hg-muted hg-small-text", role="status"),
                html.Div(className="hg-scroll-box", children=dcc.Graph(
                    id="head-view", figure=empty_figure("Select a head."), clear_on_unhover=True,
                    config=graph_config("headgaze-head-view"))),
            ]),
            html.Div(className="hg-heatmap-col", children=[
                html.H3("Heatmap"),
                html.P("The same head: queries down, keys across.", className="hg-help"),
                dcc.Graph(id="head-heatmap", figure=empty_figure("Select a head.", 380),
                          config=graph_config("headgaze-head-heatmap", zoom=True)),
            ]),
        ]),
        html.H3("Hover view"),
        html.P("Hover a token: the others are shaded by the attention it pays them; the strongest is red.",
               className="hg-help"),
        html.Div(id="hover-pager", className="hg-pager", hidden=True, children=[
            html.Button("‹ previous", id="hover-prev", n_clicks=0, className="hg-button hg-small"),
            html.Span(id="hover-page-note", className="hg-muted", role="status"),
            html.Button("next ›", id="hover-next", n_clicks=0, className="hg-button hg-small"),
        ]),
        html.Div(id="hover-view", className="hg-hover-view", children=[]),
        html.Div(id="hover-detail", className="hg-hover-detail"),
        knockout_panel(),
        writes_panel(),
        html.H3("Query · key view"),
        html.P([QK_CAPTION, " In the words of “About attention”: the hovered token's question (query) is "
                "compared with each token's answer (key). Hover a query token in the head view or a row of the "
                "heatmap."], className="hg-help"),
        html.Div(id="qk-note", className="hg-muted", role="status"),
        dcc.Graph(id="qk-view", figure=empty_figure("Select a head."), config=graph_config("headgaze-qk-view", zoom=True)),
        html.H3("Layer view"),
        html.P(f"All heads of the selected layer, one colour each; {lines}. Click a head in the legend to "
               "switch it off or on, double-click to show it alone.", className="hg-help"),
        html.Div(className="hg-scroll-box", children=dcc.Graph(
            id="layer-view", figure=empty_figure("Select a head."), config=graph_config("headgaze-layer-view"))),
        html.Details(className="hg-stats-box", open=True, children=[
            html.Summary("Scores and tags of this head"),
            html.Div(id="head-stats", className="hg-head-stats"),
        ]),
    ])


def build_layout(data: AttentionData, text: str = EXAMPLE_TEXT, model: str | None = None):
    """Return a layout factory bound to ``data`` (called on every page load); ``text`` and ``model`` are
    what the page processes on load (the example text and the default model unless given)."""

    def serve_layout():
        try:
            models = data.models()
            load_error = ""
        except DashboardError as exc:
            models, load_error = [], exc.message
        # the hover view's one red and the answer's colour (views/constants.py) as the page's CSS variables
        return html.Div(className="hg-page", style={"--hg-red": HOVER_MAX_COLOR, "--hg-answer": ANSWER_COLOR}, children=[
            html.Header(className="hg-header", children=[
                html.H1("headgaze"),
                html.Span("look inside the attention heads of a language model", className="hg-tagline"),
                about_panel(),
            ]),
            *controls(models, data.max_chars, text, model),
            html.Div(className="hg-status-row", children=[
                html.Div(id="status", className="hg-status" + (" hg-error" if load_error else ""), role="status",
                         children=load_error or "Processing the text…"),
                # "running the model… n s" while a grid request runs longer than PROGRESS_AFTER_S
                # (assets/progress.js); beside the status line, so nothing below it moves
                html.Div(id="progress", className="hg-progress", role="status"),
            ]),
            answer_panel(),
            html.Main(className="hg-main", children=[model_panel(), head_panel()]),
            dcc.Store(id="hg-config", data=browser_config(data.max_chars)),
            dcc.Store(id="panel-size"),
            # {n, fresh, text, model, hide_first, weighting, tag_source, tag_filter}: what the page asks the
            # grid callback for (set in the browser by every control, dashboard/callbacks_grid.py)
            dcc.Store(id="grid-request"),
            dcc.Store(id="result-meta"),  # what the grid shows (dashboard/shown.py): only the grid writes it
            dcc.Store(id="selection", data={"layer": 0, "head": 0}),
            dcc.Store(id="head-data"),
            dcc.Store(id="head-matrix"),  # a long text's full matrix beside its pooled heatmap (views/head_view.py)
            dcc.Store(id="hover-page"),  # {"result", "page"}: the hover view's page of a long text
            dcc.Store(id="head-base"),
            dcc.Store(id="qk-data"),
            dcc.Store(id="focus"),  # {"key", "query"}: the query last focused (head view, heatmap, hover view)
            dcc.Store(id="url-state"),
            dcc.Store(id="png-done"),
            # a finished generated answer {n, text, model, answer_start, prompt_span} (answer_view.js):
            # the grid request draws it as a raw text
            dcc.Store(id="answer"),
            dcc.Store(id="generate-started"),
            dcc.Store(id="writes-data"),  # what the selected head writes at every query (callbacks_writes.py)
            dcc.Store(id="knockout"),  # {"result", "heads": [[layer, head], ...]}: knocked out (callbacks_knockout.py)
            html.Span(id="hover-head", hidden=True),
            html.Span(id="qk-head", hidden=True),
            dcc.Location(id="url", refresh=False),
            html.Footer(className="hg-footer", children=[
                "Weights shown are the model's softmax probabilities, computed by onnxruntime on this machine. "
                "The model, head and layer views follow the designs of ",
                html.A("BertViz", href=BERTVIZ_URL, target="_blank", rel="noopener"), " by Jesse Vig.",
            ]),
        ])

    return serve_layout
