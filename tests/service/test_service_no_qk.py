"""A model exported without queries, keys and value norms (manifest `"qk": false`), through real HTTP.

The fixture is the real MiniLM export whose manifest says qk false with a reason (as the exporter
writes it for a family whose q/k cannot be exposed), and a copy whose manifest predates q/k capture
(no `qk` field at all). The service then fetches the attentions alone, answers `value_norms: null`,
says why in GET /v1/models, and refuses q/k and value-norm weighting with a clear 422.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from headgaze.export.serve_graph import restore_attentions
from headgaze.service.common.encoding import decode
from headgaze.service.common.hashing import sha256_files
from tests.service.test_service_long_texts import head_request
from tests.support.openapi import OpenApiCheck
from tests.support.service import ServiceProcess

REASON = "fused qkv projection (test fixture)"


@pytest.fixture(scope="module")
def no_qk_server(models_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("noqk")
    for model_id, reason in (("minilm-noqk", REASON), ("minilm-old", None)):
        folder = root / model_id
        folder.mkdir()
        for name in ("hidden.onnx", "tokenizer.json", "heads_profile.json"):
            (folder / name).symlink_to(models_dir / "minilm-l6" / name)
        manifest = json.loads((models_dir / "minilm-l6" / "manifest.json").read_text())
        # the export of a model without q/k keeps its attentions outputs: restore them
        restore_attentions(models_dir / "minilm-l6" / "model.onnx", folder / "model.onnx", list(range(manifest["layers"])))
        manifest["onnx"].update(sha256=sha256_files(folder / "model.onnx"), bytes=(folder / "model.onnx").stat().st_size)
        manifest.update(id=model_id, qk=False, attention_source="attentions")
        manifest.pop("qk_scales", None)
        if reason is None:
            manifest.pop("qk")
        else:
            manifest["qk_reason"] = reason
        (folder / "manifest.json").write_text(json.dumps(manifest))
    srv = ServiceProcess.for_models(root, root / "service.log")
    try:
        srv.start()
        srv.on_response = OpenApiCheck.from_url(srv.url, srv.headers())
        yield srv
    finally:
        srv.stop()


def test_models_list_says_qk_false_and_why(no_qk_server):
    models = {m["id"]: m for m in no_qk_server.get("/v1/models").json()["models"]}
    assert models["minilm-noqk"]["qk"] is False and models["minilm-noqk"]["qk_reason"] == REASON
    assert models["minilm-old"]["qk"] is False and "re-run `make export`" in models["minilm-old"]["qk_reason"]


@pytest.mark.parametrize("detail", ["full", "grid"])
def test_attention_has_null_value_norms(no_qk_server, detail):
    body = no_qk_server.post({"text": "no value norms here", "model": "minilm-noqk", "detail": detail}).json()
    assert body["value_norms"] is None and body["weighting"] == "attention"
    assert body["heads_stats"]["scores"]["sink"] is None and body["heads_stats"]["scores"]["first_norm"] is None
    if detail == "full":
        np.testing.assert_allclose(decode(body["attentions"]).sum(-1), 1.0, atol=2e-3)


def test_head_without_qk_has_null_fields(no_qk_server):
    body = head_request(no_qk_server, text="no value norms here", model="minilm-old", layer=1, head=2).json()
    assert body["attention"]["shape"] == [len(body["tokens"])] * 2
    assert all(body[name] is None for name in ("value_norms", "queries", "keys", "scores", "kv_head", "scale"))


@pytest.mark.parametrize("extra", [{"qk": True}, {"weighting": "value_norm"}])
def test_qk_or_value_norm_weighting_is_a_clear_422(no_qk_server, extra):
    resp = head_request(no_qk_server, text="x", model="minilm-noqk", layer=0, head=0, **extra)
    assert resp.status_code == 422, resp.text
    err = resp.json()["error"]
    assert err["code"] == "qk_unavailable" and REASON in err["message"] and "minilm-noqk" in err["message"]
    if "weighting" in extra:
        resp = no_qk_server.post({"text": "x", "model": "minilm-noqk", **extra})
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "qk_unavailable"
    assert no_qk_server.get("/healthz").status_code == 200
