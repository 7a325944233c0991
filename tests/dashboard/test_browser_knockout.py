"""Knock-out in a real Chromium against the real service: select a head, Knock out, the strip appears
with the largest drop named; the strip is what POST /v1/ablate computed (fetched once per text and
mask, no request on hover); "Knock out all shown" with a tag filter knocks out exactly those heads and
marks their tiles; MiniLM shows the per-token cosine and the sentence cosine in the status line."""

from __future__ import annotations

import pytest
import requests

from tests.dashboard.browser import (
    GRID_JS,
    carrying,
    click_process,
    open_page,
    option,
    select_head,
    select_model,
    shot,
    wait_views_follow,
)

pytestmark = pytest.mark.browser

STRIP_JS = "document.querySelector('#knockout-strip .js-plotly-plot')"


def strip_meta(page) -> dict | None:
    return page.evaluate(f"() => {{ const gd = {STRIP_JS}; return gd && gd._fullLayout ? gd._fullLayout.meta || null : null; }}")


def wait_strip(page, heads: list[list[int]]) -> dict:
    """Wait until the strip shows the knock-out of `heads` for the text the grid shows."""
    page.wait_for_function(f"""(heads) => {{ const gd = {STRIP_JS}, g = {GRID_JS};
        const m = gd && gd._fullLayout && gd._fullLayout.meta;
        return m && m.heads && JSON.stringify(m.heads) === JSON.stringify(heads)
               && g._fullLayout.meta.key === m.key; }}""", arg=heads)
    return strip_meta(page)


def knocked_tiles(page) -> list[tuple[float, float]]:
    return page.evaluate(f"() => {{ const t = {GRID_JS}.data[4]; return t.x.map((x, i) => [x, t.y[i]]); }}")


def test_knock_out_a_head_and_all_heads_of_a_tag(page, dashboard_url, service):
    open_page(page, dashboard_url)
    page.fill("#text-input", "The cat sat on the mat. The cat sat on the")
    click_process(page)  # drawn before the toggle: a knock-out belongs to the text shown when it was made
    select_head(page, 4, 1)
    requests_seen: list[str] = []
    page.on("request", lambda r: requests_seen.append(r.url))
    page.click("#knockout-toggle label")
    meta = wait_strip(page, [[4, 1]])
    title = page.evaluate(f"() => {STRIP_JS}._fullLayout.title.text")
    assert title.startswith("largest drop: ") and "nats at ‘" in title
    # the strip is the service's own answer for this text and head
    tokens = page.evaluate(f"() => {GRID_JS}._fullLayout.meta.tokens")
    body = requests.post(service.url + "/v1/ablate", json={"text": "The cat sat on the mat. The cat sat on the",
                                                         "heads": [[4, 1]]}, timeout=60).json()
    ys = page.evaluate(f"() => Array.from({STRIP_JS}.data[0].y)")
    assert len(ys) == tokens == len(body["delta"])
    # bar j: the change of token j's log-prob (predicted at j - 1); nothing predicts token 0
    assert ys[0] == 0 and all(abs(y - d) < 1e-9 for y, d in zip(ys[1:], body["delta"][:-1], strict=True))
    assert meta["drop"][1] == pytest.approx(min(d for d in body["delta"] if d is not None))
    assert len(knocked_tiles(page)) == 1
    shot(page, "70-knockout-1440")
    page.locator(".hg-knockout").scroll_into_view_if_needed()
    shot(page, "70-knockout-strip", ".hg-knockout")
    # hovering the strip asks nothing of the server
    asked = len(requests_seen)
    box = page.locator("#knockout-strip").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_timeout(200)
    assert len(requests_seen) == asked

    # every induction head of the model profile, at once
    option(page, "tag-source", "model profile").check()
    option(page, "tag-filter", "induction").check()
    wait_views_follow(page)
    page.click("#knockout-shown")
    profile = requests.get(service.url + "/v1/models/smollm2-135m/heads", timeout=30).json()
    want = sorted([list(p) for p in carrying(profile["tags"], "induction")])
    assert want
    wait_strip(page, want)
    assert len(knocked_tiles(page)) == len(want)
    assert page.is_checked("#knockout-toggle input") == ([4, 1] in want)
    shot(page, "71-knockout-induction-1440")
    page.click("#knockout-clear")
    page.wait_for_function(f"() => {GRID_JS}.data[4].x.length === 0")


def test_minilm_strip_shows_cosines_and_the_sentence_cosine(page, dashboard_url):
    open_page(page, dashboard_url)
    select_model(page, "all-MiniLM-L6-v2")
    select_head(page, 2, 3)
    page.click("#knockout-toggle label")
    meta = wait_strip(page, [[2, 3]])
    assert meta["kind"] == "hidden" and 0 < meta["sentence_cosine"] <= 1
    page.wait_for_function("() => document.querySelector('#status').textContent.includes('sentence embedding cosine')")


def test_a_knock_out_answered_after_the_next_process_is_not_drawn(page, dashboard_url):
    """Forced ordering: the strip's answer for the old text is held until a new text is drawn; released,
    it must not appear (the strip follows the text the grid shows)."""
    from tests.dashboard.held import Held, request_value

    open_page(page, dashboard_url)
    select_head(page, 2, 2)
    held = Held(page, "knockout-strip.figure", lambda body: request_value(body, "knockout")["heads"] == [[2, 2]])
    page.click("#knockout-toggle label")
    held.wait()
    page.fill("#text-input", "fluffy blue monster")
    body = click_process(page)  # the new text is drawn while the knock-out of the old one is in flight
    held.release()
    meta = strip_meta(page)
    assert not meta or meta["key"] == body["result-meta"]["data"]["key"], meta
    assert not page.is_checked("#knockout-toggle input")  # a new text starts with every head in
    assert len(knocked_tiles(page)) == 0


def test_a_generated_answer_shows_the_answer_without_the_heads(page, dashboard_url, service):
    open_page(page, dashboard_url)
    question = "What is the capital of France?"
    page.fill("#text-input", question)
    before = page.evaluate(f"() => {GRID_JS}._fullLayout.meta.key")
    page.click("#generate-button")
    page.wait_for_function(f"(old) => document.getElementById('answer-view').dataset.state === 'done' && "
                           f"{GRID_JS}._fullLayout.meta.key !== old", arg=before, timeout=120_000)
    wait_views_follow(page)
    select_head(page, 0, 4)
    page.click("#knockout-toggle label")
    wait_strip(page, [[0, 4]])
    page.locator("#knockout-answers .hg-knocked-answer").wait_for()
    want = requests.post(service.url + "/v1/generate", json={"text": question, "ablate": [[0, 4]]}, timeout=120).json()
    answer = want["text"][want["tokens"][want["answer_start"]]["start"]:]
    assert page.inner_text("#knockout-answers .hg-knocked-answer") == answer
    assert page.inner_text("#knockout-answers .hg-answer-new").startswith("The capital of France")
    page.locator(".hg-knockout").scroll_into_view_if_needed()
    shot(page, "72-knockout-answer", ".hg-knockout")


WRITES_JS = "document.querySelector('#writes-view .js-plotly-plot')"


def test_the_writes_panel_follows_the_focused_query_without_requests(page, dashboard_url, service):
    open_page(page, dashboard_url)
    select_head(page, 14, 4)
    page.wait_for_function(f"() => {{ const gd = {WRITES_JS}; return gd && gd._fullLayout.meta && "
                           "gd._fullLayout.meta.layer === 14 && gd._fullLayout.meta.head === 4; }")
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    page.locator("#hover-view").scroll_into_view_if_needed()
    page.locator("#hover-view .hg-token[data-index='2']").hover()
    page.wait_for_function(f"() => {WRITES_JS}._fullLayout.meta.query === 2")
    bars = page.evaluate(f"() => {{ const d = {WRITES_JS}.data; return [Array.from(d[0].x), Array.from(d[1].x)]; }}")
    want = requests.post(service.url + "/v1/attention/head", json={
        "text": "The fluffy blue monster ate the cookie.", "layer": 14, "head": 4, "writes": True, "query": 2},
        timeout=60).json()["writes"]
    assert bars[0] == pytest.approx([e["score"] for e in want["promoted"]], abs=1e-4)
    assert bars[1] == pytest.approx([e["score"] for e in want["suppressed"]], abs=1e-4)
    assert not [u for u in asked if "_dash-update-component" in u]
    page.locator(".hg-writes").scroll_into_view_if_needed()
    shot(page, "73-writes", ".hg-writes")
