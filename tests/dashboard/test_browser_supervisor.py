"""`make serve` keeps the stack up: killing the service or the dashboard under the launcher
(headgaze serve) restarts it with back-off, the open page says what is wrong instead of
spinning, and it works again without a reload.

The launcher runs with a 5 s restart delay, so the moments "dead" and "back" are told apart by the
launcher's own log lines, not by timing guesses.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from headgaze.dashboard.stack import wait_http
from tests.dashboard.browser import open_page, view_key, wait_shown
from tests.support.env import REPO
from tests.support.net import free_port

pytestmark = pytest.mark.browser

RESTART_DELAY = 5.0


class Launcher:
    """`headgaze serve` with its stderr (the supervisor's log) kept in a file."""

    def __init__(self, models_dir: Path, log_path: Path):
        self.sport, self.dport = free_port(), free_port()
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "headgaze.dashboard.stack", "--service-port", str(self.sport), "--dashboard-port",
             str(self.dport), "--models-dir", str(models_dir), "--restart-delay", str(RESTART_DELAY)],
            cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT, text=True)
        wait_http(f"http://127.0.0.1:{self.sport}/readyz", timeout=180, proc=self.proc)
        wait_http(f"http://127.0.0.1:{self.dport}/", timeout=60, proc=self.proc)

    def log(self) -> str:
        return self.log_path.read_text()

    def pid(self, name: str) -> int:
        return int(re.findall(rf"{name} (?:started|restarted) \(pid (\d+)", self.log())[-1])

    def wait_log(self, pattern: str, count: int = 1, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while len(re.findall(pattern, self.log())) < count:
            assert self.proc.poll() is None, f"the launcher exited:\n{self.log()}"
            assert time.monotonic() < deadline, f"no {pattern!r} in the launcher's log:\n{self.log()}"
            time.sleep(0.1)

    def stop(self) -> None:
        """Ctrl-C (SIGINT) stops the launcher and both children; if it does not, kill them all and fail."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)
                try:
                    self.proc.wait(30)
                except subprocess.TimeoutExpired:
                    pids = [self.proc.pid, *(int(p) for p in re.findall(r"(?:started|restarted) \(pid (\d+)", self.log()))]
                    for pid in pids:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                    self.proc.wait(10)
                    pytest.fail(f"the launcher did not stop within 30 s of SIGINT:\n{self.log()}")
            assert "stopped." in self.log(), self.log()
        finally:
            self._log.close()


@pytest.fixture
def launcher(models_dir, tmp_path):
    only_minilm = tmp_path / "models"
    only_minilm.mkdir()
    (only_minilm / "minilm-l6").symlink_to(models_dir / "minilm-l6", target_is_directory=True)
    stack = Launcher(only_minilm, tmp_path / "stack.log")
    yield stack
    stack.stop()


def process(page, text: str) -> None:
    page.fill("#text-input", text)
    page.click("#process-button")


def wait_status(page, needle: str, cls: str) -> None:
    """An answer that draws no view (an error, the connection note): its words in the status line."""
    page.wait_for_function("([t, c]) => { const s = document.querySelector('#status');"
                           " return s.textContent.includes(t) && s.className.includes(c); }", arg=[needle, cls])
    page.wait_for_function("!document.querySelector('#process-button').classList.contains('hg-busy')")


def test_killed_service_and_dashboard_come_back_and_the_page_says_so(page, launcher, allowed_console):
    allowed_console.append(r"^console\.error: Error: Callback failed: the server did not respond")  # Dash's own report
    url = f"http://127.0.0.1:{launcher.dport}/"
    open_page(page, url)
    process(page, "first answer")
    wait_shown(page, view_key("minilm-l6", "first answer"))
    dashboard_pid = launcher.pid("dashboard")

    # The service dies: the dashboard stays up and says so; the supervisor restarts the service.
    os.kill(launcher.pid("service"), signal.SIGKILL)
    launcher.wait_log(r"service exited with code -9 after [\d.]+s; restarting in 5\.0s")
    process(page, "while the service is down")
    wait_status(page, "attention service is not reachable", "hg-error")
    launcher.wait_log(r"service is answering again")
    process(page, "after the service came back")
    wait_shown(page, view_key("minilm-l6", "after the service came back"))
    assert launcher.pid("dashboard") == dashboard_pid and launcher.proc.poll() is None

    # The dashboard itself dies: the page does not spin, and works again once it is back.
    os.kill(dashboard_pid, signal.SIGKILL)
    launcher.wait_log(r"dashboard exited with code -9 after [\d.]+s; restarting in 5\.0s")
    process(page, "while the dashboard is down")
    wait_status(page, "dashboard server is not reachable", "hg-error")
    launcher.wait_log(r"dashboard is answering again")
    wait_status(page, "dashboard server is back", "hg-status")
    process(page, "after the dashboard came back")
    wait_shown(page, view_key("minilm-l6", "after the dashboard came back"))
    assert "restart #1" in launcher.log()
