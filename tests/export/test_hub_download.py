"""Hub ids: which files are fetched. No network here, so `snapshot_download` is replaced by a local
stand-in that honours `allow_patterns` exactly as the hub does, over a folder playing the repository."""

from __future__ import annotations

import fnmatch
import shutil

import huggingface_hub
import pytest

from headgaze.export.sources import resolve


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    calls = []

    def snapshot_download(repo_id, allow_patterns, **_):
        calls.append(list(allow_patterns))
        snapshot = tmp_path / "snapshot"
        snapshot.mkdir(exist_ok=True)
        for f in repo.iterdir():
            if any(fnmatch.fnmatch(f.name, p) for p in allow_patterns):
                shutil.copy(f, snapshot / f.name)
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    return repo, calls


def test_bin_only_repository_is_downloaded_with_its_bin_weights(fake_hub):
    repo, calls = fake_hub
    (repo / "config.json").write_text("{}")
    (repo / "pytorch_model.bin").write_bytes(b"weights")
    source = resolve("some-org/bin-only")
    assert source.info["kind"] == "hub" and source.info["file"] == "pytorch_model.bin"
    assert len(calls) == 2 and calls[1] == ["*.bin"]


def test_safetensors_repository_does_not_fetch_bin_weights_too(fake_hub):
    repo, calls = fake_hub
    (repo / "config.json").write_text("{}")
    (repo / "model.safetensors").write_bytes(b"weights")
    (repo / "pytorch_model.bin").write_bytes(b"the same weights again")
    source = resolve("some-org/both", "both")
    assert source.info["file"] == "model.safetensors"
    assert len(calls) == 1 and "*.bin" not in calls[0]
