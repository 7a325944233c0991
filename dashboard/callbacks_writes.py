"""The writes view's callbacks: what the selected head writes into the vocabulary at every query of the
shown text, fetched once per text and head (``writes-data``), and the bars of the focused query
(server: the first drawing; browser: each focus change, dashboard/views/writes_view.js)."""

from __future__ import annotations

from dash import Dash, Input, Output, State, no_update

from .data import AttentionData, DashboardError
from .shown import follows, shown_grid
from .views import clientside
from .views.head_view import focused_query
from .views.hover_view import display_token
from .views.writes_view import MAX_QUERIES, compact, title_for, writes_figure


def register_writes(app: Dash, data: AttentionData) -> None:
    @app.callback(
        Output("writes-data", "data"),
        Output("writes-view", "figure"),
        Output("writes-note", "children"),
        Input("head-data", "data"),
        State("result-meta", "data"),
        State("focus", "data"),
        prevent_initial_call=True,
    )
    def _writes(hd, meta, focus):
        if not follows(hd, meta):
            return no_update, no_update, no_update
        info = data.model_info(meta["model"]) or {}
        if not info.get("writes"):
            return None, writes_figure(None, ""), f"{meta['model']} has no LM head on the lean graph: no writes."
        try:
            res = shown_grid(data, meta)
            T = len(res["tokens"])
            if T > MAX_QUERIES:
                return None, writes_figure(None, ""), f"Writes are shown for texts up to {MAX_QUERIES} tokens ({T} here)."
            writes = data.writes(res, hd["layer"], hd["head"], T)
        except DashboardError as exc:
            return None, no_update, exc.message
        rows = compact(writes)
        q = focused_query(focus, res["key"], T, res["tokens"])
        store = {"key": meta["key"], "result": res["key"], "layer": hd["layer"], "head": hd["head"], "rows": rows,
                 "tokens": [display_token(t) for t in res["tokens"]]}
        fig = writes_figure(rows[str(q)], title_for(res["tokens"], q, hd["layer"], hd["head"]))
        fig["layout"]["meta"] = {"key": meta["key"], "layer": hd["layer"], "head": hd["head"], "query": q}
        return store, fig, ""

    app.clientside_callback(clientside("writesView"), Output("writes-view", "figure", allow_duplicate=True),
                            Input("focus", "data"), State("writes-data", "data"), prevent_initial_call=True)
