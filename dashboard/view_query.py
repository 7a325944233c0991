"""The view state in a link: parse `?model=…&text=…&layer=…&head=…` (and `tag`, `tags`, `hide_first`,
`weighting`) back into what the page shows."""

from __future__ import annotations

from urllib.parse import parse_qs

from .heads import TAGS


def parse_view_query(search: str | None, model_ids: list[str], max_chars: int = 50) -> dict | None:
    """The view state from a URL query string (``?model=…&text=…&layer=…&head=…``), or None.

    Unknown models, bad numbers and unknown tags are dropped; the text is cut to ``max_chars``.
    """
    q = parse_qs((search or "").lstrip("?"), keep_blank_values=True)

    def one(name, default=None):
        v = q.get(name)
        return v[0] if v else default

    text = one("text")
    if text is None or not text.strip():
        return None
    model = one("model")
    if model not in model_ids:
        model = None

    def num(name):
        try:
            return max(0, int(one(name, "0")))
        except ValueError:
            return 0

    tag = one("tag", "")
    source = one("tags", "text")
    return {
        "text": text[:max_chars],
        "model": model,
        "layer": num("layer"),
        "head": num("head"),
        "tag": tag if tag in TAGS else "",
        "source": source if source in ("text", "profile") else "text",
        "hide_first": one("hide_first") in ("1", "true", "yes"),
        "weighting": "value_norm" if one("weighting") == "value_norm" else "attention",
    }
