"""q/k/value-norm export on tiny random-weight models: a rotary grouped-query decoder, a BERT encoder,
and a fused-qkv GPT-2 that exports its attentions alone (`"qk": false`) instead of failing."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from tokenizers import Tokenizer

from headgaze.export.errors import VerificationFailed
from headgaze.export.pipeline import export_model
from headgaze.export.qk_capture import attention_parts
from headgaze.export.qk_verify import check_qk_probe, qk_softmax, reference_projections
from headgaze.export.serve_graph import restore_attentions
from headgaze.export.sources import resolve
from headgaze.service.runtime.batching import pad_batch
from tests.export.tiny_models import save_model

# the tiny families of the export matrix: rotary + grouped-query (4 heads, 2 kv heads), BERT, fused-qkv GPT-2
FAMILY = {"tiny-llama-gqa": "llama", "tiny-bert": "bert", "tiny-gpt2": "gpt2"}
TEXTS = ("the fluffy blue monster ate the cookie", "hi")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """name → (models/<name> folder, manifest, source folder), every tiny model exported once."""
    root = tmp_path_factory.mktemp("tiny")
    out = {}
    for name, family in FAMILY.items():
        source = save_model(family, root / "src" / name)
        folder = export_model(resolve(str(source)), root / "models")
        out[name] = folder, json.loads((folder / "manifest.json").read_text()), source
    return out


def run_all(folder, texts, layers):
    """onnxruntime on a padded batch of texts, the served graph's attentions restored (export/serve_graph.py);
    name → array, plus the token ids."""
    restored = folder.parent / f".{folder.name}.restored.onnx"
    restore_attentions(folder / "model.onnx", restored, list(range(layers)))
    session = ort.InferenceSession(str(restored), providers=["CPUExecutionProvider"])
    restored.unlink()
    ids = [Tokenizer.from_file(str(folder / "tokenizer.json")).encode(t).ids for t in texts]
    names = [f"{k}.{i}" for k in ("attentions", "queries", "keys", "value_norms") for i in range(layers)]
    feeds = pad_batch(ids, [i.name for i in session.get_inputs()])
    return dict(zip(names, session.run(names, feeds), strict=True)), ids


@pytest.mark.parametrize("name, kv_heads, causal", [("tiny-llama-gqa", 2, True), ("tiny-bert", 4, False)])
def test_qk_outputs_are_exported_and_verified(exported, name, kv_heads, causal):
    folder, manifest, _ = exported[name]
    assert manifest["qk"] is True and "qk_reason" not in manifest
    # served without attentions outputs: the service computes the weights from q and k
    assert manifest["outputs"] == [f"{k}.{i}" for k in ("queries", "keys", "value_norms") for i in range(2)]
    assert manifest["attention_source"] == "queries_keys" and manifest["parity"]["served"]["tags_equal"] is True
    assert manifest["qk_scales"] == pytest.approx([16**-0.5] * 2)  # head_dim 64 / 4 heads
    graph = onnx.load(str(folder / "model.onnx"), load_external_data=False).graph
    dims = {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in graph.output}
    assert not any(n.startswith("attentions.") for n in dims)
    assert dims["queries.1"] == ["batch_size", 4, "sequence_length", 16]
    assert dims["keys.1"] == ["batch_size", kv_heads, "sequence_length", 16]
    assert dims["value_norms.1"] == ["batch_size", 4, "sequence_length"]
    qk = manifest["parity"]["qk"]
    assert qk["probes"] == len(manifest["parity"]["probes"])
    assert qk["max_score_softmax_diff"] <= 1e-5
    for key in ("max_q_norm_rel_err", "max_k_norm_rel_err", "max_value_norm_rel_err"):
        assert 0 < qk[key] <= 1e-4, key  # 0 would mean nothing was compared


@pytest.mark.parametrize("name, kv_heads, causal", [("tiny-llama-gqa", 2, True), ("tiny-bert", 4, False)])
def test_softmax_of_exported_qk_gives_exported_attentions_in_a_padded_batch(exported, name, kv_heads, causal):
    """Two texts of different lengths in one padded run (as the service batches them): per text, its
    own crop of q and k reproduces its crop of the attentions."""
    folder, manifest, _ = exported[name]
    out, ids = run_all(folder, TEXTS, 2)
    for b, tokens in enumerate(ids):
        t = len(tokens)
        for layer in range(2):
            q, k = out[f"queries.{layer}"][b, :, :t], out[f"keys.{layer}"][b, :, :t]
            assert q.shape == (4, t, 16) and k.shape == (kv_heads, t, 16)
            want = out[f"attentions.{layer}"][b, :, :t, :t]
            got = qk_softmax(q, k, manifest["qk_scales"][layer], causal)
            np.testing.assert_allclose(got, want, atol=1e-5)
            assert out[f"value_norms.{layer}"][b, :, :t].shape == (4, t)


def test_queries_are_after_the_rotary_embedding(exported):
    """Same q norms as the projection (a rotation), but not the projection itself: rope was applied."""
    folder, manifest, source = exported["tiny-llama-gqa"]
    out, ids = run_all(folder, TEXTS[:1], 2)
    reference = resolve(str(source)).load_reference(with_lm_head=True)
    feeds = pad_batch(ids, ["input_ids", "attention_mask", "position_ids"])
    pre = reference_projections(reference, feeds)[0]["q"]  # [T, H*d], before rope
    t = len(ids[0])
    q = out["queries.0"][0]  # [H, T, d]
    pre_heads = pre.reshape(t, 4, 16).transpose(1, 0, 2)
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), np.linalg.norm(pre_heads, axis=-1), rtol=1e-4)
    assert np.abs(q[:, 1:] - pre_heads[:, 1:]).max() > 1e-2  # position 0 is not rotated, the others are


def test_value_norms_equal_value_times_output_projection_slice(exported):
    """‖v_j W_O^h‖ with grouped-query sharing: query head h reads kv head h // 2."""
    folder, _, source = exported["tiny-llama-gqa"]
    out, ids = run_all(folder, TEXTS[:1], 2)
    reference = resolve(str(source)).load_reference(with_lm_head=True)
    parts = attention_parts(reference)
    seen = {}
    handle = parts[1].v.register_forward_hook(lambda _m, _i, o: seen.setdefault("v", o[0]))
    with torch.no_grad():
        reference(input_ids=torch.tensor(ids))
    handle.remove()
    w = parts[1].o.weight.detach()
    for h in range(4):
        kv = h // 2
        f = seen["v"][:, kv * 16 : (kv + 1) * 16] @ w[:, h * 16 : (h + 1) * 16].T  # [T, hidden]
        np.testing.assert_allclose(out["value_norms.1"][0, h], f.norm(dim=-1).numpy(), rtol=1e-4)


def test_a_wrong_output_fails_naming_layer_head_and_text(exported):
    folder, manifest, source = exported["tiny-llama-gqa"]
    out, ids = run_all(folder, TEXTS[:1], 2)
    reference = resolve(str(source)).load_reference(with_lm_head=True)
    ref = reference_projections(reference, pad_batch(ids, ["input_ids", "attention_mask", "position_ids"]))
    one = {k: v[:1] for k, v in out.items()}
    check_qk_probe(TEXTS[0], one, ref, manifest["qk_scales"], True)  # as exported: passes
    broken = {**one, "keys.1": one["keys.1"].copy()}
    broken["keys.1"][0, 1] *= 1.01  # kv head 1 (read by query heads 2, 3) of layer 1 stretched by 1 %
    with pytest.raises(VerificationFailed, match=rf"layer 1 head [23] on probe '{TEXTS[0]}': \|softmax"):
        check_qk_probe(TEXTS[0], broken, ref, manifest["qk_scales"], True)
    scaled = {**one, "value_norms.0": one["value_norms.0"] * np.float32(1.001)}
    with pytest.raises(VerificationFailed, match=rf"layer 0 head [0-3] on probe '{TEXTS[0]}': .*value norm"):
        check_qk_probe(TEXTS[0], scaled, ref, manifest["qk_scales"], True)


def test_fused_qkv_model_exports_attentions_only(exported):
    folder, manifest, _ = exported["tiny-gpt2"]
    assert manifest["qk"] is False and "fused" in manifest["qk_reason"]
    assert manifest["outputs"] == ["attentions.0", "attentions.1"] and "qk" not in manifest["parity"]
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == manifest["outputs"]


@pytest.mark.parametrize("kv_heads", [6, 2])
def test_value_output_norms_match_the_direct_product(kv_heads):
    """The graph's ‖v Rᵀ‖ (QR factor of each head's W_O slice) equals ‖v W_O^hᵀ‖, with GQA sharing."""
    from headgaze.export.qk_capture import value_factor, value_output_norms

    torch.manual_seed(1)
    heads, dim, hidden = 6, 8, 48
    value, w = torch.randn(2, kv_heads, 5, dim), torch.randn(hidden, heads * dim)
    got = value_output_norms(value, value_factor(w, heads))
    for h in range(heads):
        v = value[:, h // (heads // kv_heads)].double()
        want = (v @ w[:, h * dim : (h + 1) * dim].double().T).norm(dim=-1)
        np.testing.assert_allclose(got[:, h].numpy(), want.numpy(), rtol=1e-5)
