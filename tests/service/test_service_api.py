"""API behaviour over real HTTP against a real `headgaze service` with the real exported models."""

from __future__ import annotations

import re
import uuid

import numpy as np
import orjson
import pytest

from headgaze.service.common.encoding import decode

TEXTS = [
    "Hello",
    "The cat sat on the mat.",
    "Ça coûte 12,50 € 🙂 — naïve façade!",
    "שלום עולם and مرحبا",  # right-to-left scripts
    "e\u0301te\u0301 Z\u0308u\u0308rich",  # combining marks
    "🐈‍⬛ 👩🏽‍💻 🇫🇷",  # ZWJ sequences, skin tone, flags
]


def attention(server, text: str, model: str | None = None, fmt: str | None = None) -> dict:
    body = {"text": text} if model is None else {"text": text, "model": model}
    resp = server.post(body, params={"format": fmt} if fmt else None)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    return resp.json()


def metric(server, name: str, **labels: str) -> float:
    text = server.get("/metrics").text
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"^{re.escape(name)}(\{{.*\}})? (\S+)$", line)
        if m and all(f'{k}="{v}"' in (m.group(1) or "") for k, v in labels.items()):
            total += float(m.group(2))
    return total


def test_models_lists_each_manifest_summary(server, models_dir):
    body = server.get("/v1/models").json()
    assert body["default"] == "smollm2-135m"
    by_id = {m["id"]: m for m in body["models"]}
    assert set(by_id) == {"smollm2-135m", "minilm-l6"}
    for mid, summary in by_id.items():
        manifest = orjson.loads((models_dir / mid / "manifest.json").read_bytes())
        assert summary["layers"] == manifest["layers"]
        assert summary["heads"] == manifest["heads"]
        assert summary["causal"] == manifest["causal"]
        assert summary["onnx"]["sha256"] == manifest["onnx"]["sha256"]
        assert summary["provider"] == "CPUExecutionProvider"
        assert summary["max_tokens"] == min(512, manifest["max_tokens"])
        assert summary["default"] is (mid == "smollm2-135m")


@pytest.mark.parametrize("text", TEXTS)
def test_smollm2_shapes_tokens_rows_and_causal_zeros(server, text):
    body = attention(server, text, fmt="json")
    att = decode(body["attentions"])
    tokens = body["tokens"]
    t = len(tokens)
    assert body["model"] == "smollm2-135m" and (body["layers"], body["heads"]) == (30, 9)
    assert att.shape == (30, 9, t, t) and body["attentions"]["shape"] == [30, 9, t, t]
    # no BOS: the GGUF says tokenizer.ggml.add_bos_token = false (transformers' GGUF tokenizer would add <|im_start|>)
    assert tokens[0]["start"] == 0 and not tokens[0]["special"]
    for tok in tokens:
        assert not tok["special"]
        assert 0 <= tok["start"] < tok["end"] <= len(text)
        assert tok["text"] == text[tok["start"]:tok["end"]]
    # byte-level BPE: every character of the input is covered by some token
    covered = set()
    for tok in tokens:
        covered.update(range(tok["start"], tok["end"]))
    assert covered == set(range(len(text)))
    np.testing.assert_allclose(att.sum(-1), 1.0, atol=1e-5)
    assert np.all(att >= 0)
    upper = np.triu(np.ones((t, t), bool), k=1)
    assert np.all(att[..., upper] == 0.0)


@pytest.mark.parametrize("text", TEXTS)
def test_minilm_cls_sep_and_bidirectional(server, text):
    body = attention(server, text, model="minilm-l6", fmt="json")
    att = decode(body["attentions"])
    tokens = body["tokens"]
    t = len(tokens)
    assert att.shape == (6, 12, t, t)
    assert tokens[0]["text"] == "[CLS]" and tokens[0]["special"] and tokens[0]["start"] == tokens[0]["end"] == 0
    last = tokens[-1]
    assert last["text"] == "[SEP]" and last["special"] and last["start"] == last["end"] <= len(text)
    for tok in tokens[1:-1]:
        assert tok["text"] == text[tok["start"]:tok["end"]]
        assert not tok["special"]
    np.testing.assert_allclose(att.sum(-1), 1.0, atol=1e-5)
    assert att[..., np.triu(np.ones((t, t), bool), k=1)].max() > 0.01  # an encoder looks ahead


def test_typed_special_token_keeps_its_span(server):
    text = "hello [SEP] world"
    tokens = attention(server, text, model="minilm-l6")["tokens"]
    typed = [t for t in tokens if t["start"] == 6]
    assert typed == [{"text": "[SEP]", "id": 102, "start": 6, "end": 11, "special": True}]


def test_both_encodings_decode_to_the_same_numbers(server):
    text = f"Both encodings {uuid.uuid4().hex[:6]}"
    f16 = attention(server, text)
    f32 = attention(server, text, fmt="json")
    assert f16["attentions"]["dtype"] == "float16" and f32["attentions"]["dtype"] == "float32"
    assert f16["tokens"] == f32["tokens"]
    a, b = decode(f16["attentions"]), decode(f32["attentions"])
    assert a.shape == b.shape
    # float16 keeps 11 significant bits: |error| <= 2^-11 * value (+ subnormal floor)
    assert np.all(np.abs(a - b) <= np.abs(b) * 2.0**-11 + 2.0**-24)


def test_format_in_body_equals_query_parameter(server):
    text = "format in the body"
    in_body = server.post({"text": text, "format": "json"}).json()
    in_query = attention(server, text, fmt="json")
    assert in_body["attentions"] == in_query["attentions"]


def test_service_matches_in_process_engine(server, engine):
    text = "What the dashboard draws is what the model computed."
    body = attention(server, text, fmt="json")
    res = engine.attention(text)
    assert body["tokens"] == res.tokens
    np.testing.assert_allclose(decode(body["attentions"]), res.attentions, rtol=0, atol=1e-6)


def test_cache_hit_on_repeat_and_metrics(server):
    text = f"cache me {uuid.uuid4().hex[:8]}"
    hits0 = metric(server, "headgaze_cache_hits_total", model="smollm2-135m")
    misses0 = metric(server, "headgaze_cache_misses_total", model="smollm2-135m")
    first = attention(server, text)
    second = attention(server, text)
    assert first["cached"] is False and second["cached"] is True
    assert first["attentions"] == second["attentions"] and first["tokens"] == second["tokens"]
    assert second["timing_ms"]["inference"] == 0.0
    assert metric(server, "headgaze_cache_hits_total", model="smollm2-135m") == hits0 + 1
    assert metric(server, "headgaze_cache_misses_total", model="smollm2-135m") == misses0 + 1
    # another model is another cache entry
    assert attention(server, text, model="minilm-l6")["cached"] is False


def test_metrics_count_requests_by_status_and_inference_time(server):
    ok0 = metric(server, "headgaze_http_requests_total", endpoint="/v1/attention", status="200")
    bad0 = metric(server, "headgaze_http_requests_total", endpoint="/v1/attention", status="422")
    inf0 = metric(server, "headgaze_inference_seconds_count", model="minilm-l6")
    attention(server, f"count me {uuid.uuid4().hex[:8]}", model="minilm-l6")
    assert server.post({"text": "   "}).status_code == 422
    assert metric(server, "headgaze_http_requests_total", endpoint="/v1/attention", status="200") == ok0 + 1
    assert metric(server, "headgaze_http_requests_total", endpoint="/v1/attention", status="422") == bad0 + 1
    assert metric(server, "headgaze_inference_seconds_count", model="minilm-l6") == inf0 + 1
    assert metric(server, "headgaze_http_request_seconds_count", endpoint="/v1/attention") > 0
    assert server.get("/metrics").headers["Content-Type"].startswith("text/plain")


def test_heads_stats_and_timing(server):
    body = attention(server, "The quick brown fox jumps.", fmt="json")
    stats = body["heads_stats"]
    att = decode(body["attentions"])
    t = att.shape[-1]
    assert set(stats) == {"scores", "max_weight", "argmax", "tags", "thresholds"}
    assert set(stats["scores"]) == {"previous", "first", "self", "next", "entropy", "first_norm", "sink"}
    assert stats["scores"]["next"] is None  # a causal model cannot look ahead
    for name in ("previous", "first", "self", "entropy", "first_norm", "sink"):
        assert np.asarray(stats["scores"][name]).shape == (30, 9)
    np.testing.assert_allclose(stats["scores"]["first"], att[..., 1:, 0].mean(-1), atol=1e-4)  # row 0 skipped
    np.testing.assert_array_equal(stats["argmax"], att.argmax(-1))
    np.testing.assert_allclose(stats["max_weight"], att.max(-1), atol=1e-4)
    assert len(stats["tags"]) == 30 and all(len(row) == 9 for row in stats["tags"])
    first_tagged = {(i, j) for i in range(30) for j in range(9) if "first-token" in stats["tags"][i][j]}
    assert first_tagged == {tuple(ij) for ij in np.argwhere(np.asarray(stats["scores"]["first"]) > 0.6)}
    assert stats["thresholds"]["first-token"] == "first > 0.6"
    again = attention(server, "The quick brown fox jumps.", fmt="json")
    assert again["cached"] is True and again["heads_stats"] == stats
    assert t == len(body["tokens"])
    assert {"tokenize", "inference", "total", "encode"} <= set(body["timing_ms"])
    assert all(v >= 0 for v in body["timing_ms"].values())


def test_health_ready_and_openapi_document(server):
    assert server.get("/healthz").json()["status"] == "ok"
    ready = server.get("/readyz").json()
    assert ready["status"] == "ready" and set(ready["models"]) == {"smollm2-135m", "minilm-l6"}
    doc = server.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {"/v1/attention", "/v1/attention/head", "/v1/generate", "/v1/ablate", "/v1/models",
                                 "/v1/models/{model_id}/heads", "/healthz", "/readyz", "/metrics", "/openapi.json"}
    req = doc["components"]["schemas"]["AttentionRequest"]
    assert set(req["properties"]) == {"text", "model", "format", "detail", "weighting", "hide_first", "predictions",
                                      "top_k", "raw"} and req["additionalProperties"] is False
    assert req["properties"]["model"]["anyOf"][0]["enum"] == ready["models"]
    assert req["properties"]["text"]["maxLength"] == 4000
    documented = set(doc["paths"]["/v1/attention"]["post"]["responses"])
    assert {"200", "400", "401", "404", "413", "415", "422", "503"} <= documented
    resp_schema = doc["components"]["schemas"]["AttentionResponse"]
    assert set(resp_schema["required"]) == set(attention(server, "schema"))


def test_service_process_never_loads_torch(server):
    attention(server, "Is torch loaded?")
    with open(f"/proc/{server.pid}/maps") as f:
        maps = f.read()
    assert "libtorch" not in maps
    assert "onnxruntime" in maps  # the check looks at the right process


@pytest.mark.parametrize("model", ["smollm2-135m", "minilm-l6"])
def test_head_profile_endpoint_serves_the_exported_profile(server, models_dir, model):
    resp = server.get(f"/v1/models/{model}/heads")
    assert resp.status_code == 200
    assert resp.json() == orjson.loads((models_dir / model / "heads_profile.json").read_bytes())
    summary = next(m for m in server.get("/v1/models").json()["models"] if m["id"] == model)
    assert summary["heads_profile"]["tag_counts"] == resp.json()["tag_counts"]


def test_head_profile_of_unknown_model_is_404(server):
    resp = server.get("/v1/models/nope/heads")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "unknown_model"


def test_the_schema_check_fails_on_drift(server):
    """The check every response goes through (tests/support/openapi.py) rejects a field the schema lacks."""
    import copy

    import jsonschema

    body = attention(server, "drift check")  # validated on its way in
    check = server.on_response
    drifted = copy.deepcopy(body)
    drifted["timing_ms"]["warmup"] = 1.0
    from jsonschema import Draft202012Validator

    from tests.support.openapi import BASE

    # the 200 answer is oneOf(full, grid): check against the full response's own schema for a precise error
    validator = Draft202012Validator({"$ref": f"{BASE}#/components/schemas/AttentionResponse"},
                                     registry=check.registry)
    with pytest.raises(jsonschema.ValidationError):
        check.validator("/v1/attention", "post", "200").validate(drifted)
    with pytest.raises(jsonschema.ValidationError, match="warmup"):
        validator.validate(drifted)
    del drifted["timing_ms"]["warmup"], drifted["timing_ms"]["queue"]
    with pytest.raises(jsonschema.ValidationError, match="queue"):
        validator.validate(drifted)
