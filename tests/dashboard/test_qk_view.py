"""The q·k view's arithmetic and figure against the real exported models (onnxruntime outputs):
softmax of the scores it draws is the attention the model computed, the product columns sum to
the scores, the future of a causal model is masked, and the payload carries q and k unchanged."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from headgaze.dashboard.views.qk_view import default_query, qk_payload, qk_view_figure, query_parts
from tests.conftest import DEFAULT_MODEL_IDS, read_manifest
from tests.export.test_qk_artifacts import run

TEXT = "The fluffy blue monster ate the cookie."


@pytest.fixture(scope="module", params=DEFAULT_MODEL_IDS)
def outputs(request, models_dir):
    manifest = read_manifest(models_dir, request.param)
    out, _, ids = run(models_dir / request.param, manifest, TEXT)
    return manifest, out, len(ids)


def head_qk(manifest, out, layer, head):
    """One query head's q [T, d] and the k [T, d] of the kv head it reads (grouped-query attention)."""
    group = manifest["heads"] // manifest["kv_heads"]
    return out[f"queries.{layer}"][0, head], out[f"keys.{layer}"][0, head // group]


@pytest.mark.parametrize("layer,head", [(0, 0), (3, 4), (-1, -1)])
def test_softmax_of_the_drawn_scores_is_the_models_attention(outputs, layer, head):
    manifest, out, T = outputs
    layer, head = layer % manifest["layers"], head % manifest["heads"]
    q, k = head_qk(manifest, out, layer, head)
    att = out[f"attentions.{layer}"][0, head]
    for i in range(T):
        p = query_parts(q, k, manifest["qk_scales"][layer], i, manifest["causal"])
        np.testing.assert_allclose(p["weights"], att[i], atol=1e-5, err_msg=f"query {i}")
        visible = ~np.isnan(p["scores"])
        assert visible.sum() == (i + 1 if manifest["causal"] else T)
        np.testing.assert_allclose(np.nansum(p["products"], axis=0)[visible], p["scores"][visible], rtol=1e-4,
                                   atol=1e-4)
        assert int(np.nanargmax(p["scores"])) == int(np.argmax(att[i]))


def test_figure_and_payload(outputs):
    manifest, out, T = outputs
    q, k = head_qk(manifest, out, 2, 1)
    tokens = [{"text": f"t{i}", "special": False} for i in range(T)]
    fig = qk_view_figure(q, k, manifest["qk_scales"][2], tokens, layer=2, head=1, causal=manifest["causal"])
    meta = fig["layout"]["meta"]
    assert meta["query"] == default_query(tokens) == T - 1 and meta["view"] == "qk"
    bars, scores, heat = fig["data"]
    assert len(bars["y"]) == T and sum(bars["y"]) == pytest.approx(1.0, abs=1e-4)
    assert len(heat["z"]) == q.shape[1] and len(heat["z"][0]) == T
    assert max(bars["y"]) == bars["y"][int(np.nanargmax(np.array(scores["y"], dtype=float)))]
    payload = qk_payload(q, k, 0.5, key="k", layer=2, head=1, causal=True)
    back = np.frombuffer(base64.b64decode(payload["q"]), dtype="<f4").reshape(payload["T"], payload["d"])
    np.testing.assert_array_equal(back, q)


def test_default_query_skips_special_tokens():
    toks = [{"special": True}, {"special": False}, {"special": False}, {"special": True}]
    assert default_query(toks) == 2
    assert default_query([{"special": True}]) == 0
