"""The "About attention" panel: a short explanation plus two measured sentences on the chosen model:
its attention share of the weights (manifest) and how little its first-token heads pass on (profile)."""

from __future__ import annotations

from dash import html


def about_panel() -> html.Details:
    """Static explanation; the model-specific sentence lives in ``attention-share``.

    Closed by default, one line in the header; opened, it floats over the page, so reading it never
    moves the views."""
    return html.Details(
        id="about",
        open=False,
        className="hg-about",
        children=[
            html.Summary("About attention"),
            html.Div(className="hg-about-body", children=[html.P([
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
                "some at related words. The model view shows every head of every layer; in each tile "
                "rows are queries, columns are keys.",
            ]),
            html.P(id="attention-share", className="hg-share"),
            html.P(id="first-token-share", className="hg-share"),
        ])],
    )


def _m(n: float) -> str:
    return f"{n / 1e6:.1f} M"


def share_text(info: dict | None) -> str:
    """Sentence on how much of the model's weights are attention, from its manifest.

    ``weights.attention_share`` is attention's share of the parameters outside the embeddings and
    the output heads (LM head, pooler; see export/weights.py); the counts, when present, are shown.
    """
    if not info:
        return "Attention is only part of a model's weights (model information unavailable)."
    w = info.get("weights") or {}
    share = w.get("attention_share")
    name = info.get("display_name") or info.get("id")
    if share is None:
        return f"Attention is only part of {name}'s weights."
    text = (f"Attention is only part of the story: in {name}, the attention layers hold "
            f"{100 * float(share):.1f}% of the weights outside the embeddings and output heads")
    if all(k in w for k in ("attention", "mlp", "embedding", "total")):
        text += (f" ({_m(w['attention'])} attention vs {_m(w['mlp'])} MLP; the embeddings add "
                 f"{_m(w['embedding'])}, {_m(w['total'])} parameters in all)")
    return text + "."


def first_token_text(profile: dict | None) -> str:
    """Sentence measured on the About text with the model's profile (``first_token``, see
    service/analysis/head_profile.py): how many heads attend mostly to the first token, and in how many of them
    that token passes on less than the median token (value norms). Empty when the profile lacks it."""
    ft = (profile or {}).get("first_token")
    if not ft or ft.get("first_token_heads") is None:
        return ""
    n, total, below = ft["first_token_heads"], ft["heads"], ft["below_median"]
    return (f"On “{ft['text']}”, {n} of {total} heads are first-token heads; in {below} of them the first "
            "token passes on less than the median token (‖v W_O‖ of that head), so much of their weight "
            "goes nowhere — switch “weight × value norm” on to see it.")
