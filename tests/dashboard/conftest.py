"""Fixtures for the dashboard tests: the real service as a subprocess, the dashboard served by
waitress in a thread, and Debian's Chromium driven by Playwright (never `playwright install`).

Screenshots go to test-artifacts/dashboard/ (git-ignored).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.dashboard.browser import (
    ARTIFACTS,
    ServerThread,
    launch_chromium,
    new_page,
)
from tests.support.service import ServiceProcess

CHROMIUM = os.environ.get("HEADGAZE_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def service(models_dir):
    svc = ServiceProcess.for_models(models_dir, ARTIFACTS / "service.log", "--threads", "2").start()
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def dashboard_url(service):
    from headgaze.dashboard.app import create_app

    app = create_app(service_url=service.url)
    srv = ServerThread(app.server)
    yield srv.url
    srv.close()


@pytest.fixture(scope="session")
def minilm_engine(models_dir, tmp_path_factory):
    """The real in-process engine on a models dir holding only MiniLM (bidirectional, 6×12 heads)."""
    from headgaze.service.runtime.engine import Engine

    only = tmp_path_factory.mktemp("models-minilm")
    (only / "minilm-l6").symlink_to((models_dir / "minilm-l6").resolve(), target_is_directory=True)
    return Engine(only, threads=1, warmup=False)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (.ci/run does this); "
                    "never `playwright install`")
    pw, br = launch_chromium(CHROMIUM)
    yield br
    br.close()
    pw.stop()


@pytest.fixture
def allowed_console() -> list[str]:
    """Regexes of console errors a test expects (e.g. Dash's own report while its server is down)."""
    return []


@pytest.fixture
def page(browser, request, allowed_console):
    ctx, pg, problems = new_page(browser)
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)
    ctx.close()
    problems = [p for p in problems if not any(re.search(rx, p) for rx in allowed_console)]
    assert not problems, f"browser console errors: {problems}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
