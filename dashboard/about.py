"""The "About attention" panel: a short explanation plus the chosen model's real attention share."""

from __future__ import annotations

from dash import html


def about_panel() -> html.Details:
    """Static explanation; the model-specific sentence lives in ``attention-share``."""
    return html.Details(
        id="about",
        open=True,
        className="hg-about",
        children=[
            html.Summary("About attention"),
            html.P([
                "Inside every layer, each token asks a ", html.B("query"), " — a question such as "
                "“which noun do I describe?” — and every token carries a ", html.B("key"),
                ", the answer it can offer. The query of one token is compared with the keys of the "
                "others; a softmax turns the scores into weights that sum to 1, and the token takes in "
                "the others' information in those proportions.",
            ]),
            html.P([
                "Example: in ", html.I("“the fluffy blue monster”"), " the token ", html.I("monster"),
                " may attend strongly to ", html.I("fluffy"), " and ", html.I("blue"),
                ", because they tell it what kind of monster it is. Each ", html.B("head"),
                " learns its own pattern: some look at the previous token, some at the first token, "
                "some at related words. The grid below shows every head of every layer; rows are "
                "queries, columns are keys.",
            ]),
            html.P(id="attention-share", className="hg-share"),
        ],
    )


def share_text(info: dict | None) -> str:
    """Sentence on how much of the model's weights are attention, from its manifest."""
    if not info:
        return "Attention is only part of a model's weights (model information unavailable)."
    w = info.get("weights") or {}
    share = w.get("attention_share")
    name = info.get("display_name") or info.get("id")
    if share is None:
        return f"Attention is only part of {name}'s weights."
    total = w.get("total")
    total_txt = f" of its {total / 1e6:.0f} M parameters" if total else ""
    return (
        f"Attention is only part of the story: in {name}, the attention weights are "
        f"{100 * float(share):.1f}%{total_txt}; the rest is embeddings, MLPs and norms."
    )
