"""Knock-out on tiny models: every export takes `head_mask` where it can (lean graphs, generic families
with a native head_mask) with its parity against PyTorch in the manifest, and POST /v1/ablate over real
HTTP has the effect it must: the hand-built previous-token head, knocked out, stops the model from
predicting the previous token; an encoder answers cosines; a model that cannot is a 422 that says why."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from tokenizers import Tokenizer

from tests.export.conftest import PREVIOUS_TOKEN
from tests.support.service import ServiceProcess

TEXT = "the fluffy blue monster ate"


@pytest.fixture(scope="module")
def served(tiny_exports, tmp_path_factory):
    folder = next(iter(tiny_exports.values()))[0].parent
    service = ServiceProcess.for_models(folder, tmp_path_factory.mktemp("knockout") / "service.log").start()
    yield service
    service.stop()


def ablate(served, model: str, heads, **extra):
    return served.request("POST", "/v1/ablate", json={"text": TEXT, "model": model, "heads": heads, **extra})


@pytest.mark.parametrize(("name", "graph", "compared"), [
    ("llama", "decoder.onnx", "next-token log-probs"), ("qwen2", "decoder.onnx", "next-token log-probs"),
    (PREVIOUS_TOKEN, "decoder.onnx", "next-token log-probs"), ("llama-no-head", "hidden.onnx", "final hidden states"),
    ("bert", "hidden.onnx", "final hidden states"), ("gpt2", "hidden.onnx", "final hidden states")])
def test_every_tiny_export_takes_a_verified_head_mask(tiny_exports, name, graph, compared):
    folder, manifest, _ = tiny_exports[name]
    assert manifest["head_mask"] is True and manifest["ablation"]["file"] == graph
    hm = manifest["parity"]["head_mask"]
    assert hm["graph"] == graph and hm["compared"] == compared and hm["all_ones_identical"] is True
    assert hm["max_abs_diff"] <= max(hm["tolerance"], hm["noise_factor"] * hm["torch_float32_error"])
    singles = min(3, manifest["layers"] * manifest["heads"])
    assert len(hm["masks"]) == singles + 2 and hm["masks"][singles].startswith("all of layer")
    # model.onnx, every request's graph, has no mask: its speed is untouched
    assert "head_mask" not in manifest["inputs"]
    graph_inputs = [i.name for i in onnx.load(str(folder / graph), load_external_data=False).graph.input]
    assert "head_mask" in graph_inputs


def test_knocking_out_the_previous_token_head_changes_the_prediction_as_built(tiny_exports, served):
    folder, _, _ = tiny_exports[PREVIOUS_TOKEN]
    ids = Tokenizer.from_file(str(folder / "tokenizer.json")).encode(TEXT).ids
    body = ablate(served, PREVIOUS_TOKEN, [[0, 0]], top_k=1).json()
    assert [t["id"] for t in body["tokens"]] == ids and body["kind"] == "predictions"
    base = [p["top"][0]["id"] for p in body["baseline"]]
    gone = [p["top"][0]["id"] for p in body["ablated"]]
    assert base[1:] == ids[:-1]  # with the head: each token predicts the one before it
    assert gone == ids  # without it: the token itself
    assert body["delta"][-1] is None and len(body["delta"]) == len(ids)
    # the delta is the change of the actual next token's log-prob, from the two answers' own numbers
    for t in range(len(ids) - 1):
        want = body["ablated"][t]["next"]["logprob"] - body["baseline"][t]["next"]["logprob"]
        assert body["delta"][t] == pytest.approx(want, abs=1e-9)
    again = ablate(served, PREVIOUS_TOKEN, [[0, 0]], top_k=1).json()
    assert again["cached"] is True and again["ablated"] == body["ablated"]


@pytest.mark.parametrize("name", ["bert", "llama-no-head", "gpt2"])
def test_a_model_without_predictions_answers_cosines(served, name):
    body = ablate(served, name, [[0, 1], [1, 2]]).json()
    cos = np.array(body["cosine"])
    assert body["kind"] == "hidden" and len(cos) == len(body["tokens"])
    assert np.all(cos <= 1 + 1e-6) and np.all(cos > -1 - 1e-6) and cos.min() < 0.9999
    assert -1 <= body["sentence_cosine"] <= 1 and "baseline" not in body
    whole = ablate(served, name, [[layer, head] for layer in range(2) for head in range(4)]).json()
    assert np.array(whole["cosine"]).mean() < cos.mean()  # every head out changes more than two


def test_a_model_that_cannot_knock_out_says_why(tiny_exports, served):
    _, manifest, _ = tiny_exports["phi"]
    assert manifest["head_mask"] is False and "takes no head_mask" in manifest["head_mask_reason"]
    resp = ablate(served, "phi", [[0, 0]])
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "no_ablation"
    assert "takes no head_mask" in resp.json()["error"]["message"]
