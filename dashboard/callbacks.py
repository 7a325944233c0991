"""Callbacks: Process and head selection run on the server; what must not wait for it (hover,
highlight, the character counter) runs in the browser (dashboard/views/*.js, assets/headgaze.js).

Figures are only ever changed through Dash: whole figures from the server, or partial updates
(``dash.Patch`` on the server, ``dash_clientside.Patch`` in the browser).
"""

from __future__ import annotations

import numpy as np
from dash import Dash, Input, Output, Patch, State, dcc, no_update

from .about import first_token_text, share_text
from .callbacks_qk import register_qk
from .data import AttentionData, DashboardError
from .head_panels import counts_panel, stats_table, tag_note
from .heads import head_summary, hide_first_token, matrix_csv
from .view_query import parse_view_query
from .views import clientside as _cs
from .views.head_view import focused_query, head_view_figure, heatmap_figure
from .views.hover_view import display_token, hover_view_children
from .views.layer_view import layer_view_figure
from .views.model_view import badge_points, dim_shapes, model_view_figure, mosaic_u2, typed_array


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


def view_tags(tags_store: dict | None, source: str | None) -> list | None:
    """The [L][H] tag lists of the chosen source ("text" or "profile") from the head-tags store."""
    if not tags_store:
        return None
    return tags_store.get("profile") if source == "profile" else tags_store.get("text")


def head_matrix(data: AttentionData, res: dict, layer: int, head: int, hide_first=None,
                weighting: str = "attention") -> np.ndarray:
    """One head's T×T weights (rows = queries) as shown: fetched for the selected head only, as the
    backend weighted them (``weighting``), raw or with token 0 hidden and each row renormalised."""
    m = data.head(res, layer, head, weighting)
    return hide_first_token(m) if is_hidden(hide_first) else m


def csv_name(model: str, layer: int, head: int, hide_first=None, weighting: str = "attention") -> str:
    """The CSV export's file name: the head and what was done to its weights."""
    suffix = ("-value-norm-weighted" if weighting == "value_norm" else "") + (
        "-first-token-hidden" if is_hidden(hide_first) else "")
    return f"headgaze-{model}-layer{layer}-head{head}{suffix}.csv"


def head_payload(res: dict, layer: int, head: int, hide_first=None, weighting: str = "attention") -> dict:
    """What the browser needs for one head's hover besides its matrix: which head and the tokens. The
    T×T matrix is sent once, as the heatmap's z (hover_view.js reads it from there)."""
    return {
        "key": res["key"],
        "model": res["model"],
        "layer": layer,
        "head": head,
        "tokens": [{"text": display_token(t), "special": bool(t.get("special"))} for t in res["tokens"]],
        "hide_first": is_hidden(hide_first),
        "weighting": weighting,
    }


def shown_result(data: AttentionData, meta: dict, selection: dict | None) -> tuple[dict, dict]:
    """The result the page shows (from the dashboard's cache) and its selection clamped to the grid.

    Raises DashboardError when the result cannot be had again (service down and cache expired)."""
    res = data.grid(meta["text"], meta["model"])
    return res, clamp_selection(selection, res["layers"], res["heads"])


def grid_figure(res: dict, tags: list | None, tag: str | None, panel: dict | None) -> dict:
    """The model view of a result: the service's thumbnails as they are."""
    return model_view_figure(res["grid"], res["cells"], model=res["model"], key=res["key"],
                             tokens=[display_token(t) for t in res["tokens"]], panel=panel, tags=tags,
                             tag_filter=tag or None)


def register(app: Dash, data: AttentionData) -> None:
    """Attach all callbacks to ``app``."""

    app.clientside_callback(_cs("counter"), Output("char-counter", "children"),
                            Output("char-counter", "className"), Input("text-input", "value"),
                            State("hg-config", "data"))
    app.clientside_callback(_cs("panelSize"), Output("panel-size", "data"), Input("url", "pathname"))

    @app.callback(Output("attention-share", "children"), Output("first-token-share", "children"),
                  Input("model-select", "value"))
    def _share(model_id):
        return share_text(data.model_info(model_id)), first_token_text(data.heads_profile(model_id) if model_id else None)

    @app.callback(
        Output("model-view", "figure"),
        Output("result-meta", "data"),
        Output("selection", "data"),
        Output("status", "children"),
        Output("status", "className"),
        Output("head-tags", "data"),
        Output("tag-counts", "children"),
        Output("tag-note", "children"),
        Output("weighting", "value", allow_duplicate=True),
        Input("process-button", "n_clicks"),
        Input("text-input", "n_submit"),
        Input("model-select", "value"),
        State("text-input", "value"),
        State("selection", "data"),
        State("result-meta", "data"),
        State("hide-first-token", "value"),
        State("tag-source", "value"),
        State("tag-filter", "value"),
        State("panel-size", "data"),
        State("weighting", "value"),
        running=[(Output("process-button", "disabled"), True, False),
                 (Output("process-button", "children"), "Processing…", "Process")],
        prevent_initial_call=True,
    )
    def _process(_clicks, _submit, model, text, selection, previous, hide_first, source, tag, panel, weighting):
        """Process, Enter in the text box, or a model change: compute and draw the model view (weighted
        as the switch says; a model without value norms turns the switch back to attention weights)."""
        shown = data.weighting(model, weighting)
        switch = shown if shown != (weighting or "attention") else no_update
        try:
            res = data.grid(text, model, is_hidden(hide_first), shown)
        except DashboardError as exc:
            msg = exc.message
            if previous:
                msg += f" The views still show “{previous['text']}” with {previous['model']}."
            return no_update, no_update, no_update, msg, "hg-status hg-error", no_update, no_update, no_update, switch
        sel = clamp_selection(selection, res["layers"], res["heads"])
        # Only a selection the new grid cannot hold is changed: a tile clicked while this request
        # was in flight stays selected.
        new_sel = sel if sel != clamp_selection(selection, 10**6, 10**6) else no_update
        stats = data.heads_stats(res)
        profile = data.heads_profile(res["model"])
        tags_store = {"key": res["key"], "text": (stats or {}).get("tags"), "profile": (profile or {}).get("tags")}
        tags = view_tags(tags_store, source)
        fig = grid_figure(res, tags, tag, panel)
        meta = {"key": res["key"], "model": res["model"], "text": res["text"], "layers": res["layers"],
                "heads": res["heads"], "tokens": len(res["tokens"]), "cells": len(res["cells"]),
                "tile": fig["layout"]["meta"]["tile"]}
        total = res["layers"] * res["heads"]
        return (fig, meta, new_sel, status_text(res), "hg-status hg-ok", tags_store, counts_panel(stats, profile, total),
                tag_note(tags, tag, source, total), switch)

    @app.callback(
        Output("model-view", "figure", allow_duplicate=True),
        Input("hide-first-token", "value"),
        Input("weighting", "value"),
        State("result-meta", "data"),
        prevent_initial_call=True,
    )
    def _redraw(hide_first, weighting, meta):
        """Hide-first-token or the weighting changed: the thumbnails pooled by the service after the
        weighting and hiding token 0 (or the raw ones) replace the mosaic's values, nothing else."""
        if not meta:
            return no_update
        try:
            res = data.grid(meta["text"], meta["model"], is_hidden(hide_first), data.weighting(meta["model"], weighting))
        except DashboardError:
            return no_update
        patch = Patch()
        patch["data"][0]["z"] = typed_array(mosaic_u2(res["grid"]))
        return patch

    @app.callback(
        Output("model-view", "figure", allow_duplicate=True),
        Output("tag-note", "children", allow_duplicate=True),
        Input("tag-filter", "value"),
        Input("tag-source", "value"),
        State("head-tags", "data"),
        State("result-meta", "data"),
        prevent_initial_call=True,
    )
    def _tag_view(tag, source, tags_store, meta):
        """Tag source / filter: badges and veils of the grid, as a Patch of those parts only."""
        if not meta or not tags_store or tags_store.get("key") != meta["key"]:
            return no_update, no_update
        tags = view_tags(tags_store, source)
        cells = meta["cells"]
        patch = Patch()
        badges = badge_points(tags, cells)
        for k in ("x", "y", "text"):
            patch["data"][1][k] = badges[k]
        patch["layout"]["shapes"] = dim_shapes(tags, tag, cells)
        return patch, tag_note(tags, tag, source, meta["layers"] * meta["heads"])

    app.clientside_callback(_cs("exportPng"), Output("png-done", "data"), Input("export-png", "n_clicks"),
                            prevent_initial_call=True)
    # View state → URL query string (history.replaceState in the browser: no reload, no request).
    app.clientside_callback(_cs("writeUrl"), Output("url-state", "data"),
                            Input("result-meta", "data"), Input("selection", "data"), Input("tag-filter", "value"),
                            Input("tag-source", "value"), Input("hide-first-token", "value"),
                            Input("weighting", "value"), prevent_initial_call=True)

    @app.callback(
        Output("text-input", "value"),
        Output("model-select", "value"),
        Output("selection", "data", allow_duplicate=True),
        Output("tag-filter", "value"),
        Output("tag-source", "value"),
        Output("hide-first-token", "value"),
        Output("weighting", "value"),
        Output("process-button", "n_clicks"),
        Input("url", "search"),
        State("result-meta", "data"),
        State("process-button", "n_clicks"),
        State("model-select", "value"),
        prevent_initial_call="initial_duplicate",
    )
    def _restore(search, meta, clicks, current_model):
        """Page load: restore the view of a copied link, then Process (the example text otherwise)."""
        if meta:
            return (no_update,) * 8
        model_ids = [m["id"] for m in data.model_info_list()]
        view = parse_view_query(search, model_ids, data.max_chars)
        if view is None:
            return (no_update,) * 7 + ((clicks or 0) + 1,) if model_ids else (no_update,) * 8
        model = view["model"] or current_model
        return (view["text"], model, {"layer": view["layer"], "head": view["head"]},
                view["tag"], view["source"], ["hide"] if view["hide_first"] else [],
                data.weighting(model, view["weighting"]), (clicks or 0) + 1)

    @app.callback(
        Output("download-csv", "data"),
        Input("export-csv", "n_clicks"),
        State("result-meta", "data"),
        State("selection", "data"),
        State("hide-first-token", "value"),
        State("weighting", "value"),
        prevent_initial_call=True,
    )
    def _export_csv(_clicks, meta, selection, hide_first, weighting):
        if not meta:
            return no_update
        weighting = data.weighting(meta["model"], weighting)
        try:
            res, sel = shown_result(data, meta, selection)
            matrix = head_matrix(data, res, sel["layer"], sel["head"], hide_first, weighting)
        except DashboardError:
            return no_update
        body = matrix_csv(matrix, [display_token(t) for t in res["tokens"]])
        name = csv_name(res["model"], sel["layer"], sel["head"], hide_first, weighting)
        return dcc.send_string(body, name, type="text/csv")

    # Selection → outline on the grid (browser side, a Patch of the outline trace only). Clicks and
    # the keyboard set the selection store from dashboard/views/model_view.js. The grid's geometry comes
    # from result-meta (not the ~1 MB figure as a State).
    app.clientside_callback(_cs("outline"), Output("model-view", "figure", allow_duplicate=True),
                            Input("selection", "data"), Input("result-meta", "data"), prevent_initial_call=True)

    @app.callback(
        Output("head-data", "data"),
        Output("head-base", "data"),
        Output("head-heatmap", "figure"),
        Output("selected-head", "children"),
        Output("status", "children", allow_duplicate=True),
        Output("status", "className", allow_duplicate=True),
        Output("head-stats", "children"),
        Input("selection", "data"),
        Input("result-meta", "data"),
        Input("hide-first-token", "value"),
        Input("weighting", "value"),
        State("focus", "data"),
        prevent_initial_call=True,
    )
    def _select(selection, meta, hide_first, weighting, focus):
        """The selected head: its matrix (fetched for this head only, weighted as the switch says) for
        the browser (head view, heatmap, hover view) and its scores."""
        if not meta:
            return (no_update,) * 7
        weighting = data.weighting(meta["model"], weighting)
        try:
            res, sel = shown_result(data, meta, selection)
            layer, head = sel["layer"], sel["head"]
            matrix = head_matrix(data, res, layer, head, hide_first, weighting)
        except DashboardError as exc:
            return (no_update,) * 4 + (exc.message, "hg-status hg-error", no_update)
        tokens = res["tokens"]
        summary = head_summary(data.heads_stats(res), data.heads_profile(res["model"]), layer, head)
        return (head_payload(res, layer, head, hide_first, weighting),
                head_view_figure(matrix, tokens, layer=layer, head=head,
                                 query=focused_query(focus, res["key"], len(tokens), tokens)),
                heatmap_figure(matrix, tokens, layer=layer, head=head, weighting=weighting),
                f"layer {layer} · head {head}", no_update, no_update, stats_table(summary))

    @app.callback(Output("hover-view", "children"), Input("result-meta", "data"), prevent_initial_call=True)
    def _hover_text(meta):
        """The hover view's running text, once per text (not per head: a head click does not send and
        render T chips again); hover_view.js shades it with the selected head's matrix."""
        if not meta:
            return no_update
        try:
            res = data.grid(meta["text"], meta["model"])
        except DashboardError:
            return no_update
        return hover_view_children(res["text"], res["tokens"], res["key"])

    @app.callback(
        Output("layer-view", "figure"),
        Input("selected-head", "children"),
        State("selection", "data"),
        State("result-meta", "data"),
        State("hide-first-token", "value"),
        State("weighting", "value"),
        prevent_initial_call=True,
    )
    def _layer(_shown, selection, meta, hide_first, weighting):
        """The selected head's layer: every head of it (one cached head request each), overlaid. It
        follows the head's views (their answer sets ``selected-head``), so it does not delay them."""
        if not meta:
            return no_update
        try:
            res, sel = shown_result(data, meta, selection)
            layer_att = data.layer(res, sel["layer"], data.weighting(meta["model"], weighting))
        except DashboardError:
            return no_update  # the head callback reports the error in the status line
        layer_att = hide_first_token(layer_att) if is_hidden(hide_first) else layer_att
        return layer_view_figure(layer_att, res["tokens"], layer=sel["layer"], selected_head=sel["head"])

    # The head view as the browser draws it (short texts: the server's figure; long texts: the focus
    # window); hovers redraw it from head_view.js with dash_clientside.set_props, after the next paint.
    app.clientside_callback(_cs("headView"), Output("head-view", "figure"),
                            Input("head-base", "data"), State("head-data", "data"), State("hg-config", "data"))
    app.clientside_callback(_cs("headData"), Output("hover-head", "children"),
                            Input("head-data", "data"), State("head-heatmap", "figure"), State("hg-config", "data"))

    register_qk(app, data, shown_result)  # the query · key view and the weighting switch's controls
