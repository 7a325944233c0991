"""redis-server on a free loopback port, no persistence; can be stopped and started again on the same port."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.net import free_port
from tests.support.wait import wait_until


class RedisServer:
    def __init__(self, workdir: Path):
        self.exe = shutil.which("redis-server")
        if self.exe is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server; .ci/run does)")
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def client(self):
        import redis

        return redis.Redis(port=self.port)

    def start(self) -> RedisServer:
        import redis

        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = self.client()

        def answers() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with code {self.proc.returncode}")
            try:
                return client.ping()
            except redis.ConnectionError:
                return False

        wait_until(answers, f"redis-server answers on port {self.port}", timeout=10)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
