"""The hover view: the text as running text, one chip per token; hovering a token shades the
others by the attention it pays them (the strongest in red).

Python side: the chips, built from the tokens' character offsets so that the text wraps like the
input with its own spaces (a generated answer: a divider before it, the chat template's tokens
folded into one chip per run unless "show template tokens" is on); ``dir`` follows the text's first strong character, so a right-to-left text runs right to left. Special
tokens (no characters of their own) are marked chips. Browser side (hover_view.js): the shading
on hover, from the selected head's matrix already in the page, and what the model expected next
after the hovered token, from the predictions sent with the text (no server request).
Beyond HOVER_PAGE_TOKENS tokens the running text is shown one page of HOVER_PAGE_TOKENS tokens at a
time (:func:`page_span`; previous / next under it, dashboard/callbacks_head.py), opening on the page
of the focused query: 2,048 chips made every hover restyle 2,048 elements.
"""

from __future__ import annotations

import unicodedata

import orjson
from dash import html

from .constants import HOVER_PAGE_TOKENS


def page_count(tokens: int, size: int = HOVER_PAGE_TOKENS) -> int:
    """How many pages of ``size`` tokens the hover view has for a text of ``tokens`` tokens (at least 1)."""
    return max(1, -(-tokens // size))


def page_span(tokens: int, page: int, size: int = HOVER_PAGE_TOKENS) -> tuple[int, int]:
    """The tokens [first, end) of page ``page`` (clamped to the pages there are)."""
    page = min(max(int(page), 0), page_count(tokens, size) - 1)
    return page * size, min(tokens, (page + 1) * size)


def page_of(query: int, size: int = HOVER_PAGE_TOKENS) -> int:
    """The page that holds token ``query``."""
    return max(0, int(query)) // size


def display_token(tok: dict) -> str:
    """How a token is shown on its own (labels, CSV): special tokens by name, newlines and tabs
    made visible, leading spaces kept."""
    text = tok.get("text", "")
    if tok.get("special"):
        return text
    return text.replace("\n", "⏎").replace("\t", "⇥") or "∅"


def blank_chip(tok: dict) -> str:
    """A chip for a token of whitespace only (it has no letters to show in the running text)."""
    return display_token(tok).replace(" ", "␣")


def chip(index: int, text: str, special: bool, extra: str = "") -> html.Span:
    return html.Span(text, className="hg-token" + (" hg-special" if special else "") + extra,
                     **{"data-index": str(index)}, title="special token" if special else f"token {index}")


def template_tokens(tokens: list[dict], answer: dict | None) -> set[int]:
    """The tokens a chat template wrote around the user's prompt (system prompt, role markers), before
    the answer: every token before ``answer["start"]`` outside the prompt's character span."""
    if not answer or not answer.get("prompt"):
        return set()
    a, b = answer["prompt"]
    return {i for i, t in enumerate(tokens[:answer["start"]]) if not (a <= t.get("start", 0) and t.get("end", 0) <= b
                                                                    and t.get("end", 0) > t.get("start", 0))}


def template_group(first: int, last: int) -> html.Span:
    """One chip standing for a run of template tokens while they are hidden (hovering shades it by
    their summed weight)."""
    n = last - first + 1
    return html.Span(f"⋯ template ({n} token{'s' if n != 1 else ''})", className="hg-template-group",
                     title="tokens the chat template wrote; “show template tokens” shows them",
                     **{"data-first": str(first), "data-last": str(last)})


def running_text(text: str, tokens: list[dict], answer: dict | None = None,
                 span: tuple[int, int] | None = None) -> list:
    """Chips and the plain text between them (spaces, newlines), in reading order of the text. For a
    generated answer: template tokens (and the text between them) carry ``hg-template``, hidden unless
    "show template tokens" is on, with one group chip per run standing in for them; a divider
    precedes the answer's first token. ``span`` (first, end): only those tokens and the text between
    them (a page of a long text; chips keep their index in the whole text)."""
    out: list = []
    first, end = span or (0, len(tokens))
    pos = max((int(t.get("end", 0)) for t in tokens[:first]), default=0)  # where the tokens before the page end
    template = template_tokens(tokens, answer)
    start_at = answer["start"] if answer else None
    run_start = slot = None

    def between(piece: str, i: int) -> None:
        out.append(html.Span(piece, className="hg-template") if i in template else piece)

    for i, tok in enumerate(tokens[first:end], start=first):
        if i in template and run_start is None:
            run_start, slot = i, len(out)
            out.append("")  # the group chip's place, filled in when the run ends
        if i not in template and run_start is not None:
            out[slot] = template_group(run_start, i - 1)
            run_start = None
        if i == start_at:
            out.append(html.Span("answer →", className="hg-answer-divider",
                                 title=f"the model's answer starts at token {i}"))
        extra = " hg-template" if i in template else " hg-answer" if start_at is not None and i >= start_at else ""
        start, end = int(tok.get("start", 0)), int(tok.get("end", 0))
        if tok.get("special") or end <= start:
            if end > start and start >= pos:  # a special token written in the text (raw, typed): its span is used up
                if start > pos:
                    between(text[pos:start], i)
                pos = end
            out.append(chip(i, display_token(tok), bool(tok.get("special")), extra))
            continue
        start = max(start, pos)
        if start > pos:
            between(text[pos:start], i)
        piece = text[start:end]
        core = piece.lstrip()
        if core and len(core) < len(piece):  # a leading space belongs to the text, not the chip
            between(piece[: len(piece) - len(core)], i)
        out.append(chip(i, core.rstrip() or blank_chip(tok), False, extra))
        if core.rstrip() != core:
            between(core[len(core.rstrip()):], i)
        pos = max(pos, end)
    if run_start is not None:
        out[slot] = template_group(run_start, end - 1)
    if end == len(tokens) and pos < len(text):
        out.append(text[pos:])
    return out


def text_direction(text: str) -> str:
    """"rtl" or "ltr" from the text's first strong character (the Unicode bidi rule P2), "auto" if
    it has none. Decided on the text, not on the chips: a special token's name is not the text."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return "auto"


def hover_view_children(text: str, tokens: list[dict], key: str, predictions: list | None = None,
                        answer: dict | None = None, page: int = 0) -> html.Div:
    """The hover view's content for one text (one page of it, :func:`page_span`); ``data-text`` (the
    result's key) tells the script which text it shows, so that a head of another text is never used to
    shade it, ``data-first`` / ``data-end`` which tokens it holds. ``predictions`` (models with an LM
    head, dashboard/data.py's compact form) travel with it as ``data-predictions``, the page's only:
    what the model expected after each token, shown on hover without a request."""
    first, end = page_span(len(tokens), page)
    extra = {"data-predictions": orjson.dumps(predictions[first:end]).decode()} if predictions else {}
    return html.Div(running_text(text, tokens, answer, (first, end)), className="hg-running",
                    dir=text_direction(text), **{"data-text": key, "data-first": str(first), "data-end": str(end)},
                    **extra)
