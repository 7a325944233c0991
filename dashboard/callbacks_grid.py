"""The model view's callbacks: what the page asks for, and the one callback that draws it.

Every control that changes the grid (Process, Enter, the model, hide first token, the weighting,
the tag source and filter, a generated answer arriving in the ``answer`` store) only sets the
``grid-request`` store, in the browser (``gridRequest`` in
dashboard/views/model_view.js): the text comes from the box on Process, Enter or a model change,
and from the last request otherwise (a switch redraws the text being shown, not one half typed).
One server callback, :func:`register_grid`'s ``_grid``, answers that store and is the only writer of
the grid's figure (whole, or a ``dash.Patch`` when the text and model stay), of ``result-meta`` and
of the status line's success. Dash itself drops a callback's answer when the same callback has been
triggered again since (its answer would be for an older request), so with one writer an old answer
can never be drawn over a newer one, whatever the timing. The browser's own partial updates
(selected-tile outline, keyboard cursor) are synchronous and read the grid's geometry from
``result-meta``, which is written in the same answer as the figure.
"""

from __future__ import annotations

from dash import Dash, Input, Output, Patch, State, no_update

from .data import AttentionData, DashboardError
from .head_panels import counts_panel, tag_note
from .shown import answer_marks, answer_start, clamp_selection, result_meta, status_text, view_key, view_tags
from .views import clientside
from .views.hover_view import display_token
from .views.model_view import (
    answer_shapes,
    badge_points,
    dim_shapes,
    model_view_figure,
    mosaic_u2,
    typed_array,
)

REQUEST_INPUTS = (("process-button", "n_clicks"), ("text-input", "n_submit"), ("model-select", "value"),
                  ("hide-first-token", "value"), ("weighting", "value"), ("tag-source", "value"),
                  ("tag-filter", "value"), ("answer", "data"))


def grid_figure(res: dict, key: str, tags: list | None, tag: str | None, panel: dict | None,
                answer: dict | None = None) -> dict:
    """The model view of a result: the service's thumbnails as they are, keyed by the view key; the
    zoom is kept while the text and model stay (``uirevision`` is the result key)."""
    fig = model_view_figure(res["grid"], res["cells"], model=res["model"], key=key,
                            tokens=[display_token(t) for t in res["tokens"]], panel=panel, tags=tags,
                            tag_filter=tag or None, answer_start=(answer or {}).get("start"))
    fig["layout"]["uirevision"] = res["key"]
    return fig


def grid_patch(res: dict, key: str, previous: dict, tags: list | None, tag: str | None) -> Patch:
    """The same text and model drawn again with other switches or tags: only the mosaic's values
    (when the switches changed), the badges, the veils (with the answer's lines) and the key."""
    cells = previous["cells"]
    patch = Patch()
    if previous["key"] != key:
        patch["data"][0]["z"] = typed_array(mosaic_u2(res["grid"]))
        patch["layout"]["meta"]["key"] = key
    badges = badge_points(tags, cells)
    for k in ("x", "y", "text"):
        patch["data"][1][k] = badges[k]
    patch["layout"]["shapes"] = dim_shapes(tags, tag, cells) + answer_shapes(
        answer_start(previous), res["cells"], res["layers"], res["heads"])
    return patch


def register_grid(app: Dash, data: AttentionData) -> None:
    """Attach the grid request (browser), the grid callback (server) and the outline (browser)."""
    app.clientside_callback(clientside("gridRequest"), Output("grid-request", "data"),
                            *(Input(c, p) for c, p in REQUEST_INPUTS),
                            State("text-input", "value"), State("grid-request", "data"), prevent_initial_call=True)

    @app.callback(
        Output("model-view", "figure"),
        Output("result-meta", "data"),
        Output("selection", "data"),
        Output("status", "children"),
        Output("status", "className"),
        Output("tag-counts", "children"),
        Output("tag-note", "children"),
        Input("grid-request", "data"),
        State("selection", "data"),
        State("result-meta", "data"),
        State("panel-size", "data"),
        # Busy, not disabled: Process again (a corrected text) supersedes the request in flight.
        running=[(Output("process-button", "className"), "hg-button hg-busy", "hg-button"),
                 (Output("process-button", "children"), "Processing…", "Process")],
        prevent_initial_call=True,
    )
    def _grid(wanted, selection, previous, panel):
        """Compute and draw what ``grid-request`` asks for (weighted as asked when the model has value
        norms, else attention weights; the switch itself is turned back by the weighting callback)."""
        if not isinstance(wanted, dict):
            return (no_update,) * 7
        model, hidden, raw = wanted.get("model"), bool(wanted.get("hide_first")), bool(wanted.get("raw"))
        weighting = data.weighting(model, wanted.get("weighting"))
        try:
            res = data.grid(wanted.get("text"), model, hidden, weighting, raw)
        except DashboardError as exc:
            msg = exc.message
            if previous:
                msg += f" The views still show “{previous['text']}” with {previous['model']}."
            return no_update, no_update, no_update, msg, "hg-status hg-error", no_update, no_update
        key = view_key(res["key"], hidden, weighting)
        source, tag = wanted.get("tag_source") or "text", wanted.get("tag_filter") or ""
        stats, profile = data.heads_stats(res), data.heads_profile(res["model"])
        tags = view_tags(stats, profile, source)
        total = res["layers"] * res["heads"]
        note = tag_note(tags, tag, source, total)
        if previous and previous.get("result") == res["key"] and not wanted.get("fresh"):
            # same text and model: a Patch; the head views follow only when the view key changed
            patch = grid_patch(res, key, previous, tags, tag)
            if previous["key"] == key:
                return patch, no_update, no_update, no_update, no_update, no_update, note
            meta = result_meta(res, key, hidden, weighting, previous["tile"], previous.get("answer"))
            return patch, meta, no_update, status_text(res), "hg-status hg-ok", no_update, note
        answer = answer_marks(wanted.get("answer"), len(res["tokens"])) if raw else None
        fig = grid_figure(res, key, tags, tag, panel, answer)
        sel = clamp_selection(selection, res["layers"], res["heads"])
        # Only a selection the new grid cannot hold is changed: a tile clicked while this request
        # was in flight stays selected.
        new_sel = sel if sel != clamp_selection(selection, 10**6, 10**6) else no_update
        meta = result_meta(res, key, hidden, weighting, fig["layout"]["meta"]["tile"], answer)
        return (fig, meta, new_sel, status_text(res), "hg-status hg-ok", counts_panel(stats, profile, total), note)

    # Selection → outline on the grid, knock-out → crosses on the knocked-out tiles (browser side, a Patch
    # of those traces only). Clicks and
    # the keyboard set the selection store from dashboard/views/model_view.js. The grid's geometry comes
    # from result-meta (not the ~1 MB figure as a State).
    app.clientside_callback(clientside("outline"), Output("model-view", "figure", allow_duplicate=True),
                            Input("selection", "data"), Input("result-meta", "data"), Input("knockout", "data"),
                            prevent_initial_call=True)
