"""Shared fixtures: where the repo and the exported models are, and a real redis-server.

The models are produced by `make export` (which `make test` runs first); tests use the real
artifacts and fail with a clear message when they are missing. Helpers live in tests/support/.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.support.cpu_load import cpu_load
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
    # `make test LOAD=2`: two CPU-bound processes beside the whole run (tests/support/cpu_load.py)
    config.headgaze_load = ExitStack()
    config.headgaze_load.enter_context(cpu_load(load_processes()))


def pytest_unconfigure(config):
    stack = getattr(config, "headgaze_load", None)
    if stack is not None:
        stack.close()


def load_processes() -> int:
    return int(os.environ.get("HEADGAZE_TEST_LOAD") or 0)


def pytest_report_header(config):
    n = load_processes()
    return f"load: {n} CPU-bound processes beside the tests (HEADGAZE_TEST_LOAD)" if n else None


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
