"""A corrupt or truncated model.onnx: the service refuses to start, names the file, never reports ready."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys

import pytest
import requests
from service_testlib import REPO, clean_env, free_port, require_models


def broken_copy(tmp_path, damage) -> tuple:
    folder = tmp_path / "models" / "minilm-l6"
    shutil.copytree(require_models() / "minilm-l6", folder)
    damage(folder / "model.onnx")
    return folder.parent, folder / "model.onnx"


def truncate(path):
    with open(path, "r+b") as handle:
        handle.truncate(1_000_000)


def flip_bytes(path):
    """Still a parseable graph, but the weights are no longer what export verified."""
    with open(path, "r+b") as handle:
        handle.seek(40_000_000)
        handle.write(b"\xff" * 64)


@pytest.mark.parametrize("damage", [truncate, flip_bytes], ids=["truncated", "corrupt-weights"])
def test_service_refuses_a_broken_model(tmp_path, damage):
    models, onnx_file = broken_copy(tmp_path, damage)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "service", "--port", str(port), "--models-dir", str(models)],
        cwd=REPO, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    ready = []
    while proc.poll() is None:  # /readyz must never be green while it starts
        with contextlib.suppress(requests.RequestException):
            ready.append(requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code)
        try:
            proc.wait(0.2)
        except subprocess.TimeoutExpired:
            if len(ready) > 50:
                break
    output = proc.communicate(timeout=30)[0] if proc.poll() is not None else ""
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
        pytest.fail(f"the service is serving a broken model (readyz: {ready[-3:]})")
    assert proc.returncode != 0
    assert 200 not in ready
    assert str(onnx_file) in output
    assert "Traceback" not in output
