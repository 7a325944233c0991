"""Callbacks: Process (server), head selection (server), and the browser-side views.

Server callbacks compute or fetch attention and ship compact data; everything that reacts to the
mouse (head-view hover, hover view, grid highlight, character counter) is a clientside callback
in ``assets/headgaze.js`` so that hovering makes no request.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import numpy as np
from dash import ClientsideFunction, Dash, Input, Output, State, dcc, html, no_update

from .about import share_text
from .data import MAX_CHARS, AttentionData, DashboardError
from .figures import display_token, head_view_figure, model_view_figure
from .heads import TAGS, head_summary, hide_first_token, matrix_csv, tag_counts


def _cs(name: str) -> ClientsideFunction:
    return ClientsideFunction(namespace="headgaze", function_name=name)


def status_text(res: dict) -> str:
    """One line: model, tokens, latency (dashboard round trip and the service's own timing)."""
    T = len(res["tokens"])
    parts = [f"{res['model']}", f"{T} tokens", f"{res['layers']}×{res['heads']} heads"]
    if res.get("dashboard_cached"):
        parts.append("cached in the dashboard")
    else:
        parts.append(f"{res['latency_ms']:.0f} ms")
        tm = res.get("timing_ms") or {}
        if "inference" in tm:
            parts.append(f"model {tm['inference']:.0f} ms")
        if res.get("service_cached"):
            parts.append("cached by the service")
    return " · ".join(parts)


def clamp_selection(sel: dict | None, layers: int, heads: int) -> dict:
    sel = sel or {}
    layer = min(max(int(sel.get("layer", 0) or 0), 0), layers - 1)
    head = min(max(int(sel.get("head", 0) or 0), 0), heads - 1)
    return {"layer": layer, "head": head}


def is_hidden(hide_first) -> bool:
    """The hide-first-token checklist's value → bool."""
    return bool(hide_first) and "hide" in (hide_first or [])


def shown_attentions(res: dict, hide_first) -> np.ndarray:
    """The [L,H,T,T] weights the views draw: raw, or with token 0 hidden and rows renormalised."""
    return hide_first_token(res["attentions"]) if is_hidden(hide_first) else res["attentions"]


def view_tags(tags_store: dict | None, source: str | None) -> list | None:
    """The [L][H] tag lists of the chosen source ("text" or "profile") from the head-tags store."""
    if not tags_store:
        return None
    return tags_store.get("profile") if source == "profile" else tags_store.get("text")


def counts_line(label: str, counts: dict[str, int]) -> html.Div:
    parts = [f"{t} {counts.get(t, 0)}" for t in TAGS]
    return html.Div([html.Span(label, className="hg-label"), " " + " · ".join(parts)])


def counts_panel(stats: dict | None, profile: dict | None, heads_total: int) -> list:
    """Tag counts of this text and, separately, of the model profile."""
    if stats is None:
        out = [html.Div("This text: statistics not available (the backend did not say whether the model "
                        "is causal).", className="hg-muted")]
    else:
        out = [counts_line(f"This text ({heads_total} heads):", tag_counts(stats["tags"]))]
    if profile:
        rep = profile.get("repeat") or {}
        probes = len(profile.get("probe_texts") or [])
        desc = f"Model profile ({probes} probe texts + {rep.get('length', '?')} random tokens repeated twice):"
        out.append(counts_line(desc, profile.get("tag_counts") or tag_counts(profile.get("tags"))))
    else:
        out.append(html.Div("Model profile: not available for this model.", className="hg-muted"))
    return out


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.3f}"


def stats_table(summary: dict) -> list:
    """The selected head's scores (this text, model profile), tags and thresholds, as HTML."""
    names = [("previous", "previous token: mean A[i, i−1]"), ("first", "first token (sink): mean A[i, 0]"),
             ("self", "self: mean A[i, i]"), ("next", "next token: mean A[i, i+1]"),
             ("entropy", "entropy (normalised, 0–1)"), ("induction", "induction (profile only)"),
             ("duplicate", "duplicate token (profile only)")]
    rows = [html.Tr([html.Th("score"), html.Th("this text"), html.Th("model profile")])]
    for key, label in names:
        rows.append(html.Tr([html.Td(label), html.Td(_fmt(summary["text_scores"].get(key)), className="hg-num"),
                             html.Td(_fmt(summary["profile_scores"].get(key)), className="hg-num")]))
    text_tags = ", ".join(summary["text_tags"]) or "none"
    prof = summary["profile_tags"]
    prof_tags = "not available" if prof is None else (", ".join(prof) or "none")
    thresholds = " · ".join(f"{t}: {rule}" for t, rule in summary["thresholds"].items())
    return [
        html.Table(rows, className="hg-stats-table"),
        html.Div([html.Span("Tags, this text: ", className="hg-label"), html.Span(text_tags, id="head-tags-text")]),
        html.Div([html.Span("Tags, model profile: ", className="hg-label"), html.Span(prof_tags, id="head-tags-profile")]),
        html.Div(["Thresholds: ", thresholds, ". Scores use the raw weights (hide first token does not change them)."],
                 className="hg-muted hg-small-text"),
    ]


def parse_view_query(search: str | None, model_ids: list[str]) -> dict | None:
    """The view state from a URL query string (``?model=…&text=…&layer=…&head=…``), or None.

    Unknown models, bad numbers and unknown tags are dropped; the text is cut to 50 characters.
    """
    q = parse_qs((search or "").lstrip("?"), keep_blank_values=True)

    def one(name, default=None):
        v = q.get(name)
        return v[0] if v else default

    text = one("text")
    if text is None or not text.strip():
        return None
    model = one("model")
    if model not in model_ids:
        model = None

    def num(name):
        try:
            return max(0, int(one(name, "0")))
        except ValueError:
            return 0

    tag = one("tag", "")
    source = one("tags", "text")
    return {
        "text": text[:MAX_CHARS],
        "model": model,
        "layer": num("layer"),
        "head": num("head"),
        "tag": tag if tag in TAGS else "",
        "source": source if source in ("text", "profile") else "text",
        "hide_first": one("hide_first") in ("1", "true", "yes"),
    }


def head_payload(res: dict, layer: int, head: int, hide_first=None) -> dict:
    """What the browser needs for one head: tokens and the T×T matrix (rows = queries) as shown."""
    m = np.asarray(res["attentions"][layer, head], dtype=np.float64)
    if is_hidden(hide_first):
        m = hide_first_token(m).astype(np.float64)
    return {
        "key": res["key"],
        "model": res["model"],
        "layer": layer,
        "head": head,
        "tokens": [{"text": display_token(t), "special": bool(t.get("special"))} for t in res["tokens"]],
        "matrix": np.round(m, 6).tolist(),
        "hide_first": is_hidden(hide_first),
    }


def shown_result(data: AttentionData, meta: dict, selection: dict | None) -> tuple[dict, dict]:
    """The result the page shows (from the dashboard's cache) and its selection clamped to the grid.

    Raises DashboardError when the result cannot be had again (service down and cache expired)."""
    res = data.attention(meta["text"], meta["model"])
    return res, clamp_selection(selection, res["layers"], res["heads"])


def register(app: Dash, data: AttentionData) -> None:
    """Attach all callbacks to ``app``."""

    app.clientside_callback(_cs("counter"), Output("char-counter", "children"),
                            Output("char-counter", "className"), Input("text-input", "value"))

    @app.callback(Output("attention-share", "children"), Input("model-select", "value"))
    def _share(model_id):
        return share_text(data.model_info(model_id))

    @app.callback(
        Output("model-view", "figure"),
        Output("result-meta", "data"),
        Output("selection", "data"),
        Output("status", "children"),
        Output("status", "className"),
        Output("head-tags", "data"),
        Output("tag-counts", "children"),
        Input("process-button", "n_clicks"),
        Input("text-input", "n_submit"),
        State("text-input", "value"),
        State("model-select", "value"),
        State("selection", "data"),
        State("result-meta", "data"),
        State("hide-first-token", "value"),
        State("tag-source", "value"),
        State("tag-filter", "value"),
        running=[(Output("process-button", "disabled"), True, False),
                 (Output("process-button", "children"), "Processing…", "Process")],
        prevent_initial_call=True,
    )
    def _process(_clicks, _submit, text, model, selection, previous, hide_first, source, tag):
        try:
            res = data.attention(text, model)
        except DashboardError as exc:
            msg = exc.message
            if previous:
                msg += f" The views below still show the previous text “{previous['text']}”."
            return no_update, no_update, no_update, msg, "hg-status hg-error", no_update, no_update
        sel = clamp_selection(selection, res["layers"], res["heads"])
        stats = data.heads_stats(res)
        profile = data.heads_profile(res["model"])
        tags_store = {"key": res["key"], "text": (stats or {}).get("tags"), "profile": (profile or {}).get("tags")}
        fig = model_view_figure(shown_attentions(res, hide_first), model=res["model"], key=res["key"], **sel,
                                tags=view_tags(tags_store, source), tag_filter=tag or None)
        meta = {"key": res["key"], "model": res["model"], "text": res["text"], "layers": res["layers"],
                "heads": res["heads"], "tokens": len(res["tokens"])}
        counts = counts_panel(stats, profile, res["layers"] * res["heads"])
        return fig, meta, sel, status_text(res), "hg-status hg-ok", tags_store, counts

    @app.callback(
        Output("model-view", "figure", allow_duplicate=True),
        Input("hide-first-token", "value"),
        State("result-meta", "data"),
        State("selection", "data"),
        State("head-tags", "data"),
        State("tag-source", "value"),
        State("tag-filter", "value"),
        prevent_initial_call=True,
    )
    def _redraw(hide_first, meta, selection, tags_store, source, tag):
        """Hide-first-token changed: redraw the mosaic with the weights as now shown."""
        if not meta:
            return no_update
        try:
            res, sel = shown_result(data, meta, selection)
        except DashboardError:
            return no_update
        return model_view_figure(shown_attentions(res, hide_first), model=res["model"], key=res["key"], **sel,
                                 tags=view_tags(tags_store, source), tag_filter=tag or None)

    # Tag source / filter → badges and veils on the grid (browser side, Plotly.restyle/relayout).
    app.clientside_callback(_cs("tagView"), Output("tag-note", "children"),
                            Input("tag-filter", "value"), Input("tag-source", "value"), Input("head-tags", "data"),
                            prevent_initial_call=True)
    app.clientside_callback(_cs("exportPng"), Output("png-done", "data"), Input("export-png", "n_clicks"),
                            prevent_initial_call=True)
    # View state → URL query string (history.replaceState in the browser: no reload, no request).
    app.clientside_callback(_cs("writeUrl"), Output("url-state", "data"),
                            Input("result-meta", "data"), Input("selection", "data"), Input("tag-filter", "value"),
                            Input("tag-source", "value"), Input("hide-first-token", "value"),
                            prevent_initial_call=True)

    @app.callback(
        Output("text-input", "value"),
        Output("model-select", "value"),
        Output("selection", "data", allow_duplicate=True),
        Output("tag-filter", "value"),
        Output("tag-source", "value"),
        Output("hide-first-token", "value"),
        Output("process-button", "n_clicks"),
        Input("url", "search"),
        State("result-meta", "data"),
        State("process-button", "n_clicks"),
        State("model-select", "value"),
        prevent_initial_call="initial_duplicate",
    )
    def _restore(search, meta, clicks, current_model):
        """Opening a copied link: restore model, text, head, tag view and toggle, then Process."""
        if meta:
            return (no_update,) * 7
        model_ids = [m["id"] for m in data.model_info_list()]
        view = parse_view_query(search, model_ids)
        if view is None:
            return (no_update,) * 7
        return (view["text"], view["model"] or current_model, {"layer": view["layer"], "head": view["head"]},
                view["tag"], view["source"], ["hide"] if view["hide_first"] else [], (clicks or 0) + 1)

    @app.callback(
        Output("download-csv", "data"),
        Input("export-csv", "n_clicks"),
        State("result-meta", "data"),
        State("selection", "data"),
        State("hide-first-token", "value"),
        prevent_initial_call=True,
    )
    def _export_csv(_clicks, meta, selection, hide_first):
        if not meta:
            return no_update
        try:
            res, sel = shown_result(data, meta, selection)
        except DashboardError:
            return no_update
        payload = head_payload(res, **sel, hide_first=hide_first)
        body = matrix_csv(np.asarray(payload["matrix"]), [t["text"] for t in payload["tokens"]])
        suffix = "-first-token-hidden" if payload["hide_first"] else ""
        name = f"headgaze-{res['model']}-layer{sel['layer']}-head{sel['head']}{suffix}.csv"
        return dcc.send_string(body, name, type="text/csv")

    # Grid click and keyboard Enter → selection: set from assets/headgaze.js with the tile under the
    # pointer (never from clickData, whose points lag behind the pointer; see tileAt there).
    # Selection → outline on the grid (no server round trip, same figure data).
    app.clientside_callback(_cs("highlight"), Output("model-view", "figure", allow_duplicate=True),
                            Input("selection", "data"), State("model-view", "figure"),
                            prevent_initial_call=True)

    @app.callback(
        Output("head-data", "data"),
        Output("head-base", "data"),
        Output("selected-head", "children"),
        Output("status", "children", allow_duplicate=True),
        Output("status", "className", allow_duplicate=True),
        Output("head-stats", "children"),
        Input("selection", "data"),
        Input("result-meta", "data"),
        Input("hide-first-token", "value"),
        prevent_initial_call=True,
    )
    def _select(selection, meta, hide_first):
        if not meta:
            return (no_update,) * 6
        try:
            res, sel = shown_result(data, meta, selection)
        except DashboardError as exc:
            return no_update, no_update, no_update, exc.message, "hg-status hg-error", no_update
        payload = head_payload(res, **sel, hide_first=hide_first)
        fig = head_view_figure(np.asarray(payload["matrix"]), res["tokens"], **sel)
        summary = head_summary(data.heads_stats(res), data.heads_profile(res["model"]), **sel)
        return payload, fig, f"layer {sel['layer']} · head {sel['head']}", no_update, no_update, stats_table(summary)

    app.clientside_callback(_cs("headView"), Output("head-view", "figure"),
                            Input("head-base", "data"), Input("head-view", "hoverData"),
                            State("head-data", "data"))
    app.clientside_callback(_cs("hoverView"), Output("hover-view", "children"),
                            Input("head-data", "data"))
