"""The default models' q/k/value-norm outputs: manifest, graph, parity on a fresh text, and the sink finding."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from tokenizers import Tokenizer

from headgaze.export.qk_verify import FIGURES, check_qk_probe, reference_projections
from headgaze.export.sources import resolve
from headgaze.service.analysis.head_analysis import head_scores
from headgaze.service.runtime.batching import pad_batch
from tests.conftest import DEFAULT_MODEL_IDS, read_manifest
from tests.support.graph_weights import run_outputs

KINDS = ("attentions", "queries", "keys", "value_norms")
HEAD_DIM = {"smollm2-135m": 64, "minilm-l6": 32}
FRESH_TEXT = "Héllo — the 3 sleepy cats (and 1 dog) nap! 😴"


@pytest.fixture(scope="module", params=DEFAULT_MODEL_IDS)
def model(request, models_dir):
    return request.param, models_dir / request.param, read_manifest(models_dir, request.param)


def run(folder, manifest, text):
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    ids = Tokenizer.from_file(str(folder / "tokenizer.json")).encode(text).ids
    names = [f"{k}.{i}" for k in KINDS for i in range(manifest["layers"])]
    feeds = pad_batch([ids], [i.name for i in session.get_inputs()])
    return run_outputs(session, feeds, manifest, names), feeds, ids


def test_manifest_lists_the_qk_outputs_and_their_parity(model):
    _, _, manifest = model
    layers = manifest["layers"]
    assert manifest["qk"] is True
    # served without attentions: the weights come from queries and keys (export/serve_graph.py)
    assert manifest["outputs"] == [f"{k}.{i}" for k in KINDS[1:] for i in range(layers)]
    assert manifest["qk_scales"] == pytest.approx([HEAD_DIM[manifest["id"]] ** -0.5] * layers)
    qk = manifest["parity"]["qk"]
    assert qk["probes"] == len(manifest["parity"]["probes"])
    assert 0 <= qk["max_score_softmax_diff"] <= qk["softmax_atol"] == 1e-5
    for key in FIGURES[1:]:
        assert 0 < qk[key] <= qk["norm_rtol"] == 1e-4, key
    served = manifest["parity"]["served"]  # the served graph vs the full one (export/serve_verify.py)
    assert served["tags_equal"] is True and max(served["tokens"]) == 512
    assert max(served[f"max_{k}_diff"] for k in ("outputs", "weights", "thumbnails", "rows")) <= served["atol"] == 1e-5
    assert served["max_plogp_diff"] <= served["plogp_atol"]


def test_graph_outputs_have_the_documented_shapes(model):
    model_id, folder, manifest = model
    graph = onnx.load(str(folder / "model.onnx"), load_external_data=False).graph
    dims = {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in graph.output}
    heads, kv_heads, d = manifest["heads"], manifest["kv_heads"], HEAD_DIM[model_id]
    last = manifest["layers"] - 1
    assert dims[f"queries.{last}"] == ["batch_size", heads, "sequence_length", d]
    assert dims[f"keys.{last}"] == ["batch_size", kv_heads, "sequence_length", d]
    assert dims[f"value_norms.{last}"] == ["batch_size", heads, "sequence_length"]


def test_qk_parity_on_a_text_outside_the_probe_set(model):
    """The export-time checks (softmax of q·kᵀ, pre-rotary q/k norms, ‖v W_O^h‖) on a fresh text."""
    _, folder, manifest = model
    out, feeds, ids = run(folder, manifest, FRESH_TEXT)
    reference = resolve(manifest["id"]).load_reference(with_lm_head=manifest["task"] == "text-generation")
    figures = check_qk_probe(FRESH_TEXT, out, reference_projections(reference, feeds), manifest["qk_scales"],
                             manifest["causal"])
    assert figures["max_score_softmax_diff"] <= 1e-5
    assert max(figures[k] for k in FIGURES[1:]) <= 1e-4
    assert out["value_norms.0"].shape == (1, manifest["heads"], len(ids))


def test_first_token_sinks_pass_on_little(models_dir):
    """The issue's measurement on SmolLM2: in the first-token heads (the head analysis' tag, mean weight
    on token 0 > 0.6), token 0's value-output norm is below the median of the other tokens'. The issue
    measured 179 of 180; we require at least 95 % and at least a third of all heads being sinks."""
    folder = models_dir / "smollm2-135m"
    manifest = read_manifest(models_dir, "smollm2-135m")
    out, _, ids = run(folder, manifest, "The fluffy blue monster ate the cookie.")
    att = np.stack([out[f"attentions.{i}"][0] for i in range(manifest["layers"])])
    norms = np.stack([out[f"value_norms.{i}"][0] for i in range(manifest["layers"])])  # [L, H, T]
    sinks = head_scores(att, causal=True)["first"] > 0.6
    quiet = norms[..., 0] < np.median(norms[..., 1:], axis=-1)
    n_sinks, n_quiet = int(sinks.sum()), int((sinks & quiet).sum())
    print(f"first-token heads {n_sinks} of {sinks.size}; token 0 passes on less than the median in {n_quiet}")
    assert n_sinks >= sinks.size / 3
    assert n_quiet >= 0.95 * n_sinks
