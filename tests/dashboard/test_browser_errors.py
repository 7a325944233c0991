"""Errors a user can cause or meet, in the browser: empty text, long text, unknown model, HTML in
the text, and the service going away and coming back."""

from __future__ import annotations

import pytest

from tests.dashboard.browser import ServerThread, click_process, grid_info, hover_text, open_page, shot
from tests.support.service import ServiceProcess

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"


def status(page) -> tuple[str, str]:
    return page.evaluate("() => [document.querySelector('#status').textContent, "
                         "document.querySelector('#status').className]")


def test_html_text_is_shown_as_text(page, dashboard_url):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_page(page, dashboard_url)
    page.fill("#text-input", XSS)
    click_process(page)
    assert hover_text(page) == XSS
    assert page.locator("#hover-view img, #head-view img, img[src='x']").count() == 0
    head_text = page.evaluate("() => Array.from(document.querySelectorAll('#head-view text')).map(t => t.textContent)")
    assert "".join(head_text).count("<") >= 1 and "&lt;" not in "".join(head_text)
    # Hovering is safe too.
    page.locator("#hover-view .hg-token[data-index='1']").hover()
    page.wait_for_function("document.querySelectorAll('#hover-view .hg-token.hg-max').length === 1")
    assert dialogs == []
    shot(page, "10-html-as-text")


def test_empty_and_too_long_text(page, dashboard_url):
    open_page(page, dashboard_url)
    page.fill("#text-input", "")
    page.wait_for_function("document.querySelector('#char-counter').textContent === '0/50'")
    body = click_process(page)
    assert "model-view" not in body  # the grid is left alone
    text, cls = status(page)
    assert "hg-error" in cls and "Type some text" in text
    # The counter counts code points as the API does: 25 emoji are 25 characters, not 50.
    page.fill("#text-input", "🙂" * 25)
    page.wait_for_function("document.querySelector('#char-counter').textContent === '25/50'")
    # Over the limit: the counter turns red and Process says why, naming the limit.
    page.fill("#text-input", "x" * 60)
    page.wait_for_function("document.querySelector('#char-counter').textContent === '60/50' && "
                           "document.querySelector('#char-counter').className.includes('hg-over')")
    click_process(page)
    text, cls = status(page)
    assert "hg-error" in cls and "60 characters; at most 50" in text
    # And the next Process works.
    page.fill("#text-input", "Back to normal.")
    click_process(page)
    text, cls = status(page)
    assert "hg-ok" in cls and "tokens" in text


def test_unknown_model(page, dashboard_url):
    open_page(page, dashboard_url)
    # A stale page or a hand-edited request can name a model the service does not have.
    page.evaluate("window.dash_clientside.set_props('model-select', {value: 'no-such-model'})")
    click_process(page)
    text, cls = status(page)
    assert "hg-error" in cls and "Unknown model" in text and "no-such-model" in text
    shot(page, "11-unknown-model")


def test_service_down_then_back(page, models_dir, tmp_path):
    from headgaze.dashboard.app import create_app

    svc = ServiceProcess.for_models(models_dir, tmp_path / "service.log", "--threads", "2")
    svc.start()
    srv = ServerThread(create_app(service_url=svc.url).server)
    try:
        open_page(page, srv.url)
        page.fill("#text-input", "First text.")
        click_process(page)
        assert "hg-ok" in status(page)[1]
        svc.stop()
        page.fill("#text-input", "Second text, service stopped.")
        body = click_process(page)
        text, cls = status(page)
        assert "hg-error" in cls and "not reachable" in text
        assert "model-view" not in body and grid_info(page)["meta"]["layers"] == 30  # old grid still there
        shot(page, "12-service-down")
        # The service comes back on the same port: the next Process works.
        svc.start()
        page.fill("#text-input", "Third text, service back.")
        click_process(page)
        text, cls = status(page)
        assert "hg-ok" in cls and "tokens" in text
    finally:
        srv.close()
        svc.stop()
