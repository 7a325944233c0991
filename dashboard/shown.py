"""What the page shows: the result drawn in the model view, described by the ``result-meta`` store,
and the helpers every callback uses to stay on it.

The *view key* names what is drawn: the text and the model (the result key of
:meth:`AttentionData.key`) and the switches applied to the weights (hide first token, weighting).
Every figure and store a view reads carries it (``layout.meta.key``, ``head-data.key``,
``qk-data.key``, the hover view's ``data-text``), so the browser can tell the current result from
an answer made for an older one. ``result-meta`` is only ever written by the grid callback
(dashboard/callbacks_grid.py), together with the figure it describes; everything that follows the
grid (the head's views, the layer and q·k views, the hover view, the CSV) reads the text, model and
switches from it, never from the controls, which may already say something newer.
"""

from __future__ import annotations

import numpy as np

from .data import AttentionData
from .heads import hide_first_token
from .views.hover_view import display_token


def view_key(result_key: str, hide_first: bool, weighting: str) -> str:
    """The key of one view of a result: the text and model's result key and the switches."""
    return f"{result_key}:{'hide-first' if hide_first else 'all'}:{weighting}"


def keyed(fig: dict, key: str, **more) -> dict:
    """``fig`` with the view key (and ``more``, e.g. the head) in its ``layout.meta``: every figure
    says what it was drawn for."""
    fig["layout"].setdefault("meta", {}).update(key=key, **more)
    return fig


def status_text(res: dict) -> str:
    """One line: model, tokens, where it runs, latency (dashboard round trip and the service's own timing)."""
    T = len(res["tokens"])
    parts = [f"{res['model']}", f"{T} tokens", f"{res['layers']}×{res['heads']} heads"]
    if res.get("provider"):  # which onnxruntime provider runs the model (CPU, CUDA)
        parts.append("on " + str(res["provider"]).removesuffix("ExecutionProvider"))
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
    """The hide-first-token checklist's value (or a stored bool) → bool."""
    if isinstance(hide_first, bool):
        return hide_first
    return bool(hide_first) and "hide" in (hide_first or [])


def view_tags(stats: dict | None, profile: dict | None, source: str | None) -> list | None:
    """The [L][H] tag lists of the chosen source: "profile" (the model's) or "text" (this text's)."""
    chosen = profile if source == "profile" else stats
    return (chosen or {}).get("tags")


def answer_marks(answer: object, tokens: int) -> dict | None:
    """The generated answer in a raw result: ``{"start": index of its first token, "prompt": [start, end)
    character span of the user's prompt or None, "chat": whether the chat template was used}``, from
    the page's grid request (untrusted: checked)."""
    if not isinstance(answer, dict):
        return None
    start, span = answer.get("start"), answer.get("prompt")
    if not isinstance(start, int) or isinstance(start, bool) or not 0 < start <= tokens:
        return None
    ok = isinstance(span, list) and len(span) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in span)
    return {"start": start, "prompt": span if ok else None, "chat": answer.get("chat") is True}


def result_meta(res: dict, key: str, hidden: bool, weighting: str, tile: int, answer: dict | None = None) -> dict:
    """The ``result-meta`` store: what the grid shows (view key, text, model, switches, a generated
    answer's marks) and its geometry (for the outline and the keyboard, without the figure as a
    State). The tag badges and veils are not in it: they change no other view."""
    return {"key": key, "result": res["key"], "model": res["model"], "text": res["text"], "raw": bool(res.get("raw")),
            "answer": answer, "hide_first": hidden, "weighting": weighting,
            "layers": res["layers"], "heads": res["heads"], "tokens": len(res["tokens"]), "cells": len(res["cells"]),
            "tile": tile}


def shown_grid(data: AttentionData, meta: dict) -> dict:
    """The result the grid shows (its raw weights, from the dashboard's cache); DashboardError when it
    cannot be had again."""
    return data.grid(meta["text"], meta["model"], raw=bool(meta.get("raw")))


def answer_start(meta: dict | None) -> int | None:
    answer = (meta or {}).get("answer")
    return answer.get("start") if isinstance(answer, dict) else None


def follows(hd: dict | None, meta: dict | None) -> bool:
    """The head data ``hd`` belongs to the view the grid shows (the layer and q·k views follow it)."""
    return bool(meta and hd and hd.get("key") == meta["key"])


def shown_result(data: AttentionData, meta: dict, selection: dict | None) -> tuple[dict, dict]:
    """The result the page shows (from the dashboard's cache) and its selection clamped to the grid.

    Raises DashboardError when the result cannot be had again (service down and cache expired)."""
    res = shown_grid(data, meta)
    return res, clamp_selection(selection, res["layers"], res["heads"])


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
    """What the browser needs for one head's hover besides its matrix: which head of which view
    (``key``, the view key; ``result``, the text's result key that the focused query is kept under)
    and the tokens. The T×T matrix is sent once, as the heatmap's z (hover_view.js reads it there)."""
    hidden = is_hidden(hide_first)
    return {
        "key": view_key(res["key"], hidden, weighting),
        "result": res["key"],
        "model": res["model"],
        "layer": layer,
        "head": head,
        "tokens": [{"text": display_token(t), "special": bool(t.get("special"))} for t in res["tokens"]],
        "hide_first": hidden,
        "weighting": weighting,
    }
