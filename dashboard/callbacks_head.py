"""The selected head's callbacks: its matrix (head view, heatmap, hover view), its layer and the CSV
export (the hover view's running text: dashboard/callbacks_hover.py).

They follow what the grid shows, not the controls: text, model and switches come from
``result-meta`` (written with the grid, dashboard/callbacks_grid.py), and every answer carries its
view key and head. Each output has one writer, so Dash's own rule (a callback's answer is dropped
when that callback was triggered again meanwhile) keeps a late answer for an older head or text
from being drawn; the browser code that combines several of them (head_view.js, hover_view.js,
qk_view.js) also checks that their keys and heads agree before it draws.
"""

from __future__ import annotations

from dash import Dash, Input, Output, State, dcc, no_update

from .data import AttentionData, DashboardError
from .head_panels import stats_table
from .heads import head_summary, hide_first_token, matrix_csv
from .shown import answer_start, csv_name, follows, head_matrix, head_payload, keyed, shown_grid, shown_result
from .views import clientside
from .views.constants import HEATMAP_MAX_CELLS, LAYER_MAX_TOKENS
from .views.head_view import focused_query, head_view_figure, heatmap_figure, matrix_payload
from .views.hover_view import display_token
from .views.layer_view import layer_too_long, layer_view_figure


def register_head(app: Dash, data: AttentionData) -> None:
    """Attach the head, layer and CSV callbacks and the head's browser-side views."""

    @app.callback(
        Output("head-data", "data"),
        Output("head-base", "data"),
        Output("head-heatmap", "figure"),
        Output("selected-head", "children"),
        Output("status", "children", allow_duplicate=True),
        Output("status", "className", allow_duplicate=True),
        Output("head-stats", "children"),
        Output("head-matrix", "data"),
        Input("selection", "data"),
        Input("result-meta", "data"),
        State("focus", "data"),
        prevent_initial_call=True,
    )
    def _select(selection, meta, focus):
        """The selected head of the shown result: its matrix (fetched for this head only, weighted and
        hidden as the grid is) for the browser (head view, heatmap, hover view) and its scores. Beyond
        HEATMAP_MAX_CELLS tokens the heatmap is pooled and the full matrix goes to ``head-matrix``."""
        if not meta:
            return (no_update,) * 8
        hidden, weighting, key = meta["hide_first"], meta["weighting"], meta["key"]
        try:
            res, sel = shown_result(data, meta, selection)
            layer, head = sel["layer"], sel["head"]
            matrix = head_matrix(data, res, layer, head, hidden, weighting)
        except DashboardError as exc:
            return (no_update,) * 4 + (exc.message, "hg-status hg-error", no_update, no_update)
        tokens = res["tokens"]
        summary = head_summary(data.heads_stats(res), data.heads_profile(res["model"]), layer, head)
        query = focused_query(focus, res["key"], len(tokens), tokens)
        full = matrix_payload(matrix, key=key, layer=layer, head=head) if len(tokens) > HEATMAP_MAX_CELLS else None
        return (head_payload(res, layer, head, hidden, weighting),
                keyed(head_view_figure(matrix, tokens, layer=layer, head=head, query=query,
                                       answer_start=answer_start(meta)), key),
                keyed(heatmap_figure(matrix, tokens, layer=layer, head=head, weighting=weighting,
                                     answer_start=answer_start(meta)), key),
                f"layer {layer} · head {head}", no_update, no_update, stats_table(summary), full)

    @app.callback(
        Output("layer-view", "figure"),
        Input("head-data", "data"),
        State("result-meta", "data"),
        prevent_initial_call=True,
    )
    def _layer(hd, meta):
        """The selected head's layer: every head of it (one cached head request each), overlaid. It
        follows the head's views (their answer sets ``head-data``), so it does not delay them."""
        if not follows(hd, meta):
            return no_update
        try:
            res = shown_grid(data, meta)
            if len(res["tokens"]) > LAYER_MAX_TOKENS:  # nine full matrices and 2T labels: not for long texts
                return keyed(layer_too_long(len(res["tokens"]), layer=hd["layer"], selected_head=hd["head"]),
                             meta["key"])
            layer_att = data.layer(res, hd["layer"], meta["weighting"])
        except DashboardError:
            return no_update  # the head callback reports the error in the status line
        layer_att = hide_first_token(layer_att) if meta["hide_first"] else layer_att
        return keyed(layer_view_figure(layer_att, res["tokens"], layer=hd["layer"], selected_head=hd["head"]),
                     meta["key"])

    @app.callback(
        Output("download-csv", "data"),
        Input("export-csv", "n_clicks"),
        State("result-meta", "data"),
        State("selection", "data"),
        prevent_initial_call=True,
    )
    def _export_csv(_clicks, meta, selection):
        """The selected head's matrix as the grid shows it (its text, model and switches)."""
        if not meta:
            return no_update
        try:
            res, sel = shown_result(data, meta, selection)
            matrix = head_matrix(data, res, sel["layer"], sel["head"], meta["hide_first"], meta["weighting"])
        except DashboardError:
            return no_update
        body = matrix_csv(matrix, [display_token(t) for t in res["tokens"]])
        name = csv_name(res["model"], sel["layer"], sel["head"], meta["hide_first"], meta["weighting"])
        return dcc.send_string(body, name, type="text/csv")

    # The head view as the browser draws it (short texts: the server's figure; long texts: the focus
    # window); hovers redraw it from head_view.js with dash_clientside.set_props, after the next paint.
    app.clientside_callback(clientside("headView"), Output("head-view", "figure"),
                            Input("head-base", "data"), State("head-data", "data"), State("hg-config", "data"))
    app.clientside_callback(clientside("headData"), Output("hover-head", "children"),
                            Input("head-data", "data"), State("head-heatmap", "figure"), State("head-matrix", "data"),
                            State("hg-config", "data"))
