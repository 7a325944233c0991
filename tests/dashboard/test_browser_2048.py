"""The page at 2,048 tokens, end to end: a real service started with --max-tokens 2048 and a
dashboard whose character limit is raised to match. A 2,048-token SmolLM2 text is processed (the
model view's answer stays under its byte bound), a tile is clicked, and hovering the max-pooled
heatmap names the exact query, key and weight under the pointer while the head view's focus window
and the q·k view move to that query; the hover view shows one page of tokens at a time and the
layer view says it is for shorter texts.

A 2,048-token forward and its summary take 10–30 s on a 2-core CPU: the service timeout and the
page's waits are sized for that (they are waits for the page, not timed assertions)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from headgaze.dashboard.views.constants import FOCUS_QUERIES, HEATMAP_MAX_CELLS, HOVER_PAGE_TOKENS
from headgaze.service.runtime.tokens import load_tokenizer
from tests.dashboard.browser import (
    ARTIFACTS,
    HEAD_VIEW_JS,
    HEATMAP_JS,
    ServerThread,
    grid_info,
    is_process_response,
    open_page,
    select_head,
    shot,
    wait_drawn,
)
from tests.support.prose import prose_of_tokens
from tests.support.service import ServiceProcess

pytestmark = pytest.mark.browser

MODEL = "smollm2-135m"
TOKENS = 2048
MAX_CHARS = 10_000  # the service's largest --max-chars; 2,048 tokens of the prose are ~9,850 characters
MODEL_VIEW_BYTES = 1_500_000  # docs/dashboard.md: bytes sent to the browser for the model view, at any length
RUN_MS = 180_000  # a 2,048-token Process on a loaded 2-core box (measured 10–30 s), with room


@pytest.fixture(scope="module")
def service_2048(models_dir):
    svc = ServiceProcess.for_models(models_dir, ARTIFACTS / "service-2048.log", "--threads", "2",
                                    "--max-tokens", str(TOKENS), "--max-chars", str(MAX_CHARS)).start()
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def dashboard_2048(service_2048):
    from headgaze.dashboard.app import create_app

    srv = ServerThread(create_app(service_url=service_2048.url, max_chars=MAX_CHARS,
                                  service_timeout=RUN_MS / 1000).server)
    yield srv.url
    srv.close()


@pytest.fixture(scope="module")
def text_2048(models_dir, service_2048) -> str:
    text = prose_of_tokens(load_tokenizer(models_dir / MODEL / "tokenizer.json"), TOKENS)
    assert len(text) <= MAX_CHARS
    return text


LAYER, HEAD = 7, 4


def service_head(service, text: str) -> np.ndarray:
    """The service's own weights of the head the test clicks (its HTTP client, not the page)."""
    from headgaze.service.client import ServiceClient

    with ServiceClient(service.url, timeout=RUN_MS / 1000) as c:
        return np.asarray(c.head(text, MODEL, LAYER, HEAD).attention, dtype=np.float32)


def process(page, url: str, text: str) -> bytes:
    """Open the page and process `text`; the Process callback's response, as the browser received it."""
    page.set_default_timeout(RUN_MS)
    open_page(page, url)
    page.fill("#text-input", text)
    with page.expect_response(is_process_response) as info:
        page.click("#process-button")
    body = info.value.body()
    wait_drawn(page, info.value.json()["response"])
    return body


def heatmap_point(page, query: int, key: int) -> tuple[float, float]:
    """Viewport coordinates of (query, key) on the heatmap (its axes are token indexes)."""
    return tuple(page.evaluate(f"""([q, k]) => {{ const gd = {HEATMAP_JS}, fl = gd._fullLayout;
        const r = gd.getBoundingClientRect();
        return [r.left + fl.xaxis._offset + fl.xaxis.l2p(k), r.top + fl.yaxis._offset + fl.yaxis.l2p(q)]; }}""",
                               [query, key]))


def tooltip(page) -> dict:
    return page.evaluate("""() => { const t = document.getElementById('heatmap-tooltip');
        return { shown: !!t && t.style.display === 'block', query: t && +t.dataset.query, key: t && +t.dataset.key,
                 text: t ? t.textContent : '' }; }""")


def test_2048_tokens_process_click_and_hover_the_pooled_heatmap(page, dashboard_2048, text_2048, service_2048):
    body = process(page, dashboard_2048, text_2048)
    g = grid_info(page)
    assert (g["meta"]["tokens"], g["meta"]["layers"], g["meta"]["heads"], g["meta"]["cells"]) == (TOKENS, 30, 9, 32)
    assert page.inner_text("#status").startswith(f"{MODEL} · {TOKENS} tokens")
    size = len(body)
    assert size < MODEL_VIEW_BYTES, size
    # heads_stats' per-query [L][H][T] arrays (30·9·2,048 numbers each) stay in the dashboard
    assert b"max_weight" not in body and b"argmax" not in body
    assert page.text_content("#progress") == ""  # cleared once the result is drawn
    (ARTIFACTS / "2048-model-view-bytes.txt").write_text(f"{size}\n")

    runs = service_2048.model_runs(MODEL)
    select_head(page, LAYER, HEAD)
    reference = service_head(service_2048, text_2048)
    assert service_2048.model_runs(MODEL) == runs  # the head came from the service's recent-results store
    heat = page.evaluate(f"() => {{ const gd = {HEATMAP_JS}; return {{ meta: gd._fullLayout.meta,"
                         f" rows: gd.calcdata[0][0].z.length, cols: gd.calcdata[0][0].z[0].length }}; }}")
    block = TOKENS // HEATMAP_MAX_CELLS
    assert heat["meta"]["pooled"] == block and heat["rows"] == heat["cols"] == HEATMAP_MAX_CELLS
    # the page holds the head's full matrix (for the hover views and the tooltip), exactly the service's
    for q in (0, 1000, TOKENS - 1):
        row = np.array(page.evaluate("(q) => Array.from(window.headgaze.head.matrix[q])", q), dtype=np.float32)
        np.testing.assert_array_equal(row, reference[q])
    assert page.evaluate(f"{HEAD_VIEW_JS}._fullLayout.meta.window") == [TOKENS - FOCUS_QUERIES, TOKENS - 1]
    shot(page, "70-2048-tokens-1440x900")

    page.locator("#head-heatmap").scroll_into_view_if_needed()
    for target in (1500, 300):
        key = int(np.argmax(reference[target]))  # a key the query attends to: a weight worth reading
        page.mouse.move(*heatmap_point(page, target, key))
        page.wait_for_function("(q) => { const t = document.getElementById('heatmap-tooltip');"
                               " return t && t.style.display === 'block' && Math.abs(+t.dataset.query - q) <= 16; }",
                               arg=target)
        tip = tooltip(page)
        q, k = tip["query"], tip["key"]  # the exact token under the pointer (a pixel is ~8 tokens here)
        assert abs(q - target) <= 16 and abs(k - key) <= 16, (tip, target, key)
        weight = float(re.search(r"weight ([0-9.]+)$", tip["text"]).group(1))
        assert weight == pytest.approx(float(reference[q, k]), abs=5e-5), (tip, reference[q, k])
        assert f"query {q} " in tip["text"] and f"key {k} " in tip["text"]
        # the head view follows: its focus window is centred on the hovered query, and so is the q·k view
        page.wait_for_function(f"(q) => {HEAD_VIEW_JS}._fullLayout.meta.focus === q", arg=q)
        a, b = page.evaluate(f"{HEAD_VIEW_JS}._fullLayout.meta.window")
        assert b - a + 1 == FOCUS_QUERIES and a <= q <= b
        page.wait_for_function("(q) => document.querySelector('#qk-view .js-plotly-plot')._fullLayout.meta.query === q",
                               arg=q)
    shot(page, "71-2048-tokens-heatmap-hover")
    page.mouse.move(5, 5)
    page.wait_for_function("() => document.getElementById('heatmap-tooltip').style.display === 'none'")


def test_2048_tokens_hover_view_pages_and_the_layer_view_note(page, dashboard_2048, text_2048):
    process(page, dashboard_2048, text_2048)
    select_head(page, LAYER, HEAD)
    layer = page.evaluate("document.querySelector('#layer-view .js-plotly-plot')._fullLayout.meta")
    assert layer["too_long"] and layer["layer"] == LAYER
    box = "#hover-view [data-text]"
    # the page of the focused query (the last token): the second of two
    assert page.is_visible("#hover-pager")
    assert page.text_content("#hover-page-note") == f"tokens {HOVER_PAGE_TOKENS}–{TOKENS - 1} of {TOKENS} (page 2 of 2)"
    assert page.locator("#hover-view .hg-token").count() == TOKENS - HOVER_PAGE_TOKENS
    assert page.locator("#hover-view .hg-token").first.get_attribute("data-index") == str(HOVER_PAGE_TOKENS)

    page.click("#hover-prev")
    page.wait_for_function(f"() => document.querySelector('{box}').getAttribute('data-first') === '0'")
    assert page.locator("#hover-view .hg-token").count() == HOVER_PAGE_TOKENS
    assert page.text_content("#hover-page-note").startswith(f"tokens 0–{HOVER_PAGE_TOKENS - 1} of {TOKENS}")
    token = page.locator("#hover-view .hg-token[data-index='50']")
    token.scroll_into_view_if_needed()
    token.hover()
    # hovering shades the page from the selected head's row, and the head view's window moves to the token
    page.wait_for_function("() => document.querySelector(\"#hover-view .hg-token[data-index='50']\")"
                           ".classList.contains('hg-hovered') && document.querySelectorAll('#hover-view .hg-max').length === 1")
    page.wait_for_function(f"() => {{ const w = {HEAD_VIEW_JS}._fullLayout.meta.window; return w[0] <= 50 && 50 <= w[1]; }}")
    shot(page, "72-2048-tokens-hover-page")
    page.click("#hover-next")
    page.wait_for_function(f"() => document.querySelector('{box}').getAttribute('data-first') === '{HOVER_PAGE_TOKENS}'")
