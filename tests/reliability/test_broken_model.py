"""A corrupt or truncated model.onnx: the service refuses to start, names the file, never reports ready."""

from __future__ import annotations

import shutil
import time

import pytest

from tests.support.env import require_models
from tests.support.service import ServiceProcess

STARTUP_LIMIT = 300.0  # only reached when the service neither exits nor answers: a hang, reported as such


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
    """Wait for the outcome: the process exits (expected) or /readyz turns green (serving a broken model)."""
    models, onnx_file = broken_copy(tmp_path, damage)
    srv = ServiceProcess(["--models-dir", str(models)], tmp_path / "service.log").spawn()
    try:
        deadline = time.monotonic() + STARTUP_LIMIT
        while srv.proc.poll() is None:
            if srv.ready():
                pytest.fail(f"the service is serving a broken model:\n{srv.log()}")
            if time.monotonic() > deadline:
                pytest.fail(f"the service neither exited nor became ready in {STARTUP_LIMIT:.0f}s:\n{srv.log()}")
            time.sleep(0.1)
    finally:
        srv.stop()
    output = srv.log()
    assert srv.proc.returncode == 2, output
    assert str(onnx_file) in output
    assert "Traceback" not in output


def test_external_data_models_are_checked_over_every_file(tmp_path):
    """A model saved with external data (how exports over 2 GB come out): the manifest's sha256 and
    size cover model.onnx + model.onnx_data, the service loads it, and damage to the data file is caught."""
    import json

    import onnx

    from headgaze.service.common.errors import ConfigError
    from headgaze.service.common.hashing import sha256_files
    from headgaze.service.runtime.engine import Engine

    source = require_models() / "minilm-l6"
    folder = tmp_path / "models" / "minilm-ext"
    folder.mkdir(parents=True)
    onnx.save(onnx.load(str(source / "model.onnx")), str(folder / "model.onnx"),
              save_as_external_data=True, location="model.onnx_data")
    shutil.copy(source / "tokenizer.json", folder / "tokenizer.json")
    shutil.copy(source / "hidden.onnx", folder / "hidden.onnx")  # the knock-out's graph, as exported
    files = [folder / "model.onnx", folder / "model.onnx_data"]
    manifest = json.loads((source / "manifest.json").read_text())
    manifest["id"] = "minilm-ext"
    manifest["onnx"] = {"file": "model.onnx", "files": [f.name for f in files], "sha256": sha256_files(*files),
                        "bytes": sum(f.stat().st_size for f in files)}
    (folder / "manifest.json").write_text(json.dumps(manifest))

    engine = Engine(folder.parent, warmup=False)
    assert engine.attention("external data works", "minilm-ext").attentions.shape[:2] == (6, 12)

    flip_bytes(folder / "model.onnx_data")
    with pytest.raises(ConfigError, match="does not match the manifest"):
        Engine(folder.parent, warmup=False)
