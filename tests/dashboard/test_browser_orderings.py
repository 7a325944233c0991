"""Only the current result is ever drawn, whatever order the answers come in (issue 17).

Each test holds back one chosen callback request with ``page.route`` (tests/dashboard/held.py),
so that its answer reaches the page only after a newer one has been drawn: the ordering is
forced, not hoped for. Then it checks that every view (grid, head view, heatmap, layer and q·k
views, hover view, status line, CSV) still shows the newer result, and that the page still answers.
The product side: dashboard/callbacks_grid.py and dashboard/shown.py.
"""

from __future__ import annotations

import csv
import io

import pytest

from headgaze.service.analysis.head_analysis import heads_stats
from headgaze.service.client import ServiceClient
from tests.dashboard.browser import (
    HEAD_VIEWS,
    carrying,
    click_process,
    dimmed,
    drawn,
    grid_info,
    hover_text,
    open_page,
    option,
    select_head,
    select_model,
    tile_point,
    view_key,
    wait_dims,
    wait_shown,
)
from tests.dashboard.held import Held, request_value

pytestmark = pytest.mark.browser

SMOL, MINI = "smollm2-135m", "minilm-l6"
A = "The fluffy blue monster ate the cookie."
B = "A short one."
L, H = 30, 9  # SmolLM2


def asks_for(text: str, **switches):
    """A grid request for ``text`` (and, when given, those switches) — see model_view.js gridRequest."""
    def match(body: dict) -> bool:
        want = request_value(body, "grid-request") or {}
        return want.get("text") == text and all(want.get(k) == v for k, v in switches.items())
    return match


def head_is(layer: int, head: int):
    def match(body: dict) -> bool:
        hd = request_value(body, "head-data") if "head-data" in str(body.get("inputs")) else None
        sel = hd or request_value(body, "selection")
        return bool(sel) and (sel.get("layer"), sel.get("head")) == (layer, head)
    return match


def tokens_of(service, text: str, model: str = SMOL) -> list[str]:
    with ServiceClient(service.url) as c:
        return [t["text"] for t in c.attention(text, model).tokens]


def assert_shows(page, key: str, text: str, head: tuple[int, int] | None = None) -> None:
    """Every view shows ``key`` (and ``head``) and the running text is ``text``."""
    s = drawn(page)
    assert s["grid"] == key and s["head"]["key"] == key and s["hover_text"] == key, s
    for view in HEAD_VIEWS:
        assert s[view]["key"] == key, (view, s)
        if head:
            assert (s[view]["layer"], s[view]["head"]) == head, (view, s)
    assert hover_text(page) == text


def still_answers(page, key: str, layer: int, head: int) -> None:
    """A head click after the late answer is drawn in every view."""
    select_head(page, layer, head)
    wait_shown(page, key, (layer, head))


def process(page, text: str) -> dict:
    page.fill("#text-input", text)
    return click_process(page)


def process_held(page, text: str, **switches) -> Held:
    """Press Process on ``text`` with its grid request (asking for ``switches``) held back."""
    held = Held(page, "result-meta.data", asks_for(text, **switches))
    page.fill("#text-input", text)
    page.click("#process-button")
    held.wait()
    return held


def test_a_process_answered_after_the_next_one_changes_nothing(page, dashboard_url, service):
    open_page(page, dashboard_url)
    held = process_held(page, A, fresh=True)
    body = process(page, B)
    key = view_key(SMOL, B)
    assert body["result-meta"]["data"]["key"] == key
    held.release()  # A's answer arrives now
    assert_shows(page, key, B)
    assert page.inner_text("#status").startswith(f"{SMOL} · {len(tokens_of(service, B))} tokens")
    still_answers(page, key, 4, 2)
    assert_shows(page, key, B, (4, 2))


@pytest.mark.parametrize("switch", ["hide first token", "weighting", "tag filter"])
def test_a_redraw_for_the_previous_text_answered_after_the_next_process(page, dashboard_url, service, switch, tmp_path):
    open_page(page, dashboard_url)
    process(page, A)
    if switch == "hide first token":
        held = Held(page, "result-meta.data", asks_for(A, hide_first=True))
        option(page, "hide-first-token", "hide first token").click()
        key, hidden = view_key(SMOL, B, hide_first=True), True
    elif switch == "weighting":
        held = Held(page, "result-meta.data", asks_for(A, weighting="value_norm"))
        option(page, "weighting", "weight × value norm").check()
        key, hidden = view_key(SMOL, B, weighting="value_norm"), False
    else:
        held = Held(page, "result-meta.data", asks_for(A, tag_filter="first-token"))
        option(page, "tag-filter", "first-token").click()
        key, hidden = view_key(SMOL, B), False
    held.wait()
    process(page, B)
    held.release()  # the redraw of A arrives after B is drawn
    assert_shows(page, key, B)
    T = len(tokens_of(service, B))
    g = grid_info(page)
    assert g["meta"]["tokens"] == T and (g["z_rows"], g["z_cols"]) == (L * (T + 1) - 1, H * (T + 1) - 1)
    if switch == "tag filter":  # B's own veils, not A's
        with ServiceClient(service.url) as c:
            tags = heads_stats(c.attention(B, SMOL).attentions, causal=True)["tags"]
        wait_dims(page, L * H - len(carrying(tags, "first-token")))
        assert dimmed(page) == {(la, h) for la in range(L) for h in range(H)} - carrying(tags, "first-token")
    still_answers(page, key, 6, 1)
    assert_shows(page, key, B, (6, 1))
    # The CSV is the head as drawn: B's tokens, B's switches.
    with page.expect_download() as dl:
        page.click("#export-csv")
    assert ("first-token-hidden" in dl.value.suggested_filename) == hidden
    path = tmp_path / "head.csv"
    dl.value.save_as(path)
    header = next(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert header[1:] == tokens_of(service, B)


@pytest.mark.parametrize("output", ["head-data.data", "layer-view.figure", "qk-view.figure"])
def test_a_head_answered_after_the_next_head_click(page, dashboard_url, output):
    open_page(page, dashboard_url)
    process(page, A)
    key = view_key(SMOL, A)
    held = Held(page, output, head_is(3, 4))
    page.mouse.click(*tile_point(page, 3, 4))
    held.wait()
    select_head(page, 5, 6)
    held.release()  # (3, 4)'s answer arrives after (5, 6) is drawn
    assert_shows(page, key, A, (5, 6))
    assert page.inner_text("#selected-head") == "layer 5 · head 6"
    g = grid_info(page)
    s = g["meta"]["tile"]
    assert g["selected"] == pytest.approx([6 * s - 0.85, 5 * s - 0.85])  # the outline too
    still_answers(page, key, 7, 1)
    assert_shows(page, key, A, (7, 1))


def test_the_model_switched_while_a_process_is_in_flight(page, dashboard_url, service):
    open_page(page, dashboard_url)
    held = process_held(page, B, model=SMOL)
    select_model(page, "all-MiniLM-L6-v2")  # processes B again with MiniLM; waits until it is drawn
    key = view_key(MINI, B)
    held.release()  # SmolLM2's answer arrives after MiniLM's is drawn
    assert_shows(page, key, B)
    g = grid_info(page)
    assert (g["meta"]["layers"], g["meta"]["heads"]) == (6, 12)
    assert g["meta"]["tokens"] == len(tokens_of(service, B, MINI))
    assert page.inner_text("#status").startswith(f"{MINI} · ")
    still_answers(page, key, 2, 11)
    assert_shows(page, key, B, (2, 11))


def test_a_grid_answer_between_an_arrow_key_and_enter_keeps_the_cursor(page, dashboard_url):
    """Found by the random sequence under load: a switch's answer that arrived between an arrow key and
    Enter moved the keyboard cursor back to the selected tile, and Enter selected that one again."""
    open_page(page, dashboard_url)
    process(page, A)
    select_head(page, 10, 4)
    held = Held(page, "result-meta.data", asks_for(A, hide_first=True))
    option(page, "hide-first-token", "hide first token").click()
    held.wait()
    page.focus("#model-view-wrap")
    page.keyboard.press("ArrowUp")
    page.wait_for_function("() => window.headgaze.cursor && window.headgaze.cursor.layer === 9")
    held.release()  # the grid with the first token hidden arrives now
    page.keyboard.press("Enter")
    wait_shown(page, view_key(SMOL, A, hide_first=True), (9, 4))
