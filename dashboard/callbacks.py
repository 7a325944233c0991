"""Callbacks: the page's wiring. The grid (dashboard/callbacks_grid.py), the selected head
(callbacks_head.py), the hover view's text (callbacks_hover.py), the q·k view (callbacks_qk.py) and
Generate (callbacks_answer.py) run on the server; what must not wait for it (hover, highlight, the
character counter, a slow request's elapsed seconds) runs in the browser (dashboard/views/*.js,
assets/headgaze.js, assets/progress.js). This module keeps the page-level ones: a copied link
restored on load, the view written back to the address bar, the attention-share notes, the progress
timer's start and the exports' browser side.

Figures are only ever changed through Dash: whole figures from the server, or partial updates
(``dash.Patch`` on the server, ``dash_clientside.Patch`` in the browser). Which answers may be
drawn, under any timing, is said in dashboard/shown.py and callbacks_grid.py.
"""

from __future__ import annotations

from dash import Dash, Input, Output, State, no_update

from .about import first_token_text, share_text
from .callbacks_answer import register_answer
from .callbacks_grid import register_grid
from .callbacks_head import register_head
from .callbacks_hover import register_hover
from .callbacks_knockout import register_knockout
from .callbacks_qk import register_qk
from .callbacks_writes import register_writes
from .data import AttentionData
from .view_query import parse_view_query
from .views import clientside as _cs


def register(app: Dash, data: AttentionData) -> None:
    """Attach all callbacks to ``app``."""

    app.clientside_callback(_cs("counter"), Output("char-counter", "children"),
                            Output("char-counter", "className"), Input("text-input", "value"),
                            State("hg-config", "data"))
    app.clientside_callback(_cs("panelSize"), Output("panel-size", "data"), Input("url", "pathname"))
    # A grid request starts the progress timer (assets/progress.js): "running the model… n s" beside the
    # status line once it runs longer than PROGRESS_AFTER_S, cleared when its answer arrives.
    app.clientside_callback(_cs("progressStart"), Output("progress", "children"), Input("grid-request", "data"),
                            State("hg-config", "data"), prevent_initial_call=True)

    @app.callback(Output("attention-share", "children"), Output("first-token-share", "children"),
                  Input("model-select", "value"))
    def _share(model_id):
        return share_text(data.model_info(model_id)), first_token_text(data.heads_profile(model_id) if model_id else None)

    app.clientside_callback(_cs("exportPng"), Output("png-done", "data"), Input("export-png", "n_clicks"),
                            prevent_initial_call=True)
    # The shown view → URL query string (history.replaceState in the browser: no reload, no request);
    # text, model and switches as drawn (result-meta), not as the controls may already say.
    app.clientside_callback(_cs("writeUrl"), Output("url-state", "data"),
                            Input("result-meta", "data"), Input("selection", "data"), Input("tag-filter", "value"),
                            Input("tag-source", "value"), prevent_initial_call=True)

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

    register_grid(app, data)
    register_head(app, data)
    register_hover(app, data)  # the hover view's running text, a page at a time for a long text
    register_qk(app, data)  # the query · key view and the weighting switch's controls
    register_answer(app, data)  # Generate, Stop, the chat and template switches
    register_knockout(app, data)  # which heads are knocked out, and what the output loses
    register_writes(app, data)  # what the selected head writes into the vocabulary
