"""Helpers for the service tests: free ports, a `python -m service` subprocess wrapper, a clean environment."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `service` importable however pytest is started
    sys.path.insert(0, str(REPO))
MODELS_DIR = Path(os.environ.get("HEADGAZE_TEST_MODELS_DIR", REPO / "models"))
MODEL_IDS = ("smollm2-135m", "minilm-l6")
API_TOKEN = "test-token-7f3a"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_models() -> Path:
    missing = [m for m in MODEL_IDS if not (MODELS_DIR / m / "manifest.json").is_file()]
    if missing:
        pytest.fail(f"exported models missing in {MODELS_DIR}: {missing}; run `make export` first", pytrace=False)
    return MODELS_DIR


class Server:
    """A running `python -m service` subprocess."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path, token: str | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = token
        self.log_path = log_path
        self._log = log_path.open("wb")
        cmd = [sys.executable, "-m", "service", "--host", "127.0.0.1", "--port", str(self.port), *args]
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"service exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(self.url + "/readyz", headers=self.headers(), timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"service not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-5000:]

    def post(self, body: dict | None = None, *, raw: bytes | None = None, ctype: str = "application/json",
             params: dict | None = None, headers: dict | None = None) -> requests.Response:
        import orjson

        data = raw if raw is not None else orjson.dumps(body)
        h = {"Content-Type": ctype, **self.headers(), **(headers or {})}
        return requests.post(self.url + "/v1/attention", data=data, headers=h, params=params, timeout=60)

    def get(self, path: str, **kw) -> requests.Response:
        headers = {**self.headers(), **kw.pop("headers", {})}
        return requests.get(self.url + path, headers=headers, timeout=30, **kw)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


class RedisServer:
    """redis-server on a free loopback port, no persistence; can be stopped and started again."""

    def __init__(self, workdir: Path):
        self.exe = shutil.which("redis-server")
        if self.exe is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server; .ci/run does)")
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        import redis

        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADGAZE_")}
    env.update(extra)
    return env
