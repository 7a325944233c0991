"""The knock-out's callbacks: which heads are knocked out (the ``knockout`` store) and what the output
loses (the strip, dashboard/views/knockout_view.py).

- ``_knockout`` (server) is the one writer of the store and of the **Knock out** toggle: the toggle
  adds or removes the selected head, **Knock out all shown** sets every head the tag filter shows,
  **Clear** empties it, and a new text (another result key in ``result-meta``) empties it too. The
  toggle follows the selection (on when the selected head is knocked out). One callback, because the
  toggle is both what the user sets and what it shows.
- ``_strip`` (server) answers the store: POST /v1/ablate for the shown text and these heads (cached
  per text and mask), the strip, its note, and for a generated answer the greedy answer without
  the heads beside the original. Its answers carry the view key, so a late one is never drawn over
  another text (Dash drops a superseded answer of the same callback; the store names its result).
- the model view marks the knocked-out tiles in the browser (the ``outline`` patch, model_view.js).
"""

from __future__ import annotations

from dash import Dash, Input, Output, State, ctx, no_update

from .data import AttentionData, DashboardError
from .layout import empty_figure
from .shown import clamp_selection, shown_grid, view_tags
from .views.knockout_view import answers_panel, heads_text, strip_figure, summary

EMPTY = "Knock out a head (the toggle beside the selected head) to see what the output loses without it."


def tagged_heads(tags: list | None, tag: str) -> list[list[int]]:
    return [[layer, head] for layer, row in enumerate(tags or []) for head, ts in enumerate(row) if tag in ts]


def register_knockout(app: Dash, data: AttentionData) -> None:
    @app.callback(
        Output("knockout", "data"),
        Output("knockout-toggle", "value"),
        Input("knockout-toggle", "value"),
        Input("knockout-shown", "n_clicks"),
        Input("knockout-clear", "n_clicks"),
        Input("selection", "data"),
        Input("result-meta", "data"),
        State("knockout", "data"),
        State("tag-filter", "value"),
        State("tag-source", "value"),
        prevent_initial_call=True,
    )
    def _knockout(toggle, _shown, _clear, selection, meta, knockout, tag, source):
        if not meta:
            return no_update, no_update
        heads = [list(p) for p in (knockout or {}).get("heads", [])] if (knockout or {}).get("result") == meta["result"] else []
        sel = clamp_selection(selection, meta["layers"], meta["heads"])
        pair = [sel["layer"], sel["head"]]
        trigger = ctx.triggered_id
        if trigger == "knockout-toggle":
            on = "on" in (toggle or [])
            heads = sorted([p for p in heads if p != pair] + ([pair] if on else []))
        elif trigger == "knockout-shown" and tag:
            try:
                res = shown_grid(data, meta)
            except DashboardError:
                return no_update, no_update
            tags = view_tags(data.heads_stats(res), data.heads_profile(res["model"]), source)
            heads = tagged_heads(tags, tag) or heads
        elif trigger == "knockout-clear":
            heads = []
        store = {"result": meta["result"], "heads": heads}
        shown = ["on"] if pair in heads else []
        return (store if store != knockout else no_update), (shown if shown != (toggle or []) else no_update)

    @app.callback(
        Output("knockout-strip", "figure"),
        Output("knockout-note", "children"),
        Output("knockout-answers", "children"),
        Output("status", "children", allow_duplicate=True),
        Input("knockout", "data"),
        State("result-meta", "data"),
        prevent_initial_call=True,
    )
    def _strip(knockout, meta):
        """What the output loses without the knocked-out heads, for the text the grid shows."""
        if not meta or not knockout or knockout.get("result") != meta["result"]:
            return no_update, no_update, no_update, no_update
        heads = knockout["heads"]
        if not heads:
            return empty_figure(EMPTY, 120), "", [], no_update
        info = data.model_info(meta["model"]) or {}
        if info.get("ablation", "predictions") is None:
            why = info.get("ablation_reason") or "its export has no head_mask"
            return empty_figure(f"{meta['model']} cannot knock heads out: {why}.", 120), "", [], no_update
        try:
            res = shown_grid(data, meta)
            answer = data.ablate(res, heads)
            original = without = None
            marks = meta.get("answer") or {}
            if answer["kind"] == "predictions" and marks.get("prompt"):
                a, b = marks["prompt"]
                tokens = res["tokens"][marks["start"]:]
                original = res["text"][tokens[0]["start"]:] if tokens else ""
                without = data.answer_without(res["text"][a:b], res["model"], bool(marks.get("chat")), heads)
                without = without["text"][without["tokens"][without["answer_start"]]["start"]:] if (
                    without["answer_start"] < len(without["tokens"])) else ""
        except DashboardError as exc:
            return no_update, exc.message, no_update, no_update
        fig = strip_figure(answer, meta["key"])
        note = summary(answer)
        status = no_update
        if answer["kind"] == "hidden":
            status = (f"{meta['model']} · {heads_text(heads)}: sentence embedding cosine "
                      f"{answer['sentence_cosine']:.4f} with and without them")
        return fig, note, answers_panel(original, without), status

