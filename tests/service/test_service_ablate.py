"""POST /v1/ablate and generate with `ablate` over real HTTP with the real exported models, checked
against PyTorch eager with the same heads removed by hand (their slice of the output projection's input
zeroed): SmolLM2's predictions and greedy answer, MiniLM's final hidden states; every bad `heads`."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from headgaze.export.mask_verify import knocked_out
from headgaze.service.client import ServiceClient

TEXT = "The cat sat on the mat because it was tired."
HEADS = [[3, 5], [10, 2], [10, 3], [0, 0]]


def ablate(server, body: dict):
    return server.request("POST", "/v1/ablate", json=body)


def mask_of(heads, layers, n_heads) -> np.ndarray:
    m = np.ones((layers, n_heads), np.float32)
    for layer, head in heads:
        m[layer, head] = 0
    return m


def test_smollm2_knock_out_equals_pytorch_with_the_heads_removed(server, reference):
    model, _ = reference
    body = ablate(server, {"text": TEXT, "heads": HEADS, "top_k": 5}).json()
    ids = [t["id"] for t in body["tokens"]]
    assert body["model"] == "smollm2-135m" and body["kind"] == "predictions" and body["heads"] == sorted(HEADS)
    with torch.no_grad():
        clean = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1).numpy()
        with knocked_out(model, mask_of(HEADS, 30, 9)):
            gone = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1).numpy()
    assert np.abs(gone - clean).max() > 1e-2  # the heads matter here: the test can fail
    for t, (b, a) in enumerate(zip(body["baseline"], body["ablated"], strict=True)):
        np.testing.assert_allclose([g["logprob"] for g in a["top"]], gone[t, [g["id"] for g in a["top"]]], atol=1e-4)
        np.testing.assert_allclose(a["top"][0]["logprob"], gone[t].max(), atol=1e-4)
        if t + 1 < len(ids):
            want = gone[t, ids[t + 1]] - clean[t, ids[t + 1]]
            np.testing.assert_allclose(body["delta"][t], want, atol=2e-4)
            np.testing.assert_allclose(b["next"]["logprob"], clean[t, ids[t + 1]], atol=1e-4)
    assert body["delta"][-1] is None and body["cached"] is False
    assert set(body["timing_ms"]) == {"baseline", "ablated", "total"}
    again = ablate(server, {"text": TEXT, "heads": list(reversed(HEADS)), "top_k": 5}).json()
    assert again["cached"] is True and again["ablated"] == body["ablated"]  # the same set of heads


def test_minilm_knock_out_cosines_equal_pytorch(server, models_dir):
    from headgaze.export.sources import resolve

    reference = resolve("minilm-l6").load_reference(with_lm_head=False)
    heads = [[0, 3], [2, 7], [5, 11]]
    body = ablate(server, {"text": TEXT, "model": "minilm-l6", "heads": heads}).json()
    ids = [t["id"] for t in body["tokens"]]
    with torch.no_grad():
        clean = reference(torch.tensor([ids])).last_hidden_state[0].double()
        with knocked_out(reference, mask_of(heads, 6, 12)):
            gone = reference(torch.tensor([ids])).last_hidden_state[0].double()
    want = torch.nn.functional.cosine_similarity(clean, gone, dim=-1).numpy()
    np.testing.assert_allclose(body["cosine"], want, atol=1e-5)
    sentence = torch.nn.functional.cosine_similarity(clean.mean(0), gone.mean(0), dim=0).item()
    assert body["sentence_cosine"] == pytest.approx(sentence, abs=1e-5) and body["kind"] == "hidden"
    assert want.min() < 0.9999 and "baseline" not in body and "delta" not in body


def test_greedy_answer_with_heads_knocked_out_equals_pytorch(server, reference):
    model, tokenizer = reference
    text, heads = "What is the capital of France?", [[0, h] for h in range(9)] + [[1, 4]]
    body = server.request("POST", "/v1/generate", json={"text": text, "max_new_tokens": 16, "ablate": heads}).json()
    clean = server.request("POST", "/v1/generate", json={"text": text, "max_new_tokens": 16}).json()
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True)
    with torch.no_grad(), knocked_out(model, mask_of(heads, 30, 9)):
        want = model.generate(torch.tensor([prompt]), do_sample=False, max_new_tokens=16, eos_token_id=2,
                              pad_token_id=2)[0].tolist()
    assert [t["id"] for t in body["tokens"]] == want and body["ablate"] == sorted(heads)
    assert body["tokens"] != clean["tokens"] and clean["ablate"] == []


BAD = [
    ("x", 400), ([], 422), ([[0]], 400), ([[0, 0, 0]], 400), ([[True, 0]], 400), ([[0.5, 0]], 400),
    ([["0", 0]], 400), ([[30, 0]], 422), ([[0, 9]], 422), ([[-1, 0]], 422), ([[0, 0], [0, 0]], 422),
    ([[layer, head] for layer in range(30) for head in range(9)] + [[0, 0]], 422), ([0, 0], 400),
]


@pytest.mark.parametrize(("heads", "status"), BAD)
def test_bad_heads_are_a_json_4xx_naming_the_pair(server, heads, status):
    resp = ablate(server, {"text": TEXT, "heads": heads})
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == "invalid_heads" and "'heads'" in err["message"]
    if isinstance(heads, list) and heads and isinstance(heads[0], list) and status == 422 and len(heads) < 200:
        assert any(repr(pair)[:10] in err["message"] for pair in heads)  # the pair itself is named
    gen = server.request("POST", "/v1/generate", json={"text": TEXT, "ablate": heads})
    assert gen.status_code == status and "'ablate'" in gen.json()["error"]["message"]


def test_other_bad_input_and_the_python_clients(server, smollm2_dir):
    assert ablate(server, {"text": TEXT}).json()["error"]["code"] == "missing_field"
    assert ablate(server, {"text": TEXT, "heads": [[0, 0]], "top_k": 0}).json()["error"]["code"] == "invalid_top_k"
    assert ablate(server, {"text": "", "heads": [[0, 0]]}).status_code == 422
    assert ablate(server, {"text": TEXT, "heads": [[0, 0]], "model": "nope"}).status_code == 404
    client = ServiceClient(server.url)
    via_http = client.ablate(TEXT, None, [[2, 2]], top_k=3)
    from headgaze.service.runtime.engine import Engine

    in_process = Engine(smollm2_dir, warmup=False).ablate(TEXT, None, [[2, 2]], top_k=3)
    assert via_http["ablated"] == in_process["ablated"] and via_http["delta"] == in_process["delta"]
    metrics = server.get("/metrics").text
    assert 'headgaze_ablations_total{cached="false",model="smollm2-135m"}' in metrics
