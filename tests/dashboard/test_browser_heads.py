"""Head analysis in the browser: tag badges and the tag filter, the selected head's statistics,
hide-first-token (hover view's red token), CSV/PNG export, and the view state in the URL.

Real service (subprocess), real dashboard, Debian's Chromium. Expected values come from the
service's own data: its attentions (through ServiceClient) run through service/analysis/head_analysis.py,
and its heads profile (GET /v1/models/<id>/heads).
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from headgaze.dashboard.heads import hide_first_token
from headgaze.service.analysis.head_analysis import heads_stats
from headgaze.service.client import ServiceClient
from tests.dashboard.browser import (
    GRID_JS,
    RED,
    all_heads,
    badge_count,
    carrying,
    click_process,
    dimmed,
    hover_text,
    hover_tokens,
    open_page,
    option,
    select_head,
    select_model,
    shot,
    view_key,
    wait_dims,
    wait_shown,
)

pytestmark = pytest.mark.browser

TEXT = "The fluffy blue monster ate the cookie."


def hover_red(page, q: int) -> int:
    """Move the mouse off the hover view, then onto token q; return the index of the red token."""
    page.mouse.move(2, 2)
    page.wait_for_function("document.querySelectorAll('#hover-view .hg-token.hg-max').length === 0")
    el = page.locator(f"#hover-view .hg-token[data-index='{q}']")
    el.scroll_into_view_if_needed()
    box = el.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function("document.querySelectorAll('#hover-view .hg-token.hg-max').length === 1")
    reds = [t for t in hover_tokens(page) if t["bg"] == RED]
    assert len(reds) == 1 and reds[0]["max"]
    return reds[0]["index"]


def sink_head(att: np.ndarray) -> tuple[int, int, int, int]:
    """A (layer, head, query, renormalised argmax) where the sink is the row's clear maximum and
    the renormalised row has a clear maximum too (no ties within 1e-3)."""
    hidden = hide_first_token(att)
    L, H, T, _ = att.shape
    for layer in range(L):
        for head in range(H):
            for q in range(2, T):
                row, new = att[layer, head, q], hidden[layer, head, q]
                top = np.sort(new)[::-1]
                if np.argmax(row) == 0 and row[0] > 0.5 and top[0] - top[1] > 0.05 and np.argmax(new) != q:
                    return layer, head, q, int(np.argmax(new))
    raise AssertionError("no head with a clear sink maximum")  # pragma: no cover


def test_tags_filter_stats_hide_first_token_and_export(page, dashboard_url, service, tmp_path):
    with ServiceClient(service.url) as c:
        ref = c.attention(TEXT, "smollm2-135m")
        profile = c.heads_profile("smollm2-135m")
    att = ref.attentions
    L, H, T, _ = att.shape
    stats = heads_stats(att, causal=True, value_norms=ref.value_norms)  # the page shows the sink tag too
    open_page(page, dashboard_url)
    page.fill("#text-input", TEXT)
    click_process(page)

    # Badges: one marker per head carrying at least one tag of this text; nothing veiled yet.
    assert badge_count(page) == sum(bool(ts) for row in stats["tags"] for ts in row)
    assert dimmed(page) == set()
    counts = page.inner_text("#tag-counts")
    assert f"first-token {len(carrying(stats['tags'], 'first-token'))}" in counts.split("\n")[0]
    assert f"induction {profile['tag_counts']['induction']}" in counts.split("\n")[1]

    # Filter by a tag of this text: exactly the heads without it are veiled.
    option(page, "tag-filter", "previous-token").click()
    prev = carrying(stats["tags"], "previous-token")
    assert prev, "the text should show at least one previous-token head"
    wait_dims(page, L * H - len(prev))
    assert dimmed(page) == all_heads(L, H) - prev
    page.wait_for_function("(t) => document.querySelector('#tag-note').textContent === t",
                           arg=f"Showing the {len(prev)} of {L * H} heads tagged previous-token in this text.")
    shot(page, "30-filter-previous-token")

    # Same filter, tags from the model profile (induction exists only there).
    option(page, "tag-source", "model profile").click()
    option(page, "tag-filter", "induction").click()
    ind = carrying(profile["tags"], "induction")
    wait_dims(page, L * H - len(ind))
    assert dimmed(page) == all_heads(L, H) - ind
    assert badge_count(page) == sum(bool(ts) for row in profile["tags"] for ts in row)

    # The selected head's statistics sit next to the head view; the outline keeps the veils.
    layer, head = sorted(ind)[0]
    select_head(page, layer, head)
    wait_dims(page, L * H - len(ind))
    page.wait_for_function("document.querySelector('#head-tags-profile') && "
                           "document.querySelector('#head-tags-profile').textContent.includes('induction')")
    assert page.inner_text("#head-tags-text") == (", ".join(stats["tags"][layer][head]) or "none")
    table = page.inner_text("#head-stats")
    assert f"{stats['scores']['first'][layer][head]:.3f}" in table
    assert f"{profile['scores']['induction'][layer][head]:.3f}" in table and "induction > 0.3" in table

    # Moving the keyboard cursor keeps the veils too.
    page.focus("#model-view-wrap")
    page.keyboard.press("ArrowDown")
    page.wait_for_function(f"() => {GRID_JS}.data.find(d => d.name === 'cursor').x.length === 5")
    assert dimmed(page) == all_heads(L, H) - ind

    # Hide first token: on a head whose row maximum is the sink, the red token moves to the
    # argmax of the renormalised row.
    layer, head, q, new_best = sink_head(att)
    option(page, "tag-filter", "all heads").click()
    wait_dims(page, 0)
    select_head(page, layer, head)
    assert hover_red(page, q) == 0
    option(page, "hide-first-token", "hide first token").click()
    wait_shown(page, view_key("smollm2-135m", TEXT, hide_first=True), (layer, head))
    assert hover_red(page, q) == new_best
    shown = np.array(page.evaluate("window.headgaze.head.matrix"))
    np.testing.assert_allclose(shown, hide_first_token(att)[layer, head], atol=1e-5)
    # Row 0 of a causal model had only token 0: shown as zeros, so no token is red.
    page.locator("#hover-view .hg-token[data-index='0']").hover()
    page.wait_for_function("document.querySelector('#hover-detail').textContent.includes('nothing left')")
    assert page.locator("#hover-view .hg-token.hg-max").count() == 0
    # the model view is redrawn with the renormalised weights too: the service hides token 0 in its
    # float32 weights, then sends float16 (the reference hides in float16 weights): equal up to that rounding
    page.wait_for_function(f"() => {GRID_JS}.calcdata[0][0].z[{layer * (T + 1)}][{head * (T + 1)}] === 0")
    z = np.array(page.evaluate(f"() => Array.from({GRID_JS}.calcdata[0][0].z, r => Array.from(r))"), dtype=float)
    s, scale = T + 1, page.evaluate(f"() => {GRID_JS}._fullLayout.meta.scale")
    np.testing.assert_allclose(z[layer * s:layer * s + T, head * s:head * s + T] / scale,
                               hide_first_token(att)[layer, head], rtol=2e-3, atol=2e-5)
    shot(page, "31-hide-first-token", "#hover-view")

    # Export: the CSV holds the head's matrix as shown (first token hidden), token texts as headers.
    with page.expect_download() as dl:
        page.click("#export-csv")
    assert dl.value.suggested_filename == f"headgaze-smollm2-135m-layer{layer}-head{head}-first-token-hidden.csv"
    path = tmp_path / "head.csv"
    dl.value.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    tokens = [t["text"] for t in ref.tokens]
    assert rows[0][1:] == tokens and [r[0] for r in rows[1:]] == tokens
    np.testing.assert_allclose(np.array([r[1:] for r in rows[1:]], dtype=float), hide_first_token(att)[layer, head],
                               atol=2e-6)
    with page.expect_download() as dl:
        page.click("#export-png")
    png = tmp_path / "grid.png"
    dl.value.save_as(png)
    assert dl.value.suggested_filename.endswith(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_copied_url_restores_the_view(page, dashboard_url, service):
    text = "Links <b>keep</b> the view"
    open_page(page, dashboard_url)
    select_model(page, "all-MiniLM-L6-v2")
    page.fill("#text-input", text)
    click_process(page)
    select_head(page, 2, 7)
    option(page, "tag-filter", "broad").click()
    option(page, "hide-first-token", "hide first token").click()
    wait_shown(page, view_key("minilm-l6", text, hide_first=True), (2, 7))
    page.wait_for_function("location.search.includes('hide_first=1') && location.search.includes('layer=2') "
                           "&& location.search.includes('tag=broad')")
    url = page.url
    assert "model=minilm-l6" in url and "head=7" in url

    other = page.context.new_page()
    errors: list[str] = []
    other.on("pageerror", lambda e: errors.append(str(e)))
    other.goto(url)
    other.wait_for_selector("#selected-head")
    wait_shown(other, view_key("minilm-l6", text, hide_first=True), (2, 7))
    assert other.input_value("#text-input") == text
    assert "all-MiniLM-L6-v2" in other.inner_text("#model-select")
    assert option(other, "hide-first-token", "hide first token").is_checked()
    assert option(other, "tag-filter", "broad").is_checked()
    with ServiceClient(service.url) as c:
        ref = c.attention(text, "minilm-l6")
    broad = carrying(heads_stats(ref.attentions, causal=False)["tags"], "broad")
    wait_dims(other, 6 * 12 - len(broad))
    assert dimmed(other) == all_heads(6, 12) - broad
    shown = np.array(other.evaluate("window.headgaze.head.matrix"))
    np.testing.assert_allclose(shown, hide_first_token(ref.attentions)[2, 7], atol=1e-5)
    assert hover_text(other) == text
    assert other.locator("#hover-view b").count() == 0  # HTML in the text stays text
    assert not errors
    other.close()
