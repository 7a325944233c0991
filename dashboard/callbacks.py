"""Callbacks: Process (server), head selection (server), and the browser-side views.

Server callbacks compute or fetch attention and ship compact data; everything that reacts to the
mouse (head-view hover, hover view, grid highlight, character counter) is a clientside callback
in ``assets/headgaze.js`` so that hovering makes no request.
"""

from __future__ import annotations

import numpy as np
from dash import ClientsideFunction, Dash, Input, Output, State, no_update

from .about import share_text
from .data import AttentionData, DashboardError
from .figures import display_token, head_view_figure, model_view_figure


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


def head_payload(res: dict, layer: int, head: int) -> dict:
    """What the browser needs for one head: tokens and the T×T matrix (rows = queries)."""
    m = np.asarray(res["attentions"][layer, head], dtype=np.float64)
    return {
        "key": res["key"],
        "model": res["model"],
        "layer": layer,
        "head": head,
        "tokens": [{"text": display_token(t), "special": bool(t.get("special"))} for t in res["tokens"]],
        "matrix": np.round(m, 6).tolist(),
    }


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
        Input("process-button", "n_clicks"),
        Input("text-input", "n_submit"),
        State("text-input", "value"),
        State("model-select", "value"),
        State("selection", "data"),
        State("result-meta", "data"),
        running=[(Output("process-button", "disabled"), True, False),
                 (Output("process-button", "children"), "Processing…", "Process")],
        prevent_initial_call=True,
    )
    def _process(_clicks, _submit, text, model, selection, previous):
        try:
            res = data.attention(text, model)
        except DashboardError as exc:
            msg = exc.message
            if previous:
                msg += f" The views below still show the previous text “{previous['text']}”."
            return no_update, no_update, no_update, msg, "hg-status hg-error"
        sel = clamp_selection(selection, res["layers"], res["heads"])
        fig = model_view_figure(res["attentions"], model=res["model"], key=res["key"], **sel)
        meta = {"key": res["key"], "model": res["model"], "text": res["text"], "layers": res["layers"],
                "heads": res["heads"], "tokens": len(res["tokens"])}
        return fig, meta, sel, status_text(res), "hg-status hg-ok"

    # Grid click → selection (browser side); keyboard Enter sets the same store from headgaze.js.
    app.clientside_callback(_cs("clickToSelection"), Output("selection", "data", allow_duplicate=True),
                            Input("model-view", "clickData"), State("result-meta", "data"),
                            prevent_initial_call=True)
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
        Input("selection", "data"),
        Input("result-meta", "data"),
        prevent_initial_call=True,
    )
    def _select(selection, meta):
        if not meta:
            return no_update, no_update, no_update, no_update, no_update
        try:
            res = data.attention(meta["text"], meta["model"])
        except DashboardError as exc:
            return no_update, no_update, no_update, exc.message, "hg-status hg-error"
        sel = clamp_selection(selection, res["layers"], res["heads"])
        payload = head_payload(res, **sel)
        fig = head_view_figure(res["attentions"][sel["layer"], sel["head"]], res["tokens"], **sel)
        return payload, fig, f"layer {sel['layer']} · head {sel['head']}", no_update, no_update

    app.clientside_callback(_cs("headView"), Output("head-view", "figure"),
                            Input("head-base", "data"), Input("head-view", "hoverData"),
                            State("head-data", "data"))
    app.clientside_callback(_cs("hoverView"), Output("hover-view", "children"),
                            Input("head-data", "data"))
