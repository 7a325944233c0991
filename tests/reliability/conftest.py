"""Real processes for the reliability tests: a restartable redis-server, service replicas, nginx."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "service"))
from service_testlib import RedisServer, Server, clean_env, free_port, require_models  # noqa: E402

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
        for _ in range(100):
            try:
                requests.get(self.url + "/healthz", timeout=1)
                return
            except requests.RequestException:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"nginx exited: {self.proc.stderr.read().decode()}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def redis_server(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (.ci/run installs it with apt-get)")
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def minilm_only(tmp_path_factory) -> Path:
    """A models dir holding only minilm-l6 (symlinked): replicas start in seconds."""
    models = require_models()
    folder = tmp_path_factory.mktemp("models-minilm")
    (folder / "minilm-l6").symlink_to(models / "minilm-l6")
    return folder


@pytest.fixture
def replicas(redis_server, minilm_only, tmp_path):
    servers = [Server(["--models-dir", str(minilm_only), "--cache", redis_server.url, "--threads", "1"],
                      clean_env(), tmp_path / f"replica-{i}.log") for i in range(2)]
    try:
        for server in servers:
            server.wait_ready()
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
