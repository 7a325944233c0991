"""The dashboard under its real Content-Security-Policy: it works with no violation, and only the
configured origins may frame it (issue 6: embedded by internal tools and nobody else)."""

from __future__ import annotations

import pytest
from flask import Flask

from headgaze.dashboard.layout import EXAMPLE_TEXT
from tests.dashboard.browser import ServerThread, new_page, view_key

pytestmark = pytest.mark.browser
MODEL = "smollm2-135m"  # the dashboard's default model

CSP_PROBE = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
    (e) => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));
"""


@pytest.fixture(scope="module")
def strict_page(browser):
    ctx, page, problems = new_page(browser, bypass_csp=False)
    page.add_init_script(CSP_PROBE)
    yield page, problems
    ctx.close()


def test_page_works_under_its_policy_without_violations(strict_page, dashboard_url):
    page, problems = strict_page
    response = page.goto(dashboard_url)
    policy = response.headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'self'" in policy
    # No wait_for_function under the policy (it evals): the hover view's data-text is the view key
    # its chips were drawn for, a DOM attribute a locator can wait on.
    page.locator(f'#hover-view [data-text="{view_key(MODEL, EXAMPLE_TEXT)}"]').wait_for()  # processed on load
    page.locator("#process-button:not(.hg-busy)").wait_for()
    page.locator("#text-input").fill("fluffy blue monster")
    page.locator("#process-button").click()
    page.locator(f'#hover-view [data-text="{view_key(MODEL, "fluffy blue monster")}"]').wait_for()
    page.locator("#model-view .hm image").wait_for()
    assert "4 tokens" in page.locator("#status").text_content()  # no BOS: flu, ffy, blue, monster
    tokens = page.locator("#hover-view .hg-token")
    tokens.nth(2).wait_for()
    tokens.nth(2).hover()
    page.locator("#hover-view .hg-token.hg-max").wait_for()  # the hover script ran under the policy
    page.locator("#grid-tooltip").count()  # the views' own scripts are served from 'self' too
    assert page.evaluate("typeof window.dash_clientside.headgaze.outline") == "function"
    assert page.evaluate("window.__csp") == []
    assert not problems


def frame_host(target: dict) -> ServerThread:
    """A stand-in internal tool whose page frames target["url"] (filled in once it is known)."""
    host = Flask("frame-host")
    host.add_url_rule("/", "index", lambda: f'<iframe id="hg" src="{target["url"]}" width="900" height="600"></iframe>')
    return ServerThread(host)


def test_frame_ancestors_admits_the_configured_tool_only(browser, service):
    from headgaze.dashboard.app import create_app

    target: dict = {}
    allowed, stranger = frame_host(target), frame_host(target)
    dashboard = ServerThread(create_app(service_url=service.url, frame_ancestors=allowed.url).server)
    target["url"] = dashboard.url + "/"
    ctx, page, _ = new_page(browser, bypass_csp=False)
    try:
        page.goto(allowed.url)
        page.frame_locator("#hg").locator("#process-button").wait_for()

        page.goto(stranger.url)
        page.wait_for_load_state("load")
        assert page.frame_locator("#hg").locator("#process-button").count() == 0
        blocked = [f for f in page.frames if f is not page.main_frame]
        assert blocked and not blocked[0].url.startswith(dashboard.url)  # Chromium's error page instead
    finally:
        ctx.close()
        for srv in (dashboard, stranger, allowed):
            srv.close()
