"""The loading state while a request is in flight: Process says so (busy, still clickable: a new
Process supersedes the one in flight, tests/dashboard/test_browser_orderings.py), the grid is
dimmed under a spinner, and everything returns to normal when the answer arrives. A gated fake
backend holds the request open, so nothing here depends on timing."""

from __future__ import annotations

import threading

import pytest

from tests.dashboard.browser import ServerThread, open_page, view_key, wait_shown
from tests.dashboard.fakes import FakeBackend

pytestmark = pytest.mark.browser


class GatedBackend(FakeBackend):
    def __init__(self):
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()

    def attention(self, text, model=None):
        self.entered.set()
        assert self.gate.wait(60)
        return super().attention(text, model)


def test_loading_state(page):
    from headgaze.dashboard.app import create_app

    backend = GatedBackend()
    srv = ServerThread(create_app(engine=backend).server)
    try:
        backend.gate.set()
        open_page(page, srv.url)  # the example, processed on load: the grid exists
        backend.gate.clear()
        backend.entered.clear()
        page.fill("#text-input", "a slow one")
        page.click("#process-button")
        assert backend.entered.wait(30)
        page.wait_for_function("document.querySelector('#process-button').classList.contains('hg-busy')")
        assert page.text_content("#process-button") == "Processing…"
        page.wait_for_selector("#loading ._dash-loading, #loading .dash-spinner, [data-dash-is-loading='true']",
                               state="attached")
        backend.gate.set()
        wait_shown(page, view_key("fake-causal", "a slow one"))
        assert page.text_content("#process-button") == "Process"
    finally:
        backend.gate.set()
        srv.close()
