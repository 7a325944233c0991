"""`headgaze export` as a user runs it: idempotence, bad input, failed and interrupted exports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from headgaze.export.sources import KNOWN_MODELS


def run_export(python, repo_root, *args, env=None, timeout=600):
    return subprocess.run(
        [python, "-m", "headgaze.export", *args],
        cwd=repo_root, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )


def finished_folders(models_dir: Path) -> list[str]:
    return sorted(p.name for p in models_dir.iterdir()) if models_dir.exists() else []


def test_second_export_with_nothing_changed_does_not_reexport(python, repo_root, models_dir):
    manifests = {m: models_dir / m / "manifest.json" for m in KNOWN_MODELS}
    assert run_export(python, repo_root, "--models-dir", str(models_dir)).returncode == 0  # current (make did it)
    before = {m: (p.stat().st_mtime_ns, (p.parent / "model.onnx").stat().st_mtime_ns) for m, p in manifests.items()}
    result = run_export(python, repo_root, "--models-dir", str(models_dir))
    assert result.returncode == 0, result.stderr
    for model_id in KNOWN_MODELS:
        assert f"[{model_id} " in result.stderr and "up to date" in result.stderr
    after = {m: (p.stat().st_mtime_ns, (p.parent / "model.onnx").stat().st_mtime_ns) for m, p in manifests.items()}
    assert after == before


def test_unknown_id_exits_2_and_lists_known_ids(python, repo_root, tmp_path):
    result = run_export(python, repo_root, "--models-dir", str(tmp_path), "no-such-model")
    assert result.returncode == 2
    assert "unknown model 'no-such-model'" in result.stderr
    for model_id in KNOWN_MODELS:
        assert model_id in result.stderr
    assert "Traceback" not in result.stderr
    assert finished_folders(tmp_path) == []


def test_folder_without_config_is_not_a_model(python, repo_root, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("just some notes")
    result = run_export(python, repo_root, "--models-dir", str(tmp_path / "out"), str(folder))
    assert result.returncode == 1
    assert f"{folder} is not a model folder: it has no config.json" in result.stderr
    assert "Traceback" not in result.stderr


def test_unsupported_architecture_is_named(python, repo_root, tmp_path):
    folder = tmp_path / "tiny-mamba"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(
        {"model_type": "mamba", "architectures": ["MambaForCausalLM"], "num_hidden_layers": 1, "hidden_size": 16}
    ))
    (folder / "model.safetensors").write_bytes(b"")  # never read: the architecture check comes first
    result = run_export(python, repo_root, "--models-dir", str(tmp_path / "out"), str(folder))
    assert result.returncode == 1, result.stderr
    assert "unsupported architecture: MambaForCausalLM (model_type 'mamba')" in result.stderr
    assert finished_folders(tmp_path / "out") == []


def test_hub_id_offline_is_one_clear_line(python, repo_root, tmp_path):
    result = run_export(python, repo_root, "--models-dir", str(tmp_path), "some-org/some-model",
                        env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("export failed")]
    assert len(lines) == 1 and "cannot download 'some-org/some-model'" in lines[0]
    assert "Traceback" not in result.stderr


def test_failed_verification_names_head_and_leaves_no_finished_folder(python, repo_root, tmp_path):
    """--atol 0 demands bit-exact attentions, which onnxruntime's kernels do not give: a real failure."""
    result = run_export(python, repo_root, "--models-dir", str(tmp_path), "--atol", "0", "minilm-l6")
    assert result.returncode == 3, result.stderr
    failure = [line for line in result.stderr.splitlines() if line.startswith("export failed")]
    assert failure and "layer " in failure[0] and " head " in failure[0] and "on probe '" in failure[0]
    assert finished_folders(tmp_path) == []


def test_interrupted_export_leaves_no_finished_folder(python, repo_root, tmp_path):
    process = subprocess.Popen(
        [python, "-m", "headgaze.export", "--models-dir", str(tmp_path), "minilm-l6"],
        cwd=repo_root, stderr=subprocess.PIPE, text=True,
    )
    for line in process.stderr:  # wait until the export stage is running, then press Ctrl-C
        if "export: ONNX graph" in line:
            break
    assert any(p.name.startswith(".minilm-l6.partial-") for p in tmp_path.iterdir())
    process.send_signal(signal.SIGINT)
    rest = process.stderr.read()
    assert process.wait(timeout=60) == 130, rest
    assert "interrupted" in rest
    assert finished_folders(tmp_path) == []


@pytest.mark.slow
def test_local_folder_exports_and_is_idempotent(python, repo_root, tmp_path):
    """A local HF folder (MiniLM's package folder) exports under --id, then is up to date."""
    folder = KNOWN_MODELS["minilm-l6"]
    from headgaze.export.sources import resolve

    source_dir = resolve("minilm-l6").folder
    first = run_export(python, repo_root, "--models-dir", str(tmp_path), "--id", "my-minilm", str(source_dir))
    assert first.returncode == 0, first.stderr
    manifest = json.loads((tmp_path / "my-minilm" / "manifest.json").read_text())
    assert manifest["source"]["kind"] == "folder" and manifest["layers"] == 6
    assert manifest["source"]["sha256"] == folder.sha256
    second = run_export(python, repo_root, "--models-dir", str(tmp_path), "--id", "my-minilm", str(source_dir))
    assert second.returncode == 0 and "up to date" in second.stderr
    assert finished_folders(tmp_path) == ["my-minilm"]


def test_user_gguf_file_exports_under_its_id(python, repo_root, tmp_path):
    """`headgaze export file.gguf --id NAME`: the CLI path for a llama.cpp user's file, then up to date."""
    from headgaze.service.common.hashing import sha256_files
    from tests.export.tiny_gguf import write_tiny_gguf

    gguf_file = write_tiny_gguf(tmp_path / "my-model.gguf")
    args = ("--models-dir", str(tmp_path / "out"), "--id", "mine", str(gguf_file))
    first = run_export(python, repo_root, *args)
    assert first.returncode == 0, first.stderr
    assert "attention is causal (probe run" in first.stderr
    manifest = json.loads((tmp_path / "out" / "mine" / "manifest.json").read_text())
    assert manifest["source"]["kind"] == "gguf-file" and manifest["source"]["sha256"] == sha256_files(gguf_file)
    second = run_export(python, repo_root, *args)
    assert second.returncode == 0 and "up to date" in second.stderr
    assert finished_folders(tmp_path / "out") == ["mine"]
