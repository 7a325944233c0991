"""Fixtures for the dashboard tests: the real service as a subprocess, the dashboard served by
waitress in a thread, and Debian's Chromium driven by Playwright (never `playwright install`).

Screenshots go to test-artifacts/dashboard/ (git-ignored).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.dashboard.browser import (
    ARTIFACTS,
    ServerThread,
    free_port,
    launch_chromium,
    new_page,
)

CHROMIUM = os.environ.get("HEADGAZE_CHROMIUM", "/usr/bin/chromium")


class ServiceProc:
    """A `python -m service` child process on a free port; can be stopped and started again."""

    def __init__(self, models_dir: Path, log_path: Path):
        self.models_dir = models_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        from dashboard.stack import start_service, wait_http

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.proc = start_service(self.port, self.models_dir, extra=["--threads", "2"], stdout=log,
                                  stderr=subprocess.STDOUT)
        wait_http(self.url + "/readyz", timeout=180, proc=self.proc)

    def stop(self) -> None:
        from dashboard.stack import stop

        stop(self.proc)
        self.proc = None


@pytest.fixture(scope="session")
def service(models_dir):
    svc = ServiceProc(models_dir, ARTIFACTS / "service.log")
    svc.start()
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def dashboard_url(service):
    from dashboard.app import create_app

    app = create_app(service_url=service.url)
    srv = ServerThread(app.server)
    yield srv.url
    srv.close()


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
