"""Real processes for the reliability tests: service replicas and nginx (redis_server is in tests/conftest.py)."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.support.env import REPO, require_models
from tests.support.net import free_port
from tests.support.service import ServiceProcess
from tests.support.wait import wait_until

NGINX_EXAMPLE = REPO / "service" / "deploy" / "nginx.example.conf"


class Nginx:
    """nginx running service/deploy/nginx.example.conf with the replicas' ports filled in."""

    def __init__(self, workdir: Path, upstream_ports: list[int]):
        self.exe = shutil.which("nginx")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf = NGINX_EXAMPLE.read_text()
        servers = "".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n" for p in upstream_ports)
        conf = re.sub(r"(?m)^\s*server 127\.0\.0\.1:\d+ [^\n]*\n", "", conf)
        conf = conf.replace("        keepalive 32;", servers + "        keepalive 32;")
        conf = conf.replace("listen 127.0.0.1:8000;", f"listen 127.0.0.1:{self.port};")
        self.conf = workdir / "nginx.conf"
        self.conf.write_text(conf)
        self.workdir = workdir
        self.proc = subprocess.Popen(
            [self.exe, "-c", str(self.conf), "-p", str(workdir),
             "-g", f"daemon off; pid {workdir}/nginx.pid; error_log {workdir}/nginx-error.log;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(self.listening, f"nginx listens on port {self.port}", timeout=10)

    def listening(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"nginx exited: {self.proc.stderr.read().decode()}")
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def minilm_only(tmp_path_factory) -> Path:
    """A models dir holding only minilm-l6 (symlinked): replicas start in seconds."""
    models = require_models()
    folder = tmp_path_factory.mktemp("models-minilm")
    (folder / "minilm-l6").symlink_to(models / "minilm-l6")
    return folder


@pytest.fixture
def replicas(redis_server, minilm_only, tmp_path):
    servers = [ServiceProcess(["--models-dir", str(minilm_only), "--cache", redis_server.url, "--threads", "1"],
                              tmp_path / f"replica-{i}.log") for i in range(2)]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def nginx(replicas, tmp_path):
    if shutil.which("nginx") is None:
        pytest.fail("nginx is not installed (.ci/run installs it with apt-get)")
    proxy = Nginx(tmp_path, [s.port for s in replicas])
    yield proxy
    proxy.stop()
