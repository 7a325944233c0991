"""The one `headgaze service` launcher for tests and benchmarks: a child process on a free port.

``ServiceProcess(args, log_path).start()`` starts it and waits until /readyz answers (or fails with
the log when the process exits first); ``stop()`` and ``start()`` again reuse the same port.
``post``/``get`` send real HTTP and hand every response to ``on_response`` (the service tests
validate each one against the served /openapi.json there).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson
import requests

from tests.support.env import REPO, clean_env
from tests.support.net import free_port


class ServiceProcess:
    def __init__(self, args: Sequence[str], log_path: Path, *, env: dict[str, str] | None = None,
                 token: str | None = None, port: int | None = None,
                 on_response: Callable[[requests.Response], None] | None = None):
        self.args = [str(a) for a in args]
        self.env = clean_env() if env is None else env
        self.token = token
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path)
        self.on_response = on_response
        self.proc: subprocess.Popen | None = None
        self.http = requests.Session()

    @classmethod
    def for_models(cls, models_dir: Path, log_path: Path, *extra: str, **kw) -> ServiceProcess:
        return cls(["--models-dir", str(models_dir), *extra], log_path, **kw)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def spawn(self) -> ServiceProcess:
        """Start the process without waiting for it."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "headgaze.service", "--host", "127.0.0.1", "--port", str(self.port), *self.args]
        with self.log_path.open("ab") as log:  # the child keeps its own handle
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def start(self, timeout: float = 180.0) -> ServiceProcess:
        return self.spawn().wait_ready(timeout)

    def ready(self) -> bool:
        try:
            return self.http.get(self.url + "/readyz", headers=self.headers(), timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def wait_ready(self, timeout: float = 180.0) -> ServiceProcess:
        """Until /readyz is 200; RuntimeError with the log when the process exits first or after `timeout`."""
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"service exited with code {self.proc.returncode} before it was ready:\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"service not ready after {timeout:.0f}s:\n{self.log()}")
            time.sleep(0.1)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _checked(self, resp: requests.Response) -> requests.Response:
        if self.on_response is not None:
            self.on_response(resp)
        return resp

    def request(self, method: str, path: str, *, auth: bool = True, **kw) -> requests.Response:
        """Any request (with the bearer token unless auth=False), handed to `on_response` before it is returned."""
        headers = {**(self.headers() if auth else {}), **kw.pop("headers", {})}
        kw.setdefault("timeout", 60)
        return self._checked(self.http.request(method, self.url + path, headers=headers, **kw))

    def post(self, body: dict | None = None, *, raw: bytes | None = None, ctype: str = "application/json",
             params: dict | None = None, headers: dict | None = None) -> requests.Response:
        data = raw if raw is not None else orjson.dumps(body)
        return self.request("POST", "/v1/attention", data=data, params=params,
                            headers={"Content-Type": ctype, **(headers or {})})

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def model_runs(self, model: str) -> float:
        """`headgaze_model_runs_total` of `model` on /metrics (0 before its first run)."""
        m = re.search(rf'^headgaze_model_runs_total{{model="{model}"}} (\S+)$', self.get("/metrics").text, re.M)
        return float(m.group(1)) if m else 0.0

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, then SIGKILL after `timeout`; safe to call twice."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.http.close()

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
