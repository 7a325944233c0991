"""Generate in a real Chromium against the real service and SmolLM2: the answer streams into the page
token by token, then every view shows template + prompt + answer with the answer marked, and hovering
an answer token shows what the model expected there (fetched once with the text, no request on
hover). Stop ends a generation; Process supersedes one; MiniLM has no Generate and says why."""

from __future__ import annotations

import pytest

from tests.dashboard.browser import (
    DRAWN_JS,
    GRID_JS,
    HEAD_VIEW_JS,
    click_process,
    drawn,
    open_page,
    select_model,
    shot,
    wait_shown,
)

pytestmark = pytest.mark.browser

QUESTION = "What is the capital of France?"
ANSWER_KEY = "(() => { const s = document.getElementById('answer-view'); return s ? s.dataset : {}; })()"


def answer_state(page) -> dict:
    return page.evaluate(f"() => Object.assign({{}}, {ANSWER_KEY})")


def generated_key(page, before: str) -> str:
    """The view key of the raw generated text: once the answer is done, the grid draws another text."""
    page.wait_for_function("(old) => document.getElementById('answer-view').dataset.state === 'done' && "
                           f"(({DRAWN_JS})().grid || old) !== old", arg=before)
    return drawn(page)["grid"]


def test_generate_streams_the_answer_then_every_view_shows_prompt_and_answer(page, dashboard_url):
    open_page(page, dashboard_url)
    page.fill("#text-input", QUESTION)
    seen: list[int] = []
    page.expose_function("hgSeen", lambda n: seen.append(int(n)))
    # record every token count the panel shows while it streams (a MutationObserver in the page)
    page.evaluate("""() => new MutationObserver(() => {
        const d = document.getElementById('answer-view').dataset; if (d.state === 'streaming') { window.hgSeen(d.tokens); }
      }).observe(document.getElementById('answer-view'), {attributes: true, subtree: true, childList: true})""")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    before = drawn(page)["grid"]
    page.click("#generate-button")
    page.wait_for_function("() => document.getElementById('answer-view').dataset.state === 'streaming'")
    assert page.is_visible("#stop-button")
    page.wait_for_function("() => document.getElementById('answer-view').dataset.state === 'done'", timeout=120_000)
    state = answer_state(page)
    assert int(state["tokens"]) >= 2
    assert len(set(seen)) >= 2 and max(seen) >= 2, seen  # tokens arrived one by one, not all at once
    assert "Paris" in page.inner_text("#answer-view .hg-answer-text")
    assert not page.is_visible("#stop-button")

    key = generated_key(page, before)
    wait_shown(page, key)
    meta = page.evaluate(f"() => {GRID_JS}._fullLayout.meta")
    start = page.evaluate("() => +document.querySelector('#hover-view .hg-answer-divider').nextElementSibling.dataset.index")
    # the model view marks the answer on every tile row and column, the head view and heatmap draw a line
    names = page.evaluate(f"() => ({GRID_JS}._fullLayout.shapes || []).map(s => s.name)")
    assert sum(n.startswith("answer-row-") for n in names) == meta["layers"]
    assert sum(n.startswith("answer-col-") for n in names) == meta["heads"]
    head_meta = page.evaluate(f"() => {HEAD_VIEW_JS}._fullLayout.meta")
    assert head_meta["answer"] == start and head_meta["tokens"] == meta["tokens"]
    heat = page.evaluate("() => document.querySelector('#head-heatmap .js-plotly-plot')._fullLayout.shapes.map(s => s.name)")
    assert heat.count("answer") == 2
    # the chat template's tokens are folded into a chip (the model saw them; the user did not type them)
    assert page.is_visible("#hover-view .hg-template-group")
    assert not page.locator("#hover-view .hg-token.hg-template").first.is_visible()
    shot(page, "60-generate-1440")

    # hovering an answer token: what the model expected next there, with the actual token's rank; no request
    asked = len(requests)
    token = page.locator(f"#hover-view .hg-token[data-index='{start + 1}']")
    token.hover()
    expected = page.inner_text("#hover-detail .hg-expected")
    assert expected.startswith("Next, the model expected") and expected.count("%") >= 6 and "rank" in expected
    assert len(requests) == asked
    shot(page, "61-generate-hover-1440")

    # show template tokens: unfolded in the hover view, no request
    page.click("#show-template label")
    page.locator("#hover-view .hg-token.hg-template").first.wait_for(state="visible")
    assert not page.is_visible("#hover-view .hg-template-group") and len(requests) == asked


def test_stop_ends_a_generation_and_process_supersedes_one(page, dashboard_url):
    open_page(page, dashboard_url)
    shown = drawn(page)["grid"]
    page.fill("#text-input", "Write a long story about a dragon.")
    page.click("#generate-button")
    page.wait_for_function("() => +document.getElementById('answer-view').dataset.tokens >= 2")
    page.click("#stop-button")
    page.wait_for_function("() => document.getElementById('answer-view').dataset.state === 'stopped'")
    assert "Stopped after" in page.inner_text("#answer-view") and drawn(page)["grid"] == shown
    assert page.is_visible("#generate-button") and not page.is_visible("#stop-button")
    # Process during a generation: the typed text is drawn, the generation stops and never draws over it
    page.click("#generate-button")
    page.wait_for_function("() => +document.getElementById('answer-view').dataset.tokens >= 1")
    page.fill("#text-input", "fluffy blue monster")
    body = click_process(page)
    assert answer_state(page)["state"] == "stopped"
    page.wait_for_timeout(300)  # a late token or answer must not move the views
    assert drawn(page)["grid"] == body["result-meta"]["data"]["key"]


def test_an_encoder_has_no_generate_and_says_why(page, dashboard_url):
    open_page(page, dashboard_url)
    select_model(page, "all-MiniLM-L6-v2")
    assert not page.is_visible("#generate-button") and page.is_visible("#no-generate")
    assert "no LM head" in page.get_attribute("#no-generate", "title")
    assert not page.is_visible("#chat-switch")
