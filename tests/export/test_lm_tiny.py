"""What the model says, on tiny random-weight models: a lean causal LM (Llama, Qwen2) is exported with
predictions.onnx and decoder.onnx, whose serve-time use (service/runtime/predictions.py, service/runtime/generation.py)
equals PyTorch eager: the same log-probs, ranks and greedy ids as transformers' generate. A generic
causal LM (GPT-2) and a base model without a head export without them, with the reason."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer

from headgaze.export.sources import resolve
from headgaze.service.runtime.batching import pad_batch
from headgaze.service.runtime.generation import Decoder, GenerateParams
from headgaze.service.runtime.predictions import PredictionHead
from headgaze.service.runtime.providers import make_session

LEAN_LMS = ("llama", "qwen2")
TEXT = "the fluffy blue monster ate the cookie"


@pytest.fixture(scope="module")
def exported(tiny_exports):
    return tiny_exports


def reference(source):
    return resolve(str(source)).load_reference(with_lm_head=True)


@pytest.mark.parametrize("family", LEAN_LMS)
def test_lean_lm_exports_verified_predictions_and_generation(exported, family):
    folder, manifest, _ = exported[family]
    assert manifest["lm_head"] is True
    assert (folder / manifest["predictions"]["file"]).is_file() and (folder / manifest["generation"]["file"]).is_file()
    pred, gen = manifest["parity"]["predictions"], manifest["parity"]["generation"]
    assert pred["max_abs_diff_top"] <= 1e-4 and pred["max_abs_diff_next"] <= 1e-4 and pred["positions"] > 20
    assert gen["equal"] is True and not gen["ties"] and gen["new_tokens"] == 32 and len(gen["probes"]) == 3
    assert manifest["eos_token_ids"] == [2] and manifest["add_bos"] is True  # the tiny tokenizer's </s>, <s>
    assert "generation_config.json" in manifest["eos_source"] or "config.json" in manifest["eos_source"]


@pytest.mark.parametrize("family", LEAN_LMS)
def test_served_predictions_equal_pytorch(exported, family):
    folder, manifest, source = exported[family]
    ids = Tokenizer.from_file(str(folder / "tokenizer.json")).encode(TEXT).ids
    session = make_session(str(folder / "model.onnx"), "cpu", 1, False)
    context, residual = session.run(["last_context", "last_residual"],
                                    pad_batch([ids], [i.name for i in session.get_inputs()]))
    head = PredictionHead(str(folder / "predictions.onnx"), "cpu", 1, False)
    out = head.run({"last_context": context[0], "last_residual": residual[0]}, ids, 5)
    with torch.no_grad():
        want = torch.log_softmax(reference(source)(torch.tensor([ids])).logits[0].double(), -1).numpy()
    np.testing.assert_allclose(out["top_logprobs"], -np.sort(-want, axis=-1)[:, :5], atol=1e-4)
    np.testing.assert_allclose(out["next_logprob"][:-1], want[np.arange(len(ids) - 1), ids[1:]], atol=1e-4)
    for t in range(len(ids) - 1):  # the rank, up to tokens within 1e-4 of the next one
        lp = want[t, ids[t + 1]]
        assert 1 + (want[t] > lp + 1e-4).sum() <= out["next_rank"][t] <= 1 + (want[t] > lp - 1e-4).sum()


@pytest.mark.parametrize("family", LEAN_LMS)
def test_served_greedy_generation_equals_transformers_generate(exported, family):
    folder, manifest, source = exported[family]
    ids = Tokenizer.from_file(str(folder / "tokenizer.json")).encode(TEXT).ids
    g = manifest["generation"]
    decoder = Decoder(str(folder / g["file"]), "cpu", 1, False, layers=g["layers"], kv_heads=g["kv_heads"],
                      head_dim=g["head_dim"])
    steps = list(decoder.steps(ids, GenerateParams(max_new_tokens=24), max_tokens=256, eos_ids=set()))
    with torch.no_grad():
        want = reference(source).generate(torch.tensor([ids]), do_sample=False, max_new_tokens=24, eos_token_id=None,
                                          pad_token_id=0)[0].tolist()
    assert [tid for tid, _, _ in steps] == want[len(ids):]
    assert steps[-1][2] == "max_new_tokens"


@pytest.mark.parametrize(("family", "reason"), [("gpt2", "generic graph"), ("llama-no-head", "no causal LM head")])
def test_models_without_lean_lm_graphs_say_why(exported, family, reason):
    folder, manifest, _ = exported[family]
    assert manifest["lm_head"] is False and reason in manifest["lm_head_reason"]
    assert "predictions" not in manifest and not (folder / "predictions.onnx").exists()
    assert not (folder / "decoder.onnx").exists()
