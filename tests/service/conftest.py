"""Fixtures for the service tests: real `headgaze service` subprocesses on free ports, real exported models.

Every response these servers hand to a test is first validated against the served /openapi.json
(tests/support/openapi.py), so a response that drifts from the schema fails the test that got it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.env import API_TOKEN, clean_env
from tests.support.net import free_port
from tests.support.openapi import OpenApiCheck
from tests.support.service import ServiceProcess


def _started(args: list[str], log_path: Path, **kw) -> ServiceProcess:
    srv = ServiceProcess(args, log_path, **kw)
    try:
        srv.start()
    except BaseException:
        srv.stop()
        raise
    srv.on_response = OpenApiCheck.from_url(srv.url, srv.headers())
    return srv


@pytest.fixture(scope="session")
def server(models_dir, tmp_path_factory):
    """The default configuration: all models, in-process cache, no token."""
    srv = _started(["--models-dir", str(models_dir)], tmp_path_factory.mktemp("srv") / "service.log")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def limited_server(models_dir, tmp_path_factory):
    """Bearer token on, queue limit 0 (one request at a time), a Redis cache URL nobody listens on and no
    recent-results store (so every repeat asks the dead cache)."""
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    srv = _started(["--models-dir", str(models_dir), "--queue-limit", "0", "--cache", dead_redis, "--store-mb", "0"],
                   tmp_path_factory.mktemp("limited") / "service.log",
                   env=clean_env(HEADGAZE_API_TOKEN=API_TOKEN), token=API_TOKEN)
    yield srv
    srv.stop()


def _only(models_dir: Path, tmp_path_factory, model_id: str) -> Path:
    """A models folder holding only `model_id` (a symlink to the real export)."""
    d = tmp_path_factory.mktemp(f"{model_id}_only")
    (d / model_id).symlink_to(models_dir / model_id, target_is_directory=True)
    return d


@pytest.fixture(scope="session")
def minilm_dir(models_dir, tmp_path_factory) -> Path:
    """A models folder holding only minilm-l6: quick to load in-process."""
    return _only(models_dir, tmp_path_factory, "minilm-l6")


@pytest.fixture(scope="session")
def engine(models_dir):
    """An in-process Engine over the real models (no HTTP)."""
    from headgaze.service.runtime.engine import Engine

    return Engine(models_dir)


@pytest.fixture(scope="session")
def smollm2_dir(models_dir, tmp_path_factory) -> Path:
    """A models folder holding only smollm2-135m."""
    return _only(models_dir, tmp_path_factory, "smollm2-135m")


@pytest.fixture(scope="session")
def reference():
    """PyTorch eager SmolLM2 with its LM head and transformers' tokenizer, from the same GGUF the export reads."""
    from transformers import AutoTokenizer

    from headgaze.export.sources import resolve

    source = resolve("smollm2-135m")
    tokenizer = AutoTokenizer.from_pretrained(source.folder, gguf_file=source.gguf_file)
    return source.load_reference(with_lm_head=True), tokenizer
