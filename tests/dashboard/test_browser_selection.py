"""Selecting a head while the page is busy: the click and the keyboard always select the tile the
user pointed at, whatever is still redrawing, and the page never stops answering.

Regression for issue 9's "hung page": after a tag-source switch and a filter, a tile click left
`#selected-head` unchanged. Cause: Plotly reports a click with the points of its last *hover*,
and hover is throttled to one computation per 50 ms, so a click that followed a pointer move or a
relayout within 50 ms reported the previously hovered tile. The grid now maps the pointer's own
coordinates to a tile (dashboard/views/model_view.js, cellAt).
"""

from __future__ import annotations

import random
import time

import pytest

from headgaze.service.analysis.head_analysis import heads_stats
from headgaze.service.client import ServiceClient
from tests.dashboard.browser import (
    GRID_JS,
    all_heads,
    carrying,
    click_process,
    dimmed,
    open_page,
    option,
    tile_point,
    view_key,
    wait_dims,
    wait_shown,
)

pytestmark = pytest.mark.browser

TEXT = "The fluffy blue monster ate the cookie."
L, H = 30, 9  # SmolLM2


def selected(page) -> str:
    return page.inner_text("#selected-head")


def wait_selected(page, layer: int, head: int, hidden: bool = False) -> None:
    """Every view of (layer, head) drawn for TEXT (first token hidden or not), and the head named."""
    wait_shown(page, view_key("smollm2-135m", TEXT, hide_first=hidden), (layer, head))
    assert selected(page) == f"layer {layer} · head {head}"


def answers(page, within_s: float = 5.0) -> None:
    """The page's main thread runs a script promptly (a hung page would not)."""
    t0 = time.monotonic()
    assert page.evaluate("() => 1 + 1") == 2
    assert time.monotonic() - t0 < within_s, "the page took too long to run a trivial script"


def test_two_quick_clicks_select_the_second_tile(page, dashboard_url):
    open_page(page, dashboard_url)
    page.fill("#text-input", TEXT)
    click_process(page)
    a, b = (3, 7), (20, 6)
    xa, ya = tile_point(page, *a)
    xb, yb = tile_point(page, *b)
    page.mouse.click(xa, ya)
    page.mouse.click(xb, yb)  # within Plotly's 50 ms hover throttle of the first click
    wait_selected(page, *b)
    answers(page)


def test_tag_switch_filter_then_click_or_keys_while_redrawing(page, dashboard_url, service):
    with ServiceClient(service.url) as c:
        text_tags = heads_stats(c.attention(TEXT, "smollm2-135m").attentions, causal=True)["tags"]
        profile_tags = c.heads_profile("smollm2-135m")["tags"]
    open_page(page, dashboard_url)
    page.fill("#text-input", TEXT)
    click_process(page)
    # Source switch → filter → click at once, without waiting for the veils to be redrawn.
    option(page, "tag-source", "model profile").click()
    option(page, "tag-filter", "induction").click()
    x, y = tile_point(page, 12, 4)
    page.mouse.click(x, y)
    wait_selected(page, 12, 4)
    induction = carrying(profile_tags, "induction")
    wait_dims(page, L * H - len(induction))
    assert dimmed(page) == all_heads(L, H) - induction
    # The same with the keyboard: switch back, filter, then arrows + Enter at once.
    option(page, "tag-source", "this text").click()
    option(page, "tag-filter", "first-token").click()
    page.focus("#model-view-wrap")
    for key in ("ArrowDown", "ArrowDown", "ArrowRight", "Enter"):
        page.keyboard.press(key)
    wait_selected(page, 14, 5)
    page.wait_for_function(f"() => {GRID_JS}.data.find(d => d.name === 'selected').x.length === 5")
    first = carrying(text_tags, "first-token")
    wait_dims(page, L * H - len(first))
    assert dimmed(page) == all_heads(L, H) - first
    answers(page)


def test_random_click_sequences_never_lose_a_selection(page, dashboard_url):
    """60 seeded random actions (source, filter, hide first token, tile clicks, keys) with no waits
    between them except after each selection: every selection lands and the page keeps answering."""
    open_page(page, dashboard_url)
    page.fill("#text-input", TEXT)
    click_process(page)
    rng = random.Random(9)
    cursor, hidden = None, False
    for _ in range(60):
        action = rng.choice(["source", "filter", "hide", "tile", "tile", "keys"])
        if action == "source":
            option(page, "tag-source", rng.choice(["this text", "model profile"])).click()
        elif action == "filter":
            option(page, "tag-filter", rng.choice(["all heads", "induction", "first-token", "focused"])).click()
        elif action == "hide":
            option(page, "hide-first-token", "hide first token").click()
            hidden = not hidden
        elif action == "tile":
            layer, head = rng.randrange(L), rng.randrange(H)
            page.mouse.click(*tile_point(page, layer, head))
            wait_selected(page, layer, head, hidden)
            cursor = (layer, head)
        elif cursor is not None:
            page.focus("#model-view-wrap")
            page.keyboard.press("ArrowUp" if cursor[0] > 0 else "ArrowDown")
            page.keyboard.press("Enter")
            cursor = (cursor[0] - 1 if cursor[0] > 0 else 1, cursor[1])
            wait_selected(page, *cursor, hidden)
        answers(page)
