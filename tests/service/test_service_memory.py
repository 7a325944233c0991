"""The peak-memory measures: the shared, shrinking onnxruntime arena (service/runtime/memory.py) changes no bit
of any output, the recent-results store frees room for a result before the run that makes it, and the
pooling and entropy that reuse one layer's buffer give the same numbers as plain numpy."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from headgaze.service.analysis.grid import cells, max_pool
from headgaze.service.analysis.head_analysis import head_scores
from headgaze.service.runtime.batching import crop, pad_batch
from headgaze.service.runtime.cache import make_backend
from headgaze.service.runtime.engine import Engine
from headgaze.service.runtime.memory import run_options
from headgaze.service.runtime.store import RecentStore
from tests.support.prose import prose_of_tokens

TEXTS = ["The quick brown fox jumps over the lazy dog, again and again", "fluffy blue monster", "Hi!"]


@pytest.fixture(scope="module")
def engine(models_dir):
    return Engine(models_dir, cache=make_backend("none"), warmup=False, verify=False, store_mb=0)


def plain_session(model) -> ort.InferenceSession:
    """onnxruntime's own defaults (a per-session arena, no shrinking), with the engine's thread count."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = model.threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(model.manifest.onnx_file), so, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("model_id", ["smollm2-135m", "minilm-l6"])
def test_the_shared_shrinking_arena_changes_no_bit(engine, model_id):
    model = engine._model(model_id)
    plain = plain_session(model)
    ids = [model.tokenizer.encode(t).ids for t in TEXTS]
    for batch in (ids, ids[:1]):  # a padded batch and a single text
        feeds = pad_batch(batch, model.input_names)
        want = plain.run(model.output_names, feeds)
        got = model.session.run(model.output_names, feeds, run_options())
        for name, a, b in zip(model.output_names, want, got, strict=True):
            assert a.dtype == b.dtype == np.float32 and a.shape == b.shape, name
            assert np.array_equal(a.view(np.uint32), b.view(np.uint32)), name
        layers, kind = model.manifest.layers, model.kinds[0]  # attentions, or value norms (served from q/k)
        expected = crop(want[:layers], [len(i) for i in batch], square=kind == "attentions")
        for row, result in enumerate(model.run_batch(batch)):
            assert result[kind].dtype == np.float32
            assert np.array_equal(result[kind].view(np.uint32), expected[row].view(np.uint32))


def test_make_room_drops_the_least_recently_used_first():
    store = RecentStore(100)
    store.put("a", "A", 40)
    store.put("b", "B", 40)
    store.get("a")
    store.make_room(30)  # 40 + 40 + 30 > 100: b, the least recently used, goes
    assert (store.get("a"), store.get("b"), store.bytes) == ("A", None, 40)
    store.make_room(101)  # never kept: nothing is dropped for it
    assert store.bytes == 40
    store.make_room(100)
    assert (len(store), store.bytes) == (0, 0)


@pytest.mark.parametrize("max_full_tokens", [128, 4])  # float32 and float16 results
def test_result_bytes_is_what_the_store_counts(minilm_dir, max_full_tokens):
    eng = Engine(minilm_dir, cache=make_backend("none"), warmup=False, verify=False, max_full_tokens=max_full_tokens)
    res = eng.compute(TEXTS[0], "minilm-l6")
    assert eng.store.bytes == eng._model("minilm-l6").result_bytes(len(res.tokens)) > 0


def test_a_run_frees_room_in_the_store_before_it_starts(minilm_dir):
    eng = Engine(minilm_dir, cache=make_backend("none"), warmup=False, verify=False, store_mb=1)
    model = eng._model("minilm-l6")
    first, second = (prose_of_tokens(model.tokenizer, 30, prefix=p) for p in ("One.", "Two."))
    size = model.result_bytes(30)
    assert size <= eng.store.max_bytes < 2 * size  # one such result fits, two do not
    eng.compute(first, "minilm-l6")
    assert eng.store.bytes == size
    batcher = eng._batchers["minilm-l6"]
    seen, run = [], batcher._run_batch
    batcher._run_batch = lambda batch: (seen.append(eng.store.bytes), run(batch))[1]
    eng.compute(second, "minilm-l6")
    assert seen == [0]  # the first result was freed before the run, not after it
    assert eng.store.bytes == size


def test_pooling_reuses_a_buffer_bit_for_bit_and_entropy_matches_float64():
    """Pooling is bit-identical to a plain reduceat; the entropy (float32 logs, float64 sums, one
    buffer per layer) equals the float64 definition within 1e-6 (scores are served to 4 decimals)."""
    rng = np.random.default_rng(3)
    att = np.tril(rng.random((3, 4, 40, 40), dtype=np.float32) ** 8)
    att[..., 5, :] = 0  # a row of zeros: p log p is 0 there, not nan
    att /= np.maximum(att.sum(-1, keepdims=True), 1e-30)
    for arr in (att, att.astype(np.float16)):
        exact = arr.astype(np.float32)  # float16 -> float32 is exact
        starts = [start for start, _ in cells(40)]
        want = np.maximum.reduceat(np.maximum.reduceat(exact, starts, axis=-1), starts, axis=-2)
        assert np.array_equal(max_pool(arr)[0].view(np.uint32), want.view(np.uint32))
        a = exact.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            plogp = np.where(a > 0, a * np.log(np.where(a > 0, a, 1.0)), 0.0)
            entropy = (-plogp.sum(-1) / np.log(np.arange(1, 41)))[..., np.arange(1, 40)].mean(-1)
        np.testing.assert_allclose(head_scores(arr, causal=True)["entropy"], entropy, rtol=0, atol=1e-6)
