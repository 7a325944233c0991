"""What a head writes (POST /v1/attention/head with writes=true) over real HTTP with the real SmolLM2,
against a PyTorch reference: the head's context at the query (the output projection's input, hooked)
times its slice of W_O, through the final norm at that position's scale in the clean run and the LM
head; the same top-10 promoted and suppressed ids, scores within 1e-3. And every bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from headgaze.service.client import ServiceClient

TEXT = "The Eiffel Tower is in the city of"


def head_request(server, body: dict):
    return server.request("POST", "/v1/attention/head", json=body)


def reference_writes(model, ids: list[int], layer: int, head: int, query: int) -> np.ndarray:
    """The head's raw logit contribution [V] at `query`, in float64."""
    base, seen = model.model, {}
    attn = base.layers[layer].self_attn
    d = attn.head_dim
    hooks = [attn.o_proj.register_forward_pre_hook(lambda _m, a: seen.__setitem__("ctx", a[0].detach())),
             base.norm.register_forward_pre_hook(lambda _m, a: seen.__setitem__("final", a[0].detach()))]
    try:
        with torch.no_grad():
            model(torch.tensor([ids]))
    finally:
        for h in hooks:
            h.remove()
    ctx = seen["ctx"][0, query, head * d:(head + 1) * d].double()
    out = attn.o_proj.weight.detach().double()[:, head * d:(head + 1) * d] @ ctx  # [D]
    x = seen["final"][0, query].double()
    inv = 1.0 / torch.sqrt((x * x).mean() + base.norm.variance_epsilon)
    with torch.no_grad():
        return ((out * inv * base.norm.weight.double()) @ model.lm_head.weight.double().T).numpy()


@pytest.mark.parametrize(("layer", "head", "query"), [(0, 0, 3), (14, 4, 8), (29, 8, 5)])
def test_writes_equal_the_pytorch_reference(server, reference, layer, head, query):
    model, _ = reference
    body = head_request(server, {"text": TEXT, "layer": layer, "head": head, "writes": True, "query": query}).json()
    ids = [t["id"] for t in body["tokens"]]
    want = reference_writes(model, ids, layer, head, query)
    w = body["writes"]
    assert w["query"] == query and len(w["promoted"]) == len(w["suppressed"]) == 10
    for side, order in (("promoted", np.argsort(-want)), ("suppressed", np.argsort(want))):
        got_ids = [e["id"] for e in w[side]]
        np.testing.assert_allclose([e["score"] for e in w[side]], want[got_ids], atol=1e-3)
        np.testing.assert_allclose([e["score"] for e in w[side]], want[order[:10]], atol=1e-3)
        # the same ids, except where two scores are within the tolerance (either order is right then)
        for rank, (g, r) in enumerate(zip(got_ids, order[:10], strict=True)):
            assert g == r or abs(want[g] - want[r]) <= 1e-3, (side, rank, g, r)
        scores = [e["score"] for e in w[side]]
        assert scores == sorted(scores, reverse=side == "promoted")
    assert w["promoted"][0]["score"] > w["suppressed"][0]["score"]
    assert all(e["text"] == model_text(server, e["id"]) for e in w["promoted"][:2])


def model_text(server, tid: int) -> str:
    from tokenizers import Tokenizer

    from tests.support.env import MODELS_DIR

    return Tokenizer.from_file(str(MODELS_DIR / "smollm2-135m" / "tokenizer.json")).decode([tid], skip_special_tokens=False)


@pytest.mark.parametrize(("extra", "status", "code", "field"), [
    ({"query": None}, 400, "missing_field", "query"), ({"query": "3"}, 400, "invalid_type", "query"),
    ({"query": 1.5}, 400, "invalid_type", "query"), ({"query": True}, 400, "invalid_type", "query"),
    ({"query": -1}, 422, "invalid_query", "query"), ({"query": 99}, 422, "invalid_query", "query"),
    ({"writes": "yes", "query": 1}, 400, "invalid_type", "writes"), ({"model": "minilm-l6", "query": 1}, 422, "no_writes", "model"),
])
def test_bad_writes_input_is_a_json_4xx_naming_it(server, extra, status, code, field):
    body = {"text": TEXT, "layer": 1, "head": 1, "writes": True, **extra}
    resp = head_request(server, {k: v for k, v in body.items() if v is not None})
    assert resp.status_code == status and resp.json()["error"]["code"] == code, resp.text
    assert f"'{field}'" in resp.json()["error"]["message"]


def test_client_and_engine_writes(server, smollm2_dir):
    from headgaze.service.runtime.engine import Engine

    res = ServiceClient(server.url).head(TEXT, None, 5, 2, writes=True, query=4)
    eng = Engine(smollm2_dir, warmup=False).head(TEXT, None, 5, 2, writes=True, query=4)
    assert res.writes == eng.writes and res.writes["query"] == 4
    assert ServiceClient(server.url).head(TEXT, None, 5, 2).writes is None


def test_a_list_of_queries_is_one_answer_per_query(server):
    one = [head_request(server, {"text": TEXT, "layer": 7, "head": 3, "writes": True, "query": q}).json()["writes"]
           for q in (0, 5)]
    many = head_request(server, {"text": TEXT, "layer": 7, "head": 3, "writes": True, "query": [0, 5]}).json()["writes"]
    for a, b in zip(many, one, strict=True):  # the same, up to float32 rounding of a batch of rows
        assert a["query"] == b["query"]
        for side in ("promoted", "suppressed"):
            np.testing.assert_allclose([e["score"] for e in a[side]], [e["score"] for e in b[side]], atol=1e-5)
    for bad, code in (([], "invalid_query"), ([1, 1], "invalid_query"), (list(range(65)), "invalid_query"),
                      ([0, "1"], "invalid_type")):
        resp = head_request(server, {"text": TEXT, "layer": 7, "head": 3, "writes": True, "query": bad})
        assert resp.json()["error"]["code"] == code and "'query'" in resp.json()["error"]["message"]
