"""The hover view: the text as running text, one chip per token; hovering a token shades the
others by the attention it pays them (the strongest in red).

Python side: the chips, built from the tokens' character offsets so that the text wraps like the
input with its own spaces; ``dir`` follows the text's first strong character, so a right-to-left text runs right to left. Special
tokens (no characters of their own) are marked chips. Browser side (hover_view.js): the shading
on hover, from the selected head's matrix already in the page (no server request).
"""

from __future__ import annotations

import unicodedata

from dash import html


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


def chip(index: int, text: str, special: bool) -> html.Span:
    return html.Span(text, className="hg-token" + (" hg-special" if special else ""), **{"data-index": str(index)},
                     title="special token" if special else f"token {index}")


def running_text(text: str, tokens: list[dict]) -> list:
    """Chips and the plain text between them (spaces, newlines), in reading order of the text."""
    out: list = []
    pos = 0
    for i, tok in enumerate(tokens):
        start, end = int(tok.get("start", 0)), int(tok.get("end", 0))
        if tok.get("special") or end <= start:
            out.append(chip(i, display_token(tok), bool(tok.get("special"))))
            continue
        start = max(start, pos)
        if start > pos:
            out.append(text[pos:start])
        piece = text[start:end]
        core = piece.lstrip()
        if core and len(core) < len(piece):  # a leading space belongs to the text, not the chip
            out.append(piece[: len(piece) - len(core)])
        out.append(chip(i, core.rstrip() or blank_chip(tok), False))
        if core.rstrip() != core:
            out.append(core[len(core.rstrip()):])
        pos = max(pos, end)
    if pos < len(text):
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


def hover_view_children(text: str, tokens: list[dict], key: str) -> html.Div:
    """The hover view's content for one text; ``data-text`` (the result's key) tells the script which
    text it shows, so that a head of another text is never used to shade it."""
    return html.Div(running_text(text, tokens), className="hg-running", dir=text_direction(text),
                    **{"data-text": key})
