"""The hover view's running text: sent and drawn once per view (not per head: a head click does not
send and render T chips again; dashboard/views/hover_view.js shades it with the selected head's
matrix), one page of HOVER_PAGE_TOKENS tokens at a time for a long text.

Like the head's views it follows what the grid shows (``result-meta``), never the controls. The page
is the focused query's for a new text, the same page when only a switch changed, and the next or
previous one from the pager (``hover-prev`` / ``hover-next``); ``hover-page`` remembers it per text.
"""

from __future__ import annotations

from dash import Dash, Input, Output, State, ctx, no_update

from .data import AttentionData, DashboardError
from .shown import shown_grid
from .views.head_view import focused_query
from .views.hover_view import hover_view_children, page_count, page_of, page_span


def register_hover(app: Dash, data: AttentionData) -> None:
    """Attach the hover view's text-and-pager callback."""

    @app.callback(Output("hover-view", "children"), Output("hover-pager", "hidden"), Output("hover-page-note", "children"),
                  Output("hover-page", "data"),
                  Input("result-meta", "data"), Input("hover-prev", "n_clicks"), Input("hover-next", "n_clicks"),
                  State("hover-page", "data"), State("focus", "data"), prevent_initial_call=True)
    def _hover_text(meta, _prev, _next, shown_page, focus):
        """The shown text's running text (its page), whether the pager shows, its note, the page."""
        if not meta:
            return (no_update,) * 4
        try:
            res = shown_grid(data, meta)
        except DashboardError:
            return (no_update,) * 4
        tokens = res["tokens"]
        T, pages = len(tokens), page_count(len(tokens))
        same = isinstance(shown_page, dict) and shown_page.get("result") == res["key"]
        if same and ctx.triggered_id in ("hover-prev", "hover-next"):
            page = shown_page["page"] + (1 if ctx.triggered_id == "hover-next" else -1)
        elif same:
            page = shown_page["page"]
        else:
            page = page_of(focused_query(focus, res["key"], T, tokens))
        page = min(max(int(page), 0), pages - 1)
        first, end = page_span(T, page)
        note = f"tokens {first}–{end - 1} of {T} (page {page + 1} of {pages})"
        return (hover_view_children(res["text"], tokens, meta["key"], res.get("predictions"), meta.get("answer"), page),
                pages == 1, note, {"result": res["key"], "page": page})
