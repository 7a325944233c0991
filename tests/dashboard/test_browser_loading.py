"""The loading state while a request is in flight: Process says so (busy, still clickable: a new
Process supersedes the one in flight, tests/dashboard/test_browser_orderings.py), the grid is
dimmed under a spinner, and everything returns to normal when the answer arrives. Past
PROGRESS_AFTER_S the line beside the status counts the seconds ("running the model… 2 s"), and it is
cleared when the result is drawn or when an error is shown. A gated fake backend holds the request
open, so nothing here depends on timing: the page is only ever waited on."""

from __future__ import annotations

import re
import threading

import pytest

from headgaze.service.common.errors import ServiceUnavailable
from tests.dashboard.browser import ServerThread, open_page, view_key, wait_shown
from tests.dashboard.fakes import FakeBackend

pytestmark = pytest.mark.browser

PROGRESS = re.compile(r"^running the model… (\d+) s$")


class GatedBackend(FakeBackend):
    def __init__(self):
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.fail = False

    def attention(self, text, model=None):
        self.entered.set()
        assert self.gate.wait(60)
        if self.fail:
            raise ServiceUnavailable("down")
        return super().attention(text, model)


@pytest.fixture
def gated():
    from headgaze.dashboard.app import create_app

    backend = GatedBackend()
    srv = ServerThread(create_app(engine=backend).server)
    try:
        yield backend, srv.url
    finally:
        backend.gate.set()
        srv.close()


def hold_process(page, backend, text: str) -> None:
    """Process `text` with the backend's gate closed; returns once the request is held there."""
    backend.gate.clear()
    backend.entered.clear()
    page.fill("#text-input", text)
    page.click("#process-button")
    assert backend.entered.wait(30)


def wait_progress_seconds(page, seconds: int) -> int:
    """Wait until the progress line counts at least `seconds` elapsed seconds; returns the count shown."""
    page.wait_for_function("(s) => { const m = /^running the model… (\\d+) s$/.exec("
                           "document.querySelector('#progress').textContent); return m && +m[1] >= s; }", arg=seconds)
    return int(PROGRESS.match(page.text_content("#progress")).group(1))


def test_loading_state(page, gated):
    backend, url = gated
    backend.gate.set()
    open_page(page, url)  # the example, processed on load: the grid exists
    assert page.text_content("#progress") == ""
    hold_process(page, backend, "a slow one")
    page.wait_for_function("document.querySelector('#process-button').classList.contains('hg-busy')")
    assert page.text_content("#process-button") == "Processing…"
    page.wait_for_selector("#loading ._dash-loading, #loading .dash-spinner, [data-dash-is-loading='true']",
                           state="attached")
    # held past PROGRESS_AFTER_S: the seconds are counted, beside the status line
    first = wait_progress_seconds(page, 1)
    assert wait_progress_seconds(page, first + 1) > first  # it counts on while the request is held
    assert page.locator("#progress").is_visible()
    backend.gate.set()
    wait_shown(page, view_key("fake-causal", "a slow one"))
    assert page.text_content("#process-button") == "Process"
    page.wait_for_function("document.querySelector('#progress').textContent === ''")
    assert not page.locator("#progress").is_visible()


def test_progress_is_cleared_by_an_error_and_restarts_with_the_next_request(page, gated):
    backend, url = gated
    backend.gate.set()
    open_page(page, url)
    backend.fail = True
    hold_process(page, backend, "a failing one")
    wait_progress_seconds(page, 1)
    backend.gate.set()
    page.wait_for_function("() => /hg-error/.test(document.querySelector('#status').className)")
    assert "not reachable" in page.text_content("#status")
    page.wait_for_function("document.querySelector('#progress').textContent === ''")
    # the next request starts a timer of its own (the failed one's was stopped when its answer came)
    backend.fail = False
    hold_process(page, backend, "the next one")
    wait_progress_seconds(page, 1)
    backend.gate.set()
    wait_shown(page, view_key("fake-causal", "the next one"))
    page.wait_for_function("document.querySelector('#progress').textContent === ''")
