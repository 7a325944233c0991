"""Micro-batching: padded batches give each request exactly its unbatched attentions."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from headgaze.service.runtime.batching import MicroBatcher
from headgaze.service.runtime.cache import make_backend
from headgaze.service.runtime.engine import Engine
from tests.support.wait import wait_until

TEXTS = ["a", "fluffy blue monster", "The quick brown fox jumps over the lazy dog, again",
         "Ça coûte 12,50 € 🙂", "one two three", "I told my friend that the movie was great.", "x y", "Hi!"]


@pytest.fixture(scope="module")
def engine(models_dir):
    return Engine(models_dir, cache=make_backend("none"), warmup=False, verify=False, store_mb=0)


@pytest.mark.parametrize("model_id", ["smollm2-135m", "minilm-l6"])
def test_padded_batch_equals_one_by_one(engine, model_id):
    model = engine._model(model_id)
    batch = [model.tokenizer.encode(t).ids for t in TEXTS]
    together = model.run_batch(batch)
    man = model.manifest
    for ids, outputs in zip(batch, together, strict=True):
        (alone,) = model.run_batch([ids])
        assert model.from_qk and "attentions" not in outputs  # served without T×T outputs: weights from q/k
        got = model.views.full(outputs)
        assert got.shape == model.views.full(alone).shape == (man.layers, man.heads, len(ids), len(ids))
        assert outputs["value_norms"].shape == (man.layers, man.heads, len(ids))
        assert outputs["keys"].shape[:3] == (man.layers, man.kv_heads, len(ids))
        for kind in model.kinds:  # padding changes nothing a request sees
            np.testing.assert_allclose(outputs[kind], alone[kind], atol=1e-4, rtol=1e-4)
        np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-4)
        if model.manifest.causal:
            assert np.all(np.triu(got, k=1) == 0.0)


def test_requests_waiting_on_a_busy_model_share_the_next_run():
    """The first run blocks; seven requests queue meanwhile and go together in the second run."""
    release, started = threading.Event(), threading.Event()
    calls: list[int] = []

    def run_batch(batch):
        calls.append(len(batch))
        if len(calls) == 1:
            started.set()
            assert release.wait(30), "the test never released the first run"
        return [np.full((1, 1, len(ids), len(ids)), ids[0], dtype=np.float32) for ids in batch]

    batcher = MicroBatcher(run_batch, threading.Lock(), max_batch=8)
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(batcher.run, [0])
        assert started.wait(30), "the first request never started its run"
        rest = [pool.submit(batcher.run, [i, i]) for i in range(1, 8)]
        wait_until(lambda: batcher.waiting() == 7, "seven requests wait behind the running batch")
        release.set()
        outcomes = [first.result(10)] + [f.result(10) for f in rest]
    assert calls == [1, 7]
    assert [o.batch_size for o in outcomes] == [1] + [7] * 7
    for i, o in enumerate(outcomes):  # each request got its own result back
        assert o.output.shape[-1] == (1 if i == 0 else 2) and o.output.flat[0] == i


def test_max_batch_bounds_the_batch_and_errors_reach_every_waiter():
    sizes = []

    def run_batch(batch):
        sizes.append(len(batch))
        raise RuntimeError("model exploded")

    batcher = MicroBatcher(run_batch, threading.Lock(), max_batch=3)
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(batcher.run, [i]) for i in range(6)]
        errors = [f.exception(10) for f in futures]
    assert all(isinstance(e, RuntimeError) for e in errors)
    assert max(sizes) <= 3 and sum(sizes) == 6


def test_concurrent_engine_requests_match_sequential(engine):
    sequential = {t: engine.attention(t).attentions for t in TEXTS}
    with ThreadPoolExecutor(len(TEXTS)) as pool:
        results = list(pool.map(engine.attention, TEXTS))
    for text, res in zip(TEXTS, results, strict=True):
        assert res.batch_size >= 1 and not res.cached
        assert np.abs(res.attentions - sequential[text]).max() <= 1e-4


def test_a_batch_is_capped_by_its_padded_size():
    """Waiting requests join the next run only while batch × width² × cell_bytes stays within max_bytes."""
    release, started = threading.Event(), threading.Event()
    calls: list[list[int]] = []

    def run_batch(batch):
        calls.append([len(ids) for ids in batch])
        if len(calls) == 1:
            started.set()
            assert release.wait(30), "the test never released the first run"
        return [np.zeros((1, 1, len(ids), len(ids)), dtype=np.float32) for ids in batch]

    # cell_bytes 1: two 10-token texts pad to 2·10² = 200 bytes (fits 250), a third would make 300
    batcher = MicroBatcher(run_batch, threading.Lock(), max_batch=8, cell_bytes=1, max_bytes=250)
    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(batcher.run, [0])
        assert started.wait(30), "the first request never started its run"
        rest = [pool.submit(batcher.run, [1] * n) for n in (10, 10, 10, 20)]
        wait_until(lambda: batcher.waiting() == 4, "four requests wait behind the running batch")
        release.set()
        for f in [first, *rest]:
            f.result(10)
    assert calls[0] == [1]
    assert all(len(c) * max(c) ** 2 <= 250 or len(c) == 1 for c in calls[1:])
    assert sorted(n for c in calls[1:] for n in c) == [10, 10, 10, 20]
    assert [20] in calls[1:]  # over the budget with anyone else: it runs alone
