"""`headgaze serve` (what `make serve` runs): both servers come up, both URLs are printed,
and Ctrl-C (SIGINT) or SIGTERM stops both."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import pytest

from headgaze.dashboard.stack import wait_http
from tests.support.env import REPO
from tests.support.net import free_port


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stack_starts_and_stops_both(models_dir, sig):
    sport, dport = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-m", "headgaze.dashboard.stack", "--service-port", str(sport),
                             "--dashboard-port", str(dport), "--models-dir", str(models_dir)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_http(f"http://127.0.0.1:{sport}/readyz", timeout=180, proc=proc)
        wait_http(f"http://127.0.0.1:{dport}/", timeout=60, proc=proc)
        # The URLs are printed once both answer.
        deadline = time.monotonic() + 30
        lines: list[str] = []
        while time.monotonic() < deadline and not any("headgaze dashboard:" in line for line in lines):
            lines.append(proc.stdout.readline())
        out = "".join(lines)
        assert f"http://127.0.0.1:{sport}" in out and f"http://127.0.0.1:{dport}/" in out
        proc.send_signal(sig)
        rest, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, rest
        assert "stopped." in rest
        assert not port_open(sport) and not port_open(dport)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
