"""Next-token predictions on /v1/attention and /v1/attention/head (real HTTP, real exported SmolLM2),
checked against PyTorch eager, and `raw` encoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from headgaze.service.client import ServiceClient

TEXTS = ["The cat sat on the mat because it was", "Ça coûte 12,50 € 🙂 — naïve!"]


def post(server, body: dict, path: str = "/v1/attention"):
    return server.request("POST", path, json=body)


@pytest.mark.parametrize("text", TEXTS)
def test_predictions_match_pytorch_eager(server, reference, text):
    model, _ = reference
    body = post(server, {"text": text, "detail": "grid", "predictions": True, "top_k": 5}).json()
    ids = [t["id"] for t in body["tokens"]]
    preds = body["predictions"]
    assert len(preds) == len(ids) and preds[-1]["next"] is None
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1).numpy()
    for t, entry in enumerate(preds):
        top = entry["top"]
        assert len(top) == 5 and [g["logprob"] for g in top] == sorted((g["logprob"] for g in top), reverse=True)
        np.testing.assert_allclose([g["logprob"] for g in top], logp[t, [g["id"] for g in top]], atol=1e-4)
        ranked = np.sort(logp[t])[::-1]
        np.testing.assert_allclose(top[0]["logprob"], ranked[0], atol=1e-4)
        if ranked[0] - ranked[1] > 1e-4:
            assert top[0]["id"] == int(np.argmax(logp[t]))
        if t + 1 < len(ids):
            assert entry["next"]["id"] == ids[t + 1]
            np.testing.assert_allclose(entry["next"]["logprob"], logp[t, ids[t + 1]], atol=1e-4)
            lp = logp[t, ids[t + 1]]  # its rank, up to tokens within 1e-4 of it
            assert 1 + (logp[t] > lp + 1e-4).sum() <= entry["next"]["rank"] <= 1 + (logp[t] > lp - 1e-4).sum()
            if entry["next"]["rank"] <= 5:
                assert entry["next"]["id"] in [g["id"] for g in top]


def test_every_detail_and_the_head_endpoint_give_predictions_and_repeat_from_the_store(server):
    text = "Predictions on every detail."
    full = post(server, {"text": text, "predictions": True}).json()
    assert all(len(p["top"]) == 5 for p in full["predictions"])  # default top_k
    grid = post(server, {"text": text, "detail": "grid", "predictions": True}).json()
    head = post(server, {"text": text, "layer": 1, "head": 2, "predictions": True}, "/v1/attention/head").json()
    assert grid["predictions"] == full["predictions"] == head["predictions"]
    assert grid["cached"] and head["cached"]
    three = post(server, {"text": text, "predictions": True, "top_k": 3}).json()
    assert [p["top"] for p in three["predictions"]] == [p["top"][:3] for p in full["predictions"]]
    assert three["cached"]  # the model's last-layer outputs were kept: only predictions.onnx ran
    assert "predictions" not in post(server, {"text": text}).json()
    tok = full["predictions"][0]["next"]
    assert tok["text"] == full["tokens"][1]["text"]


@pytest.mark.parametrize(("value", "status", "code"), [
    (0, 422, "invalid_top_k"), (21, 422, "invalid_top_k"), (-1, 422, "invalid_top_k"),
    ("5", 400, "invalid_type"), (2.5, 400, "invalid_type"), (True, 400, "invalid_type")])
def test_bad_top_k_is_a_4xx_naming_it(server, value, status, code):
    for path, extra in (("/v1/attention", {}), ("/v1/attention/head", {"layer": 0, "head": 0})):
        resp = post(server, {"text": "top k", "predictions": True, "top_k": value, **extra}, path)
        assert resp.status_code == status and resp.json()["error"]["code"] == code
        assert "top_k" in resp.json()["error"]["message"]


def test_bad_flags_and_an_encoder_are_4xx(server):
    for field in ("predictions", "raw"):
        resp = post(server, {"text": "flags", field: "yes"})
        assert resp.status_code == 400 and field in resp.json()["error"]["message"]
    for path, extra in (("/v1/attention", {}), ("/v1/attention/head", {"layer": 0, "head": 0})):
        resp = post(server, {"text": "an encoder", "model": "minilm-l6", "predictions": True, **extra}, path)
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "no_lm_head"


def test_raw_parses_special_tokens_and_adds_no_bos(server, models_dir):
    import orjson

    add_bos = orjson.loads((models_dir / "smollm2-135m" / "manifest.json").read_bytes())["add_bos"]
    text = "<|im_start|>user\nhi<|im_end|>"
    raw = post(server, {"text": text, "raw": True}).json()
    plain = post(server, {"text": text}).json()
    assert raw["tokens"][0] == {"text": "<|im_start|>", "id": 1, "start": 0, "end": 12, "special": True}
    assert raw["tokens"][-1]["id"] == 2 and raw["tokens"][-1]["special"]
    assert [t["id"] for t in plain["tokens"]] == ([1] if add_bos else []) + [t["id"] for t in raw["tokens"]]
    for tok in raw["tokens"]:
        assert tok["text"] == text[tok["start"]:tok["end"]]
    client = ServiceClient(server.url)
    res = client.attention(text, raw=True, predictions=True, top_k=2)
    assert res.tokens == raw["tokens"] and len(res.predictions[0]["top"]) == 2
