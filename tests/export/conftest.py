"""Tiny models exported once per test session for the tests of what a model says and of knock-out
(test_lm_tiny.py, test_knockout_tiny.py): lean causal LMs (Llama, Qwen2), generic causal LMs (GPT-2,
and Phi, whose forward takes no head_mask), a lean decoder without a head, a BERT encoder, and the
hand-built previous-token model."""

from __future__ import annotations

import json

import pytest

from headgaze.export.pipeline import export_model
from headgaze.export.sources import resolve
from tests.export.tiny_models import save_model, save_previous_token_model

TINY_FAMILIES = ("llama", "qwen2", "gpt2", "llama-no-head", "bert", "phi")
PREVIOUS_TOKEN = "previous-token"


@pytest.fixture(scope="session")
def tiny_exports(tmp_path_factory):
    """name → (models/<name> folder, manifest, source folder); all in one models folder."""
    root = tmp_path_factory.mktemp("tiny-lm")
    out = {}
    for name in (*TINY_FAMILIES, PREVIOUS_TOKEN):
        src = root / "src" / name
        source = save_previous_token_model(src) if name == PREVIOUS_TOKEN else save_model(name, src)
        folder = export_model(resolve(str(source), name), root / "models")
        out[name] = folder, json.loads((folder / "manifest.json").read_text()), source
    return out
