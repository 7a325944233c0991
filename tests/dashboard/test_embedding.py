"""Embedding: headgaze mounted under /attention/ inside another Flask app, end to end in the
browser, with the in-process Engine (the single-process mode, no service)."""

from __future__ import annotations

import numpy as np
import pytest
from flask import Flask

from tests.dashboard.browser import (
    RED,
    ServerThread,
    click_process,
    grid_info,
    hover_tokens,
    select_head,
    shot,
    view_key,
    wait_shown,
    wait_views_follow,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def host_app(models_dir):
    from headgaze.dashboard.app import create_app
    from headgaze.service.runtime.engine import Engine

    host = Flask("host-tool")

    @host.route("/")
    def index():
        return "<h1>Internal tools</h1><a id='go' href='/attention/'>Attention heads</a>"

    engine = Engine(models_dir=str(models_dir), warmup=False)
    create_app(server=host, url_base_pathname="/attention/", engine=engine)
    srv = ServerThread(host)
    yield srv.url, engine
    srv.close()


def test_mounted_under_prefix(page, host_app):
    base, engine = host_app
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(base + "/")
    page.click("#go")
    page.wait_for_url(base + "/attention/")
    page.wait_for_function("document.querySelector('#char-counter') && "
                           "document.querySelector('#char-counter').textContent.includes('/50')")
    wait_views_follow(page)  # the example text, processed on load
    text = "Embedded in a host app."
    page.fill("#text-input", text)
    click_process(page)
    g = grid_info(page)
    assert (g["meta"]["layers"], g["meta"]["heads"]) == (30, 9)
    select_head(page, 2, 1)
    ref = engine.attention(text, "smollm2-135m").attentions[2, 1]
    q = 3
    page.locator(f"#hover-view .hg-token[data-index='{q}']").hover()
    page.wait_for_function("document.querySelectorAll('#hover-view .hg-token.hg-max').length === 1")
    reds = [t for t in hover_tokens(page) if t["bg"] == RED]
    assert [t["index"] for t in reds] == [int(np.argmax(ref[q]))]
    shot(page, "20-embedded-under-prefix")
    # Every dashboard request stayed under the prefix (assets, bundles, callbacks).
    dash_reqs = [r for r in requests if r != base + "/"]
    assert dash_reqs and all(r.startswith(base + "/attention/") for r in dash_reqs), dash_reqs
    # The view's link stays under the prefix and reopens the same view (engine backend: the
    # profile comes from Engine.heads_profile).
    page.wait_for_function("location.pathname === '/attention/' && location.search.includes('layer=2&head=1')")
    link = page.url
    page.goto(base + "/")
    page.goto(link)
    page.wait_for_selector("#selected-head")
    wait_shown(page, view_key("smollm2-135m", text), (2, 1))
    assert page.input_value("#text-input") == text
    page.wait_for_function("document.querySelector('#tag-counts').textContent.includes('Model profile (8 probe texts')")
    # The host app still serves its own page.
    page.goto(base + "/")
    assert page.locator("h1").text_content() == "Internal tools"
