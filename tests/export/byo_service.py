"""One real `python -m service` over a folder of exported test models (minimal launcher for the export tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import requests

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ModelsService:
    """Starts the service on a free loopback port; `attention()` returns (token ids, float32 [L,H,T,T])."""

    def __init__(self, models_dir: Path, log_path: Path):
        self.url = f"http://127.0.0.1:{_free_port()}"
        self.log_path = log_path
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEADGAZE_")}
        cmd = [sys.executable, "-m", "service", "--models-dir", str(models_dir), "--host", "127.0.0.1",
               "--port", self.url.rsplit(":", 1)[1]]
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        """Waits while the process lives: a service that exits fails at once with its log."""
        while self.proc.poll() is None:
            try:
                if requests.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"service exited with {self.proc.returncode}:\n{self.log_path.read_text()[-4000:]}")

    def attention(self, model_id: str, text: str) -> tuple[list[int], np.ndarray]:
        resp = requests.post(self.url + "/v1/attention", json={"text": text, "model": model_id, "format": "json"},
                             timeout=60)
        resp.raise_for_status()
        body = resp.json()
        att = body["attentions"]
        return [t["id"] for t in body["tokens"]], np.asarray(att["data"], dtype=np.float32).reshape(att["shape"])

    def models(self) -> dict:
        return requests.get(self.url + "/v1/models", timeout=10).json()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
