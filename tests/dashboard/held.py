"""Holding back chosen Dash callback requests in the browser (Playwright's ``page.route``), so that a
test forces an ordering of answers instead of hoping for it.

    held = Held(page, "result-meta.data", lambda body: request_value(body, "grid-request")["text"] == A)
    page.click("#process-button")   # A's request is held, not sent
    held.wait()                      # ... it has been
    ...                              # B is processed and drawn meanwhile
    held.release()                   # A reaches the server now; returns once its answer reached the page
"""

from __future__ import annotations

import time
from collections.abc import Callable

from playwright.sync_api import Page, Route

from tests.dashboard.browser import callback_of

CALLBACKS = "**/_dash-update-component"


def request_value(body: dict, component: str):
    """The value of ``component`` among a callback request's inputs and states."""
    for item in (body.get("inputs") or []) + (body.get("state") or []):
        for entry in item if isinstance(item, list) else [item]:
            if entry.get("id") == component:
                return entry.get("value")
    raise KeyError(component)


class Held:
    """Hold back the next request for ``output`` whose body ``matches``; every other request passes."""

    def __init__(self, page: Page, output: str, matches: Callable[[dict], bool]):
        self.page, self.output, self.matches = page, output, matches
        self.route: Route | None = None
        page.route(CALLBACKS, self._handle)

    def _handle(self, route: Route) -> None:
        body = callback_of(route.request, self.output)
        if self.route is None and body is not None and self.matches(body):
            self.route = route  # not continued: the browser's request stays open
            return
        route.continue_()

    def wait(self, timeout_s: float = 30.0) -> None:
        """Return once the request has been caught (each Playwright call lets the route handler run)."""
        deadline = time.monotonic() + timeout_s
        while self.route is None:
            assert time.monotonic() < deadline, f"no request for {self.output} was held"
            self.page.evaluate("() => new Promise((r) => requestAnimationFrame(() => r()))")

    def release(self) -> None:
        """Send the held request on and return once its answer has reached the page, then let the page
        run what it does with it (a frame, then a round trip of its own scripts)."""
        assert self.route is not None, "nothing was held"
        sent = self.route.request.post_data
        with self.page.expect_response(lambda r: r.request.post_data == sent and CALLBACKS[3:] in r.url) as info:
            self.route.continue_()
        info.value.finished()
        self.page.evaluate("() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)))")
        self.page.unroute(CALLBACKS, self._handle)
