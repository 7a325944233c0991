"""Queries, keys, scores and value norms through real HTTP against the real exported models.

Every number is checked against what onnxruntime gives for the exported graph (run here, on the
test's side), not against the service's own arithmetic: value norms equal the `value_norms.{i}`
outputs, a head's queries/keys equal `queries.{i}` / `keys.{i}` of the kv head grouped-query
attention maps it to, the scores' row softmax gives back the attention row, and weighting by value
norm follows α_ij·‖f(x_j)‖ / Σ_k α_ik·‖f(x_k)‖. The `server` fixture validates every response
against the served /openapi.json.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from tokenizers import Tokenizer

from headgaze.export.serve_graph import restore_attentions
from headgaze.service.common.encoding import decode
from headgaze.service.runtime.batching import pad_batch
from tests.service.test_service_long_texts import head_request, independent_pool, model_runs

TEXT = "The fluffy blue monster ate the cookie."
GEOMETRY = {"smollm2-135m": (30, 9, 3), "minilm-l6": (6, 12, 12)}  # layers, heads, kv heads
# SmolLM2 on TEXT: 0.83 of each row on token 0, whose value norm is ~8 % of the other tokens' median. (Layer 18
# heads 6-8 put 0.99999 on token 0: weighting cannot move those, the other keys have ~1e-7 of weight.)
SINK = (23, 3)


class Onnx:
    """The exported graph run directly, its attentions restored (served without them, export/serve_graph.py):
    every output of one text as [L, heads, T, ...] float32."""

    def __init__(self, models_dir, model: str, tmp: Path):
        folder = models_dir / model
        self.layers = GEOMETRY[model][0]
        restored = tmp / f"{model}.onnx"  # the default models keep their weights inside model.onnx
        restore_attentions(folder / "model.onnx", restored, list(range(self.layers)))
        self.session = ort.InferenceSession(str(restored), providers=["CPUExecutionProvider"])
        restored.unlink()
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))

    def run(self, text: str) -> dict[str, np.ndarray]:
        ids = self.tokenizer.encode(text).ids
        kinds = ("attentions", "value_norms", "queries", "keys")
        names = [f"{kind}.{i}" for kind in kinds for i in range(self.layers)]
        outs = self.session.run(names, pad_batch([ids], [i.name for i in self.session.get_inputs()]))
        return {kind: np.concatenate(outs[k * self.layers:(k + 1) * self.layers]) for k, kind in enumerate(kinds)}


@pytest.fixture(scope="module")
def onnx(models_dir, tmp_path_factory):
    return {model: Onnx(models_dir, model, tmp_path_factory.mktemp("restored")) for model in GEOMETRY}


def softmax(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def masked(rows: list) -> np.ndarray:
    """JSON scores (null = masked) as float64 with -inf."""
    return np.array([[-np.inf if v is None else v for v in row] for row in rows], dtype=np.float64)


def head_json(server, model: str, layer: int, head: int, text: str = TEXT, **extra) -> dict:
    resp = head_request(server, text=text, model=model, layer=layer, head=head, format="json", **extra)
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.mark.parametrize("model", sorted(GEOMETRY))
@pytest.mark.parametrize("detail", ["full", "grid"])
def test_value_norms_equal_the_onnx_outputs(server, onnx, model, detail):
    want = onnx[model].run(TEXT)["value_norms"]
    body = server.post({"text": TEXT, "model": model, "format": "json", "detail": detail}).json()
    vn = body["value_norms"]
    assert vn["dtype"] == "float32" and vn["shape"] == list(want.shape) == [*GEOMETRY[model][:2], len(body["tokens"])]
    np.testing.assert_allclose(decode(vn), want, rtol=1e-6, atol=1e-6)
    assert body["weighting"] == "attention"
    packed = server.post({"text": TEXT, "model": model, "detail": detail}).json()["value_norms"]
    assert packed["dtype"] == "float16" and packed["encoding"] == "base64"
    np.testing.assert_allclose(decode(packed), want, rtol=1e-3)  # float16 rounding


@pytest.mark.parametrize("model,layer,head", [("smollm2-135m", 0, 0), ("smollm2-135m", 5, 4), ("smollm2-135m", *SINK),
                                              ("smollm2-135m", 29, 8), ("minilm-l6", 2, 7), ("minilm-l6", 5, 11)])
def test_head_qk_are_the_onnx_outputs_and_the_scores_give_the_attention(server, onnx, model, layer, head):
    ref = onnx[model].run(TEXT)
    body = head_json(server, model, layer, head, qk=True)
    _, heads, kv_heads = GEOMETRY[model]
    kv = head // (heads // kv_heads)
    assert body["kv_head"] == kv
    np.testing.assert_allclose(decode(body["queries"]), ref["queries"][layer, head], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(decode(body["keys"]), ref["keys"][layer, kv], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(decode(body["value_norms"]), ref["value_norms"][layer, head], rtol=1e-6)
    scores = masked(body["scores"]["data"])
    t = scores.shape[0]
    future = np.triu(np.ones((t, t), dtype=bool), k=1)
    if model == "smollm2-135m":  # causal: exactly the keys after the query are masked (null in JSON)
        assert np.array_equal(np.isneginf(scores), future)
    else:
        assert not np.isinf(scores).any()
    q, k = ref["queries"][layer, head].astype(np.float64), ref["keys"][layer, kv].astype(np.float64)
    np.testing.assert_allclose(np.where(np.isinf(scores), 0, scores), np.where(future & (model == "smollm2-135m"), 0,
                               q @ k.T * body["scale"]), rtol=1e-5, atol=1e-5)
    attention = decode(body["attention"])
    np.testing.assert_allclose(softmax(scores), attention, atol=1e-5)
    np.testing.assert_allclose(attention, ref["attentions"][layer, head], atol=1e-6)
    top = np.where(np.isinf(scores), -np.inf, scores).argmax(-1)
    strongest = attention.argmax(-1)
    clear = np.sort(attention, -1)[:, -1] - np.sort(attention, -1)[:, -2] > 1e-4  # rows without a near tie
    assert np.array_equal(top[clear], strongest[clear])


def test_grouped_query_heads_share_their_kv_head(server, onnx):
    """SmolLM2: 9 query heads read 3 kv heads, heads 0-2 → 0, 3-5 → 1, 6-8 → 2."""
    ref = onnx["smollm2-135m"].run(TEXT)
    layer = 7
    got = [head_json(server, "smollm2-135m", layer, h, qk=True) for h in range(9)]
    assert [b["kv_head"] for b in got] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    keys = [decode(b["keys"]) for b in got]
    for h in range(9):
        np.testing.assert_allclose(keys[h], ref["keys"][layer, h // 3], rtol=1e-6, atol=1e-6)
    assert not np.allclose(keys[0], keys[3]) and not np.allclose(keys[3], keys[6])  # the kv heads differ


def weigh(att: np.ndarray, vn: np.ndarray) -> np.ndarray:
    w = att.astype(np.float64) * vn.astype(np.float64)[..., None, :]
    return w / w.sum(-1, keepdims=True)


def test_value_norm_weighting_fades_the_sink_head(server, onnx):
    """The sink head pours ~all weight into token 0; weighted by value norm that column shrinks exactly as
    the value norms say, rows still sum to 1, and heads_stats tag the head "sink"."""
    ref = onnx["smollm2-135m"].run(TEXT)
    layer, head = SINK
    raw = head_json(server, "smollm2-135m", layer, head)
    weighted = head_json(server, "smollm2-135m", layer, head, weighting="value_norm")
    assert weighted["weighting"] == "value_norm" and weighted["cached"] is True
    att, vn = ref["attentions"][layer, head], ref["value_norms"][layer, head]
    got = decode(weighted["attention"])
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(got, weigh(att, vn), atol=1e-5)
    np.testing.assert_allclose(decode(raw["attention"]), att, atol=1e-6)
    assert att[1:, 0].mean() > 0.8 and got[1:, 0].mean() < 0.4  # the sink fades
    assert np.all(got[1:, 0] < att[1:, 0]) and np.all(got[1:, 1:].sum(-1) > att[1:, 1:].sum(-1))
    stats = server.post({"text": TEXT, "model": "smollm2-135m", "detail": "grid"}).json()["heads_stats"]
    assert "sink" in stats["tags"][layer][head] and "first-token" in stats["tags"][layer][head]
    assert stats["scores"]["sink"][layer][head] < 0.1 < 0.8 < stats["scores"]["first"][layer][head]


@pytest.mark.parametrize("model", sorted(GEOMETRY))
def test_weighted_grid_and_full_are_weighted_before_pooling(server, onnx, model):
    text = "Weighted thumbnails are pooled after weighting: " + "blue " * 12  # SmolLM2 > 32 tokens: real pooling
    ref = onnx[model].run(text)
    want = weigh(ref["attentions"], ref["value_norms"])
    body = server.post({"text": text, "model": model, "format": "json", "detail": "grid",
                        "weighting": "value_norm"}).json()
    grid = decode(body["grid"])
    blocks = [tuple(c) for c in body["grid"]["cells"]]
    np.testing.assert_allclose(grid, independent_pool(want, blocks), atol=1e-5)
    plain = decode(server.post({"text": text, "model": model, "format": "json", "detail": "grid"}).json()["grid"])
    assert np.abs(grid - plain).max() > 0.1  # weighting changes what is drawn
    full = server.post({"text": text, "model": model, "format": "json", "weighting": "value_norm"}).json()
    np.testing.assert_allclose(decode(full["attentions"]), want, atol=1e-5)
    assert full["weighting"] == "value_norm"


def test_head_qk_after_a_grid_request_does_not_run_the_model(server):
    text = "No second run for a head's queries and keys."
    runs = model_runs(server, "smollm2-135m")
    assert server.post({"text": text, "model": "smollm2-135m", "detail": "grid"}).json()["cached"] is False
    assert model_runs(server, "smollm2-135m") == runs + 1
    body = head_json(server, "smollm2-135m", 3, 4, text=text, qk=True, weighting="value_norm")
    assert body["cached"] is True and body["queries"] is not None
    assert model_runs(server, "smollm2-135m") == runs + 1


@pytest.mark.parametrize("body,code", [
    ({"weighting": "norm"}, "invalid_weighting"), ({"weighting": 5}, "invalid_weighting"),
    ({"weighting": None, "qk": "yes"}, "invalid_qk"), ({"qk": 1}, "invalid_qk"), ({"qk": None}, "invalid_qk"),
])
def test_bad_qk_and_weighting_are_422(server, body, code):
    resp = head_request(server, text="x", model="smollm2-135m", layer=0, head=0, **body)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == code, resp.text
    if "weighting" in body and body["weighting"] is not None:
        resp = server.post({"text": "x", "weighting": body["weighting"]})
        assert resp.status_code == 422 and resp.json()["error"]["code"] == code
        assert "attention, value_norm" in resp.json()["error"]["message"]


def test_bad_weighting_in_the_query_string_is_422(server):
    resp = server.post({"text": "x"}, params={"weighting": "softmax", "detail": "grid"})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "invalid_weighting"


def test_models_list_says_qk(server):
    models = {m["id"]: m for m in server.get("/v1/models").json()["models"]}
    assert all(m["qk"] is True and m["qk_reason"] is None for m in models.values())


def test_client_and_engine_give_the_same_head_qk(server, engine):
    from headgaze.service.client import ServiceClient

    client = ServiceClient(server.url)
    remote = client.head(TEXT, "smollm2-135m", *SINK, qk=True, weighting="value_norm")
    local = engine.head(TEXT, "smollm2-135m", *SINK, qk=True, weighting="value_norm")
    assert remote.kv_head == local.kv_head == 1 and remote.scale == local.scale == 0.125
    assert remote.weighting == local.weighting == "value_norm"
    for name in ("queries", "keys", "value_norms", "attention"):
        np.testing.assert_allclose(getattr(remote, name), getattr(local, name), rtol=2e-3, atol=2e-3)  # float16
    assert np.array_equal(np.isneginf(remote.scores), np.isneginf(local.scores))
    finite = ~np.isneginf(local.scores)
    np.testing.assert_allclose(remote.scores[finite], local.scores[finite], rtol=2e-3, atol=2e-2)
    plain = client.head(TEXT, "smollm2-135m", *SINK)
    assert plain.queries is None and plain.scores is None and plain.kv_head is None and plain.value_norms is not None
    grid = client.attention_grid(TEXT, "smollm2-135m", weighting="value_norm")
    assert grid.weighting == "value_norm" and grid.value_norms.shape == (30, 9, len(grid.tokens))
    np.testing.assert_allclose(grid.grid[SINK], local.attention, atol=2e-3)  # T <= 32: one token per cell


def test_shared_cache_keeps_queries_keys_and_the_summary(minilm_dir):
    """Without the recent-results store, a text known from the shared cache answers every request: a
    model served from q/k keeps its queries, keys, value norms and summary there (no T×T matrix)."""
    from headgaze.service.runtime.cache import cache_key
    from headgaze.service.runtime.engine import Engine

    eng = Engine(minilm_dir, warmup=False, store_mb=0)  # the default in-process shared cache
    text = "Queries and keys stay out of the shared cache."
    assert eng.attention_grid(text, "minilm-l6").cached is False
    plain = eng.head(text, "minilm-l6", 1, 2)
    assert plain.cached is True and plain.value_norms is not None
    qk = eng.head(text, "minilm-l6", 1, 2, qk=True)
    assert qk.cached is True and qk.queries.shape == (len(qk.tokens), 32)
    _, arrays = eng.cache.get(cache_key("minilm-l6", eng._model("minilm-l6").manifest.onnx_sha256, text))
    assert set(arrays) == {"value_norms", "queries", "keys", "thumbs", "rows", "argmax"}
    np.testing.assert_array_equal(arrays["value_norms"][1, 2], qk.value_norms)
