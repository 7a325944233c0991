"""Where the repository and the exported models are, and a child environment without HEADGAZE_* settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODELS_DIR = Path(os.environ.get("HEADGAZE_TEST_MODELS_DIR") or os.environ.get("HEADGAZE_MODELS_DIR")
                  or REPO / "models")
MODEL_IDS = ("smollm2-135m", "minilm-l6")
API_TOKEN = "test-token-7f3a"


def require_models() -> Path:
    """The exported models folder; fails the test clearly when `make export` has not run."""
    missing = [m for m in MODEL_IDS if not (MODELS_DIR / m / "manifest.json").is_file()]
    if missing:
        pytest.fail(f"exported models missing in {MODELS_DIR}: {missing}; run `make export` first", pytrace=False)
    return MODELS_DIR


def clean_env(**extra: str) -> dict[str, str]:
    """os.environ without any HEADGAZE_* variable (so a developer's settings never leak in), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADGAZE_")}
    env.update(extra)
    return env
