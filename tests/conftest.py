"""Shared fixtures: where the repo and the exported models are.

The models are produced by `make export` (which `make test` runs first); tests use the real
artifacts and fail with a clear message when they are missing.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MODELS_DIR = Path(os.environ.get("HEADGAZE_MODELS_DIR", REPO / "models"))
DEFAULT_MODEL_IDS = ("smollm2-135m", "minilm-l6")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def models_dir() -> Path:
    missing = [m for m in DEFAULT_MODEL_IDS if not (MODELS_DIR / m / "manifest.json").is_file()]
    if missing:
        pytest.fail(f"exported models missing in {MODELS_DIR}: {missing}; run `make export` first")
    return MODELS_DIR


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable


def read_manifest(models_dir: Path, model_id: str) -> dict:
    return json.loads((models_dir / model_id / "manifest.json").read_text())
