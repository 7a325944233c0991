"""Weights computed from queries and keys equal the graph's own, at 12, 512 and 2,048 tokens.

The served model.onnx of a q/k model has no `attentions.{i}` outputs (export/serve_graph.py); the
engine computes a head's matrix, every head's (detail=full), the thumbnails and the head statistics
from the kept queries and keys (service/runtime/qk_views.py). Here the served graph gets its
attentions back for some layers (`restore_attentions`), runs on the engine's own token ids, and
every view the engine answers must equal what those attentions give: heads within 1e-5, thumbnails
(raw, value-norm weighted, first token hidden) within 1e-5 of max-pooling them, and at 12 and 512
tokens the tags of every head unchanged.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from headgaze.export.serve_graph import restore_attentions
from headgaze.service.analysis.grid import max_pool
from headgaze.service.analysis.head_analysis import heads_stats
from headgaze.service.runtime.batching import pad_batch
from headgaze.service.runtime.cache import make_backend
from headgaze.service.runtime.engine import Engine
from headgaze.service.runtime.store import RecentStore
from headgaze.service.runtime.tokens import load_tokenizer
from tests.support.prose import prose_of_tokens

ATOL = 1e-5
SHORT = "The cat sat on the mat because it was warm."


@pytest.fixture(scope="module")
def engine(models_dir):
    return Engine(models_dir, cache=make_backend("none"), warmup=False, max_tokens=2048, max_chars=20000,
                  store_mb=512)


def graph_attentions(models_dir, model: str, ids: list[int], layers: list[int]) -> np.ndarray:
    """[len(layers), H, T, T] from the served graph with those layers' attentions restored (written
    beside model.onnx, whose external data, if any, it shares)."""
    path = models_dir / model / ".restored-for-test.onnx"
    names = restore_attentions(models_dir / model / "model.onnx", path, layers)
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return np.concatenate(session.run(names, pad_batch([ids], [i.name for i in session.get_inputs()])))
    finally:
        path.unlink(missing_ok=True)


def check_views(engine, models_dir, model: str, text: str, layers: list[int] | None) -> int:
    m = engine._model(model)
    assert m.from_qk, f"{model}'s model.onnx still has attentions outputs (re-run `make export`)"
    res = engine.compute(text, model)
    ids = [t["id"] for t in res.tokens]
    kept = (res.queries, res.keys, res.value_norms, *res.summary.values())
    assert res.attentions is None and all(a.dtype in (np.float32, np.int32) for a in kept)
    # what the store counts before the run (make_room) is what the result holds
    assert sum(a.nbytes for a in kept) + RecentStore.TOKEN_BYTES * len(ids) == m.result_bytes(len(ids))
    every = layers is None
    layers = list(range(res.layers)) if every else layers
    att = graph_attentions(models_dir, model, ids, layers)
    for i, layer in enumerate(layers):
        for head in range(res.heads):
            got = engine.head(text, model, layer, head).attention
            np.testing.assert_allclose(got, att[i, head], atol=ATOL, rtol=0, err_msg=f"layer {layer} head {head}")
    norms = res.value_norms[layers]
    for weighting, hide in (("attention", False), ("value_norm", False), ("attention", True)):
        grid, cells = engine.grid(res, weighting, hide)
        want, want_cells = max_pool(att, norms if weighting == "value_norm" else None, hide)
        assert cells == want_cells
        np.testing.assert_allclose(grid[layers], want, atol=ATOL, rtol=0, err_msg=f"{weighting} hide_first={hide}")
    stats = engine.stats(res)
    want = heads_stats(att, m.manifest.causal, norms)
    assert [stats["argmax"][layer] for layer in layers] == want["argmax"]
    np.testing.assert_allclose(np.asarray(stats["max_weight"])[layers], want["max_weight"], atol=2e-4)
    if every:
        assert stats["tags"] == want["tags"]
        assert stats["scores"].keys() == want["scores"].keys()
        for name, values in want["scores"].items():
            np.testing.assert_allclose(np.asarray(stats["scores"][name], float), np.asarray(values, float),
                                       atol=2e-4, err_msg=name)
    return len(ids)


@pytest.mark.parametrize("model", ["smollm2-135m", "minilm-l6"])
def test_views_from_qk_equal_the_graph_at_12_tokens(engine, models_dir, model):
    assert check_views(engine, models_dir, model, SHORT, None) <= 16
    full = engine.attention(SHORT, model)  # detail=full: every head computed from q/k
    ids = [t["id"] for t in full.tokens]
    att = graph_attentions(models_dir, model, ids, list(range(full.layers)))
    np.testing.assert_allclose(full.attentions, att, atol=ATOL, rtol=0)


@pytest.mark.parametrize("model", ["smollm2-135m", "minilm-l6"])
def test_views_from_qk_equal_the_graph_at_512_tokens(engine, models_dir, model):
    text = prose_of_tokens(load_tokenizer(models_dir / model / "tokenizer.json"), 512)
    assert check_views(engine, models_dir, model, text, None) == 512


def test_views_from_qk_equal_the_graph_at_2048_tokens(engine, models_dir):
    text = prose_of_tokens(load_tokenizer(models_dir / "smollm2-135m" / "tokenizer.json"), 2048)
    assert check_views(engine, models_dir, "smollm2-135m", text, [0, 14, 29]) == 2048
