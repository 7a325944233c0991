"""Shared fixtures: where the repo and the exported models are, and a real redis-server.

The models are produced by `make export` (which `make test` runs first); tests use the real
artifacts and fail with a clear message when they are missing. Helpers live in tests/support/.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest

from tests.support.env import MODEL_IDS as DEFAULT_MODEL_IDS  # noqa: F401 - re-exported for the tests
from tests.support.env import MODELS_DIR, REPO, require_models  # noqa: F401 - MODELS_DIR re-exported
from tests.support.redis_server import RedisServer


def pytest_configure(config):
    """Tests press Ctrl-C (SIGINT) on the processes they start (export, `make serve`'s launcher). A
    pytest started in the background by a script (`cmd &`) inherits SIGINT *ignored*, and so would
    every child: the signal would never arrive. Catching it here gives the children its default again
    (exec resets caught signals, not ignored ones), as in a terminal."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return require_models()


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable


@pytest.fixture
def redis_server(tmp_path):
    """A redis-server of this test's own (fails clearly when it is not installed; .ci/run installs it)."""
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def read_manifest(models_dir: Path, model_id: str) -> dict:
    return json.loads((models_dir / model_id / "manifest.json").read_text())
