"""Fixtures for the service tests: real `python -m service` subprocesses on free ports, real exported models."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from service_testlib import API_TOKEN, Server, clean_env, free_port, require_models  # noqa: E402


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return require_models()


@pytest.fixture(scope="session")
def server(models_dir, tmp_path_factory):
    """The default configuration: all models, in-process cache, no token."""
    srv = Server(["--models-dir", str(models_dir)], clean_env(), tmp_path_factory.mktemp("srv") / "service.log")
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def limited_server(models_dir, tmp_path_factory):
    """Bearer token on, queue limit 0 (one request at a time), a Redis cache URL nobody listens on."""
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    srv = Server(
        ["--models-dir", str(models_dir), "--queue-limit", "0", "--cache", dead_redis],
        clean_env(HEADGAZE_API_TOKEN=API_TOKEN), tmp_path_factory.mktemp("limited") / "service.log", token=API_TOKEN,
    )
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def minilm_dir(models_dir, tmp_path_factory) -> Path:
    """A models folder holding only minilm-l6 (symlinks to the real export): quick to load in-process."""
    d = tmp_path_factory.mktemp("minilm_only")
    (d / "minilm-l6").symlink_to(models_dir / "minilm-l6", target_is_directory=True)
    return d


@pytest.fixture(scope="session")
def engine(models_dir):
    """An in-process Engine over the real models (no HTTP)."""
    from service.engine import Engine

    return Engine(models_dir)
