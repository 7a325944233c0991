"""Callbacks of the query · key view and of the weighting switch's controls.

The q·k view is drawn on the server when a head is selected (its q and k fetched once, cached) for
the focused query (the page's ``focus`` store: the last query hovered, kept across heads, the
weighting switch and hide first token); hovering a query token in the head view or a row of the
heatmap redraws it in the browser (dashboard/views/qk_view.js, from the ``qk-data`` store, with
``dash_clientside.set_props``: no server request, and not behind the head view's own redraw).
"""

from __future__ import annotations

from dash import Dash, Input, Output, State, no_update

from .data import AttentionData, DashboardError
from .layout import WEIGHTING_LEGEND, empty_figure, weighting_options
from .shown import follows, keyed, shown_grid
from .views import clientside
from .views.head_view import focused_query
from .views.qk_view import qk_payload, qk_view_figure


def register_qk(app: Dash, data: AttentionData) -> None:
    """Attach the q·k view's and the weighting switch's callbacks."""

    @app.callback(Output("weighting", "options"), Output("weighting-note", "children"),
                  Output("weighting-legend", "children"), Output("weighting", "value", allow_duplicate=True),
                  Input("model-select", "value"), Input("weighting", "value"), prevent_initial_call="initial_duplicate")
    def _weighting_ui(model_id, weighting):
        """The switch (disabled, saying why, for a model without value norms, and turned back to
        attention weights for it) and the legend's note."""
        reason = data.qk_reason(model_id)
        note = f"(weight × value norm: not available for this model: {reason})" if reason else ""
        shown = data.weighting(model_id, weighting)
        legend = WEIGHTING_LEGEND if shown == "value_norm" else ""
        return weighting_options(reason), note, legend, shown if shown != (weighting or "attention") else no_update

    @app.callback(
        Output("qk-view", "figure"),
        Output("qk-data", "data"),
        Output("qk-note", "children"),
        Input("head-data", "data"),
        State("result-meta", "data"),
        State("focus", "data"),
        prevent_initial_call=True,
    )
    def _qk(hd, meta, focus):
        """The selected head's query · key view: its q and k fetched once (cached), drawn for the focused
        query and handed to the browser, which redraws the view on hover (qk_view.js). A model without
        q/k gets the manifest's reason instead. It follows the head's views (``head-data``)."""
        if not follows(hd, meta):
            return no_update, no_update, no_update
        key, layer, head = meta["key"], hd["layer"], hd["head"]
        try:
            res = shown_grid(data, meta)
            qk = data.head_qk(res, layer, head)
        except DashboardError as exc:
            return keyed(empty_figure(exc.message, 120), key, layer=layer, head=head), None, exc.message
        causal = bool((data.model_info(res["model"]) or {}).get("causal"))
        args = (qk["queries"], qk["keys"], qk["scale"])
        where = {"layer": layer, "head": head, "causal": causal}
        tokens = res["tokens"]
        query = focused_query(focus, res["key"], len(tokens), tokens)
        return (keyed(qk_view_figure(*args, tokens, **where, query=query), key), qk_payload(*args, key=key, **where),
                f"kv head {qk['kv_head']} · scale {qk['scale']:.4f} · {qk['queries'].shape[1]} dimensions")

    # The head's q and k for the browser's hover redraws (qk_view.js keeps them decoded).
    app.clientside_callback(clientside("qkData"), Output("qk-head", "children"), Input("qk-data", "data"))
