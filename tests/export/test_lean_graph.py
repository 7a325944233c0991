"""The lean attention graph: chosen for the families it claims, equal to the generic graph and to
PyTorch eager, exact in right-padded batches; every other family keeps the generic graph, with the
reason in its manifest. Tiny random-weight models (2 layers, sharp attention), exported here."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from tokenizers import Tokenizer

from headgaze.export.batch_verify import LONGEST_TEXT_TOKENS
from headgaze.export.errors import ExportError
from headgaze.export.lean_choice import LEAN_FAMILIES
from headgaze.export.pipeline import export_model
from headgaze.export.sources import resolve
from headgaze.service.runtime.batching import crop, pad_batch
from headgaze.service.runtime.engine import DEFAULT_MAX_TOKENS
from tests.export.tiny_models import FAMILIES, build_model, save_model
from tests.support.graph_weights import weights_from_qk
from tests.support.service import ServiceProcess

LEAN = ["llama", "llama-no-head", "mistral-full", "qwen2", "qwen3", "granite", "smollm3", "olmo2"]
GENERIC = {"gpt2": "not one of the lean families", "phi": "not one of the lean families",
           "mistral": "sliding window of 8 tokens"}  # fmt: skip
TEXTS = ("the fluffy blue monster ate the cookie, then the fox ate it again", "hi", "Ça coûte 3.50 ! 🍕")
KINDS = ("attentions", "queries", "keys", "value_norms")
pytestmark = pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """family → {"auto": folder, "generic": folder (lean families only), "source": folder}; all in
    one models folder (the generic exports as <family>-generic), which `served` serves."""
    root = tmp_path_factory.mktemp("lean")
    models = root / "models"
    out = {}
    for family in [*LEAN, *GENERIC]:
        source = save_model(family, root / "src" / family)
        out[family] = {"source": source, "auto": export_model(resolve(str(source), family), models)}
        if family in LEAN:
            generic = resolve(str(source), f"{family}-generic")
            out[family]["generic"] = export_model(generic, models, graph="generic")
    return out


@pytest.fixture(scope="module")
def served(exports, tmp_path_factory):
    """One real `headgaze service` over every export of this module."""
    service = ServiceProcess.for_models(
        exports["llama"]["auto"].parent, tmp_path_factory.mktemp("svc") / "log"
    )
    service.start()
    yield service
    service.stop()


def manifest(folder) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def run(folder, texts) -> tuple[dict[str, list[np.ndarray]], list[list[int]]]:
    """Every output of a right-padded batch of `texts`, cropped per text; and the token ids."""
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    ids = [Tokenizer.from_file(str(folder / "tokenizer.json")).encode(t).ids for t in texts]
    man = manifest(folder)
    layers = man["layers"]
    graph = {o.name for o in session.get_outputs()}
    kinds = [k for k in KINDS if f"{k}.0" in graph]  # a q/k model is served without attentions outputs
    names = [f"{k}.{i}" for k in kinds for i in range(layers)]
    outs = dict(
        zip(names, session.run(names, pad_batch(ids, [i.name for i in session.get_inputs()])), strict=True)
    )
    cropped = {}
    if "attentions" in kinds:
        cropped["attentions"] = crop([outs[f"attentions.{i}"] for i in range(layers)], [len(x) for x in ids])
    for kind in kinds:
        if kind != "attentions":
            cropped[kind] = [np.stack([outs[f"{kind}.{i}"][row, :, : len(x)] for i in range(layers)])
                             for row, x in enumerate(ids)]  # fmt: skip
    if "attentions" not in kinds:  # as the service computes them (export/serve_verify.py: equal to the graph's)
        cropped["attentions"] = [weights_from_qk(q, k, man) for q, k in zip(cropped["queries"], cropped["keys"],
                                                                            strict=True)]
    return cropped, ids


@pytest.mark.parametrize("family", LEAN)
def test_claimed_family_gets_the_lean_graph_with_its_reason(exports, family):
    m = manifest(exports[family]["auto"])
    assert m["graph"]["kind"] == "lean", m["graph"]
    assert FAMILIES[family][0] in m["graph"]["reason"]
    assert manifest(exports[family]["generic"])["graph"] == {
        "kind": "generic",
        "reason": "asked for with --graph generic",
    }
    assert m["qk"] is True and m["parity"]["max_abs_diff"] <= 1e-4
    assert m["parity"]["batch"]["max_abs_diff"] <= 1e-5
    assert m["parity"]["long_text"]["tokens"] == min(LONGEST_TEXT_TOKENS, m["max_tokens"])
    graph = onnx.load(str(exports[family]["auto"] / "model.onnx"))
    ops = {n.op_type for n in graph.graph.node}
    assert {"Attention", "MatMul"} <= ops and "Expand" not in ops  # no repeat_kv, no shape arithmetic
    assert ("RotaryEmbedding" in ops) and sum(n.op_type == "Attention" for n in graph.graph.node) == m[
        "layers"
    ]
    feeds = (m.get("predictions") or {}).get("feeds", [])  # model.onnx's outputs that predictions.onnx reads
    assert [o.name for o in graph.graph.output if o.name not in feeds] == m["outputs"]


@pytest.mark.parametrize("family", LEAN)
def test_lean_equals_generic_and_pytorch_on_a_padded_batch(exports, family):
    lean, ids = run(exports[family]["auto"], TEXTS)
    generic, generic_ids = run(exports[family]["generic"], TEXTS)
    assert ids == generic_ids
    model, _ = build_model(family)
    for row, text_ids in enumerate(ids):
        t = torch.tensor([text_ids])
        with torch.no_grad():
            want = model(input_ids=t, attention_mask=torch.ones_like(t), output_attentions=True).attentions
        want = np.stack([a[0].numpy() for a in want])
        assert np.abs(lean["attentions"][row] - want).max() <= 1e-4
        assert np.abs(lean["attentions"][row] - generic["attentions"][row]).max() <= 1e-4
        assert np.all(lean["attentions"][row][..., np.triu_indices(len(text_ids), 1)[0],
                                              np.triu_indices(len(text_ids), 1)[1]] == 0)  # fmt: skip
        for kind in KINDS[1:]:  # q, k after rotary, value norms: same values, relative to their size
            got, ref = lean[kind][row], generic[kind][row]
            assert got.shape == ref.shape
            assert np.abs(got - ref).max() <= 1e-4 * max(1.0, np.abs(ref).max()), kind


@pytest.mark.parametrize("family", LEAN)
def test_right_padded_batch_equals_each_text_alone(exports, family):
    together, _ = run(exports[family]["auto"], TEXTS)
    for row, text in enumerate(TEXTS):
        alone, _ = run(exports[family]["auto"], [text])
        for kind in KINDS:
            assert np.abs(together[kind][row] - alone[kind][0]).max() <= 1e-5 * max(
                1.0, np.abs(alone[kind][0]).max()
            )


@pytest.mark.parametrize("family", list(GENERIC))
def test_unclaimed_family_keeps_the_generic_graph_and_says_why(exports, family):
    m = manifest(exports[family]["auto"])
    assert m["graph"]["kind"] == "generic"
    assert GENERIC[family] in m["graph"]["reason"]
    ops = {n.op_type for n in onnx.load(str(exports[family]["auto"] / "model.onnx")).graph.node}
    assert "Attention" not in ops


def test_graph_lean_on_an_unclaimed_family_is_refused_with_the_reason(exports, tmp_path):
    with pytest.raises(ExportError, match="--graph lean: not possible for this model: model_type 'gpt2'"):
        export_model(resolve(str(exports["gpt2"]["source"]), "gpt2-lean"), tmp_path, graph="lean")
    assert not (tmp_path / "gpt2-lean").exists()


def test_rotary_cache_has_a_row_per_supported_position(exports):
    graph = onnx.load(str(exports["llama"]["auto"] / "model.onnx"))
    cos = next(t for t in graph.graph.initializer if t.name == "rotary.cos")
    assert list(cos.dims) == [manifest(exports["llama"]["auto"])["max_tokens"], 16 // 2]


def test_the_lean_families_are_the_claimed_ones():
    assert {FAMILIES[f][0] for f in LEAN} == set(LEAN_FAMILIES)
    assert LONGEST_TEXT_TOKENS == DEFAULT_MAX_TOKENS  # the export proves the service's longest text


def test_positions_past_the_rotary_cache_are_refused_not_wrapped(exports):
    """The service never sends them (its max tokens ≤ the manifest's); a direct caller gets an error."""
    folder = exports["llama"]["auto"]
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    limit = manifest(folder)["max_tokens"]
    assert session.run(["queries.0"], pad_batch([[5] * limit], names))[0].shape[-2] == limit
    with pytest.raises(Exception, match="RotaryEmbedding"):
        session.run(["queries.0"], pad_batch([[5] * (limit + 1)], names))


@pytest.mark.parametrize("family", ["llama", "qwen3", "olmo2"])
def test_service_serves_the_lean_graph_like_the_generic_one(served, family):
    """Real HTTP: same tokens, same [L, H, T, T] shape, same weights within 1e-4; lean and generic
    requested together so the service batches each model's requests as it does in production."""
    text = "Every head looks at the quick brown fox, then again at the fox!"
    bodies = {}
    for model_id in (family, f"{family}-generic"):
        resp = served.post({"text": text, "model": model_id, "format": "json"})
        assert resp.status_code == 200, resp.text[:300]
        bodies[model_id] = resp.json()
    lean, generic = bodies[family], bodies[f"{family}-generic"]
    assert lean["tokens"] == generic["tokens"]
    assert lean["attentions"]["shape"] == generic["attentions"]["shape"]
    got, want = (np.asarray(b["attentions"]["data"], dtype=np.float32) for b in (lean, generic))
    assert np.abs(got - want).max() <= 1e-4


@pytest.mark.parametrize(("model_id", "kind"), [("smollm2-135m", "lean"), ("minilm-l6", "generic")])
def test_default_models_record_their_graph_and_the_extra_proofs(models_dir, model_id, kind):
    m = manifest(models_dir / model_id)
    assert m["graph"]["kind"] == kind and m["graph"]["reason"]
    assert m["parity"]["batch"]["texts"] == len(m["parity"]["probes"])
    assert m["parity"]["batch"]["max_abs_diff"] <= m["parity"]["batch"]["tolerance"] == 1e-5
    assert m["parity"]["long_text"]["tokens"] == LONGEST_TEXT_TOKENS
    assert m["parity"]["long_text"]["max_abs_diff"] <= 1e-4
