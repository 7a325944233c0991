"""Page layout: controls, status line, model view, head view and hover view, with stable ids.

Ids other tools rely on: text-input, model-select, process-button, model-view, head-view,
hover-view, selected-head, status; head analysis: tag-source, tag-filter, tag-counts, head-stats,
hide-first-token, export-csv, export-png; the view state lives in the URL (dcc.Location ``url``). The layout is a function so that the model list is fetched when
a page is opened (the service may start after the dashboard).
"""

from __future__ import annotations

from dash import dcc, html

from .about import about_panel
from .data import MAX_CHARS, AttentionData, DashboardError
from .figures import BADGE_COLOR, empty_figure
from .heads import TAG_LABELS, TAGS

EXAMPLE_TEXT = "The fluffy blue monster ate the cookie."

GRAPH_CONFIG = {
    "displaylogo": False,
    "displayModeBar": True,
    "scrollZoom": False,
    "modeBarButtonsToRemove": ["zoom2d", "pan2d", "select2d", "lasso2d", "zoomIn2d", "zoomOut2d",
                               "autoScale2d", "resetScale2d"],
}


def _graph_config(filename: str) -> dict:
    # doubleClickDelay 1 ms: two quick clicks on two tiles are two selections, not a double click.
    return {**GRAPH_CONFIG, "doubleClick": False, "doubleClickDelay": 1,
            "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2}}


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


def build_layout(data: AttentionData):
    """Return a layout factory bound to ``data`` (called on every page load)."""

    def serve_layout():
        try:
            models = data.models()
            load_error = ""
        except DashboardError as exc:
            models, load_error = [], exc.message
        selected = default_model(models)
        return html.Div(className="hg-page", children=[
            html.Header(className="hg-header", children=[
                html.H1("headgaze"),
                html.Span("look inside the attention heads of a language model", className="hg-tagline"),
            ]),
            about_panel(),
            html.Section(className="hg-controls", children=[
                html.Label("Text", htmlFor="text-input", className="hg-label"),
                dcc.Input(id="text-input", type="text", value=EXAMPLE_TEXT, maxLength=MAX_CHARS,
                          debounce=False, autoComplete="off", spellCheck=False, className="hg-input",
                          placeholder="Type up to 50 characters"),
                html.Span(f"{len(EXAMPLE_TEXT)}/{MAX_CHARS}", id="char-counter", className="hg-counter"),
                html.Label("Model", htmlFor="model-select", className="hg-label"),
                dcc.Dropdown(id="model-select", options=model_options(models), value=selected,
                             clearable=False, searchable=False, className="hg-select"),
                html.Button("Process", id="process-button", n_clicks=0, className="hg-button"),
            ]),
            html.Section(className="hg-controls hg-tag-controls", children=[
                html.Span("Tags from", className="hg-label"),
                dcc.RadioItems(id="tag-source", className="hg-radio", inline=True, value="text", options=[
                    {"label": " this text", "value": "text"},
                    {"label": " model profile", "value": "profile"},
                ]),
                html.Span("Show only", className="hg-label"),
                dcc.RadioItems(id="tag-filter", className="hg-radio", inline=True, value="", options=[
                    {"label": " all heads", "value": ""},
                    *({"label": f" {t}", "value": t, "title": TAG_LABELS[t]} for t in TAGS),
                ]),
                dcc.Checklist(id="hide-first-token", className="hg-toggle", inputClassName="hg-toggle-input",
                              options=[{"label": " hide first token", "value": "hide"}], value=[], inline=True),
                html.Span("(drops the weight on token 0 and renormalises each row over the other keys; a row with "
                          "nothing left, e.g. row 0 of a causal model, shows as zeros)", className="hg-hint"),
            ]),
            html.Div(id="status", className="hg-status" + (" hg-error" if load_error else ""), role="status",
                     children=load_error or "Press Process to compute attention."),
            dcc.Loading(id="loading", type="dot", delay_show=150, target_components={"model-view": "figure"},
                        overlay_style={"visibility": "visible", "opacity": 0.55}, children=html.Main(className="hg-main", children=[
                html.Section(className="hg-panel hg-model-panel", children=[
                    html.H2("Model view"),
                    html.P("All heads, layers as rows and heads as columns. Click a tile — or focus the grid, "
                           "move with the arrow keys and press Enter — to select a head.", className="hg-help"),
                    html.Div(id="model-view-wrap", tabIndex=0, className="hg-grid-wrap",
                             **{"aria-label": "Model view grid: arrow keys move, Enter selects a head"},
                             children=dcc.Graph(id="model-view", figure=empty_figure("Press Process to draw the grid."),
                                                config=_graph_config("headgaze-model-view"))),
                    html.P([html.Span("●", style={"color": BADGE_COLOR}), " a tagged head (hover the dot for its "
                            "tags); “show only” veils the heads without the tag. Tags use the model's raw weights."],
                           className="hg-help"),
                    html.Div(id="tag-note", className="hg-tag-note", role="status"),
                    html.Div(id="tag-counts", className="hg-tag-counts"),
                    html.Div(className="hg-export", children=[
                        html.Span("Export view:", className="hg-label"),
                        html.Button("Head matrix (CSV)", id="export-csv", n_clicks=0, className="hg-button hg-small"),
                        html.Button("Grid (PNG)", id="export-png", n_clicks=0, className="hg-button hg-small"),
                    ]),
                    dcc.Download(id="download-csv"),
                ]),
                html.Section(className="hg-panel hg-head-panel", children=[
                    html.H2(["Selected head: ", html.Span("—", id="selected-head", className="hg-selected")]),
                    html.Div(id="head-stats", className="hg-head-stats"),
                    html.H3("Head view"),
                    html.P("Lines go from each query token (left) to each key token (right); stronger "
                           "attention, bolder line. Hover a token to see only its lines and weights.",
                           className="hg-help"),
                    dcc.Graph(id="head-view", figure=empty_figure("Select a head."), clear_on_unhover=True,
                              config=_graph_config("headgaze-head-view")),
                    html.H3("Hover view"),
                    html.P("Hover a token: the others grow with the attention it pays them; the strongest is red.",
                           className="hg-help"),
                    html.Div(id="hover-view", className="hg-hover-view", children=[]),
                    html.Div(id="hover-detail", className="hg-hover-detail"),
                ]),
            ])),
            dcc.Store(id="result-meta"),
            dcc.Store(id="selection", data={"layer": 0, "head": 0}),
            dcc.Store(id="head-data"),
            dcc.Store(id="head-base"),
            dcc.Store(id="head-tags"),
            dcc.Store(id="url-state"),
            dcc.Store(id="png-done"),
            dcc.Location(id="url", refresh=False),
            html.Footer(className="hg-footer", children=[
                "Weights shown are the model's softmax probabilities, computed by onnxruntime on this machine."
            ]),
        ])

    return serve_layout
