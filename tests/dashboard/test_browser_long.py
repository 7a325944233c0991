"""A real prompt end to end: a 512-token SmolLM2 text through the real HTTP service and a dashboard
started with --max-chars 4000. The model view's response stays under its byte bound (the service's
thumbnails, never L·H·T²), and a head click fetches that head from the service's recent-results
store: its model-run counter on /metrics does not move. The head view is a focus window: a few
queries and the keys their lines reach, moved by hovering the heatmap or the hover view."""

from __future__ import annotations

import numpy as np
import pytest

from headgaze.dashboard.views.constants import FOCUS_QUERIES, TOP_K
from headgaze.dashboard.views.head_view import top_k_pairs
from headgaze.service.runtime.tokens import load_tokenizer
from tests.dashboard.browser import (
    HEAD_VIEW_JS,
    ServerThread,
    grid_info,
    heatmap_row_point,
    is_process_response,
    new_page,
    open_page,
    option,
    select_head,
    shot,
    view_key,
    wait_drawn,
    wait_shown,
)
from tests.support.prose import prose_of_tokens

pytestmark = pytest.mark.browser

MODEL = "smollm2-135m"
TOKENS = 512
MODEL_VIEW_BYTES = 1_500_000  # README: bytes sent to the browser for the model view


@pytest.fixture(scope="module")
def long_dashboard(service):
    from headgaze.dashboard.app import create_app

    srv = ServerThread(create_app(service_url=service.url, max_chars=4000).server)
    yield srv.url
    srv.close()


@pytest.fixture(scope="module")
def long_text(models_dir) -> str:
    return prose_of_tokens(load_tokenizer(models_dir / MODEL / "tokenizer.json"), TOKENS)


def process_long(page, url: str, text: str) -> int:
    """Open the page, process `text`; returns the byte size of the Process callback's response."""
    open_page(page, url)
    page.fill("#text-input", text)
    with page.expect_response(is_process_response) as info:
        page.click("#process-button")
    size = len(info.value.body())
    wait_drawn(page, info.value.json()["response"])
    return size


def wait_head_views(page, layer: int, head: int) -> None:
    page.wait_for_function("""([l, h]) => ['#head-view', '#head-heatmap', '#layer-view'].every((id) => {
        const gd = document.querySelector(id + ' .js-plotly-plot'), m = gd && gd._fullLayout && gd._fullLayout.meta;
        return m && m.layer === l && (m.head === h || m.view === 'layer'); })""", arg=[layer, head])


def test_512_tokens_process_and_a_head_click_does_not_run_the_model(page, long_dashboard, long_text, service):
    from headgaze.service.client import ServiceClient

    size = process_long(page, long_dashboard, long_text)
    g = grid_info(page)
    assert (g["meta"]["tokens"], g["meta"]["layers"], g["meta"]["heads"], g["meta"]["cells"]) == (TOKENS, 30, 9, 32)
    assert size < MODEL_VIEW_BYTES, size
    assert page.inner_text("#status").startswith(f"{MODEL} · {TOKENS} tokens")

    runs = service.model_runs(MODEL)
    assert runs >= 1
    select_head(page, 7, 4)
    wait_head_views(page, 7, 4)
    assert service.model_runs(MODEL) == runs  # the head (and its layer) came from the recent-results store
    with ServiceClient(service.url) as c:
        ref = c.head(long_text, MODEL, 7, 4).attention
    shown = np.array(page.evaluate("window.headgaze.head.matrix"))
    assert shown.shape == (TOKENS, TOKENS)
    np.testing.assert_allclose(shown, ref, atol=1e-5)
    assert page.locator("#hover-view .hg-token").count() == TOKENS
    assert page.evaluate("document.querySelector('#layer-view .js-plotly-plot')._fullLayout.meta.heads") == 9
    shot(page, "60-long-text-1440x900")

    # Hide first token: the grid (pooled by the service), the head's matrix and the layer view follow.
    layer_lines = "document.querySelector('#layer-view .js-plotly-plot').data.map(d => d.y.length).join(',')"
    before = page.evaluate(layer_lines)
    option(page, "hide-first-token", "hide first token").click()
    wait_shown(page, view_key(MODEL, long_text, hide_first=True))
    assert page.evaluate("window.headgaze.head.matrix[5][0]") == 0
    page.wait_for_function(f"(b) => {layer_lines} !== b", arg=before)
    assert service.model_runs(MODEL) == runs


def test_512_tokens_at_1920(browser, long_dashboard, long_text):
    ctx, page, problems = new_page(browser, 1920, 1080)
    try:
        process_long(page, long_dashboard, long_text)
        select_head(page, 12, 2)
        wait_head_views(page, 12, 2)
        shot(page, "61-long-text-1920x1080")
    finally:
        ctx.close()
    assert not problems, problems


def head_window(page) -> dict:
    """What the head view's focus window draws: its window, caption, the query and key tokens of its
    columns, the (query, key) token pairs of its lines and how many labels Plotly put in the page."""
    return page.evaluate(f"""() => {{ const gd = {HEAD_VIEW_JS}, m = gd._fullLayout.meta, rows = m.rows;
        const col = (name) => gd.data.find(t => t.name === name).y.map(y => rows[-y]);
        const pairs = [];
        gd.data.filter(t => t.mode === 'lines').forEach(t => {{
            for (let i = 0; i + 1 < t.y.length; i += 3) {{ pairs.push([rows[-t.y[i]], rows[-t.y[i + 1]]]); }} }});
        return {{ window: m.window, caption: gd._fullLayout.title.text, queries: col('query'), keys: col('key'),
                  pairs: pairs, labels: gd.querySelectorAll('.textpoint').length }}; }}""")


def wait_window_holds(page, query: int) -> None:
    page.wait_for_function(f"(q) => {{ const w = {HEAD_VIEW_JS}._fullLayout.meta.window; "
                           "return w && w[0] <= q && q <= w[1]; }", arg=query)


def test_512_tokens_head_view_is_a_focus_window_moved_from_the_heatmap_and_the_text(page, long_dashboard, long_text):
    process_long(page, long_dashboard, long_text)
    select_head(page, 3, 1)
    wait_head_views(page, 3, 1)
    page.wait_for_function("() => { const m = document.querySelector('#qk-view .js-plotly-plot')._fullLayout.meta;"
                           " return m && m.view === 'qk' && m.layer === 3 && m.head === 1; }")
    matrix = np.array(page.evaluate("window.headgaze.head.matrix"), dtype=np.float32)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "_dash-update-component" in r.url else None)

    first = head_window(page)
    assert first["window"] == [TOKENS - FOCUS_QUERIES, TOKENS - 1]  # the last token in focus
    for row in (100, 300):
        page.locator("#head-heatmap").scroll_into_view_if_needed()
        page.mouse.move(*heatmap_row_point(page, row))
        wait_window_holds(page, row)
        drawn = head_window(page)
        a, b = drawn["window"]
        assert b - a + 1 == FOCUS_QUERIES and drawn["queries"] == list(range(a, b + 1))
        assert drawn["caption"].startswith(f"tokens {a}–{b} of {TOKENS}") and "hover the heatmap" in drawn["caption"]
        page.wait_for_function("(t) => document.querySelector('#head-window-note').textContent.startsWith(t)",
                               arg=f"tokens {a}–{b} of {TOKENS}")  # the caption, also above the box
        expected = {(q, k) for q, k, _ in top_k_pairs(matrix) if a <= q <= b}
        assert {tuple(p) for p in drawn["pairs"]} == expected  # each query's lines: the matrix's top-k
        assert drawn["keys"] == sorted(set(range(a, b + 1)) | {k for _, k in expected})  # text order
        assert drawn["labels"] <= FOCUS_QUERIES * (TOP_K + 2), drawn["labels"]  # not 1,024
        # 512 rows in ~220 px: the pointer's whole pixel names a row within ±2 of `row`; that query is in
        # focus in the head view (the window's centre) and in the q·k view
        focus = page.evaluate(f"{HEAD_VIEW_JS}._fullLayout.meta.focus")
        assert abs(focus - row) <= 3 and a + FOCUS_QUERIES // 2 == focus, (row, focus, a)
        page.wait_for_function("(q) => document.querySelector('#qk-view .js-plotly-plot')._fullLayout.meta.query === q",
                               arg=focus)
    shot(page, "62-long-text-focus-window", "#head-view")

    token = page.locator("#hover-view .hg-token[data-index='50']")
    token.scroll_into_view_if_needed()
    token.hover()
    wait_window_holds(page, 50)
    assert sent == [], sent  # the window moves in the browser
