"""Bring your own model: every tested family, a user's GGUF file and a sentencepiece-only checkpoint.

Tiny random-weight models (2 layers, hidden 64, sharp attention) are built offline, exported in
this process (seconds each), checked through their manifests, then served by one real
`headgaze service` and compared with PyTorch eager on a text the export never saw.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from headgaze.export.errors import ExportError
from headgaze.export.pipeline import export_model
from headgaze.export.sources import resolve, slug
from headgaze.export.verify import PROBE_TEXTS
from headgaze.export.weights import ROLES
from headgaze.service.common.hashing import sha256_files
from tests.export.tiny_gguf import GGUF_NAME, write_tiny_gguf
from tests.export.tiny_models import FAMILIES, build_model, save_model, save_sentencepiece_model
from tests.support.service import ServiceProcess

TEXT = "Every head looks at the quick brown fox, then again at the fox!"
GGUF_ID, SPM_ID, BIN_ID = "tiny-qwen2-gguf", "tiny-sentencepiece", "tiny-bert-bin"
pytestmark = pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")


@pytest.fixture(scope="module")
def byo(tmp_path_factory):
    """Export every family, the GGUF file, the sentencepiece and the .bin-only folders; serve them all."""
    root = tmp_path_factory.mktemp("byo")
    models = root / "models"
    refusals = {}
    for family in FAMILIES:
        folder = save_model(family, root / "src" / family)
        try:
            export_model(resolve(str(folder), slug(family)), models)
        except ExportError as exc:
            refusals[family] = str(exc)
    gguf_file = write_tiny_gguf(root / "tiny-qwen2.gguf")
    export_model(resolve(str(gguf_file), GGUF_ID), models)
    spm_folder = save_sentencepiece_model(root / "src" / "spm")
    export_model(resolve(str(spm_folder), SPM_ID), models)
    bin_folder = save_model("bert", root / "src" / "bert-bin", safetensors=False)
    export_model(resolve(str(bin_folder), BIN_ID), models)
    service = ServiceProcess.for_models(models, root / "service.log")
    try:
        service.start()
        yield {"models": models, "refusals": refusals, "service": service, "gguf": gguf_file, "spm": spm_folder}
    finally:
        service.stop()


def served_attention(service: ServiceProcess, model_id: str, text: str) -> tuple[list[int], np.ndarray]:
    """(token ids, float32 [L,H,T,T]) as the real service answers them."""
    resp = service.post({"text": text, "model": model_id, "format": "json"})
    assert resp.status_code == 200, resp.text[:500]
    body = resp.json()
    att = body["attentions"]
    return [t["id"] for t in body["tokens"]], np.asarray(att["data"], dtype=np.float32).reshape(att["shape"])


def manifest_of(byo, model_id: str) -> dict:
    return json.loads((byo["models"] / model_id / "manifest.json").read_text())


def torch_attentions(model, ids: list[int]) -> np.ndarray:
    input_ids = torch.tensor([ids])
    with torch.no_grad():
        out = model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), output_attentions=True)
    return np.stack([a[0].numpy() for a in out.attentions])


def mean_row_peak(att: np.ndarray) -> float:
    """Mean over layers, heads and rows 4+ of the largest weight in a row (uniform rows: ≤ 0.2 here)."""
    return float(att.max(-1)[..., 4:].mean())


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_exports_with_a_truthful_manifest(byo, family):
    assert family not in byo["refusals"], byo["refusals"].get(family)
    model_type, _, auto_class, causal = FAMILIES[family]
    manifest = manifest_of(byo, slug(family))
    assert manifest["model_type"] == model_type
    assert manifest["causal"] is causal
    assert manifest["causal_evidence"]["decided_by"] == "probe"
    assert (manifest["causal_evidence"]["max_above_diagonal"] == 0.0) is causal
    assert manifest["parity"]["max_abs_diff"] <= manifest["parity"]["tolerance"] == 1e-4
    model, _ = build_model(family)
    weights = manifest["weights"]
    assert sum(weights[role] for role in ROLES) == weights["total"] == sum(p.numel() for p in model.parameters())
    assert weights["other"] == 0, weights
    assert min(weights["embedding"], weights["attention"], weights["mlp"]) > 0, weights
    if auto_class == "AutoModelForCausalLM":  # untied lm_head: a vocabulary-sized head
        assert weights["head"] >= model.config.vocab_size * 64
    elif causal:
        assert weights["head"] == 0


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_is_served_like_pytorch_with_sharp_attention(byo, family):
    ids, served = served_attention(byo["service"], slug(family), TEXT)
    model, tokenizer = build_model(family)
    assert ids == tokenizer(TEXT)["input_ids"]
    want = torch_attentions(model, ids)
    assert served.shape == want.shape == (2, 4, len(ids), len(ids))
    assert np.abs(served - want).max() <= 1e-4
    assert mean_row_peak(want) >= 0.3, "attention is near uniform: parity on it would prove little"
    if FAMILIES[family][3]:
        assert np.all(np.triu(served, k=1) == 0.0)
    else:
        assert np.triu(served, k=1).max() > 0.0
    for layer in sliding_layers(model.config):  # exact zeros at window distance and beyond
        far = np.tril(np.ones((len(ids), len(ids)), dtype=bool), k=-model.config.sliding_window)
        assert np.all(served[layer][:, far] == 0.0), f"layer {layer} attends beyond its window"


def sliding_layers(config) -> list[int]:
    """Layers with a sliding attention window: all (mistral) or those `layer_types` names (gemma2/3)."""
    if not getattr(config, "sliding_window", None):
        return []
    types = getattr(config, "layer_types", None) or ["sliding_attention"] * config.num_hidden_layers
    return [i for i, kind in enumerate(types) if kind == "sliding_attention"]


def test_sliding_window_families_have_sliding_layers():
    """The window check above is not vacuous: these tiny configs do slide (gemma2 alternates)."""
    assert {f: sliding_layers(build_model(f)[0].config) for f in ("mistral", "gemma2", "gemma3_text")} == {
        "mistral": [0, 1], "gemma2": [0], "gemma3_text": [0, 1],
    }


@pytest.mark.parametrize(("family", "causal"), [("llama-no-head", True), ("gpt2-no-head", True), ("bert", False)])
def test_causality_is_decided_by_behaviour_not_class_name(byo, family, causal):
    """LlamaModel and GPT2Model carry no LM head and no is_decoder flag, and are causal all the same."""
    manifest = manifest_of(byo, slug(family))
    assert manifest["architecture"] in ("LlamaModel", "GPT2Model", "BertModel")
    assert manifest["causal_evidence"]["config"].get("is_decoder", False) is False
    assert manifest["causal"] is causal


def test_user_gguf_file_is_exported_with_its_own_metadata(byo):
    manifest = manifest_of(byo, GGUF_ID)
    assert manifest["source"]["kind"] == "gguf-file"
    assert manifest["source"]["sha256"] == sha256_files(byo["gguf"])
    assert manifest["source"]["gguf_architecture"] == "qwen2" and manifest["source"]["gguf_causal"] is True
    assert manifest["display_name"] == GGUF_NAME
    assert (manifest["architecture"], manifest["model_type"], manifest["causal"]) == ("Qwen2ForCausalLM", "qwen2", True)
    ids, served = served_attention(byo["service"], GGUF_ID, TEXT)
    model, tokenizer = build_model("qwen2")  # the weights that were written into the GGUF file
    assert ids == tokenizer(TEXT, add_special_tokens=False)["input_ids"]  # transformers' qwen2 GGUF: no BOS
    assert np.abs(served - torch_attentions(model, ids)).max() <= 1e-4


def test_folder_holding_one_gguf_is_the_gguf(byo, tmp_path):
    (tmp_path / "tiny.gguf").symlink_to(byo["gguf"])
    (tmp_path / "config.json").write_text("{}")  # a config beside it is not what gets exported
    source = resolve(str(tmp_path))
    assert source.gguf_file == "tiny.gguf" and source.info["kind"] == "gguf-file"
    assert source.info["sha256"] == sha256_files(byo["gguf"])


def test_gguf_of_a_family_transformers_cannot_read_is_one_line(tmp_path):
    import gguf

    path = tmp_path / "encoder.gguf"
    writer = gguf.GGUFWriter(str(path), "nomic-bert")
    writer.add_causal_attention(False)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    with pytest.raises(ExportError, match=r"GGUF family 'nomic-bert' cannot be dequantised") as err:
        resolve(str(path))
    assert "\n" not in str(err.value) and "docs/export.md" in str(err.value)


def test_smollm2_gguf_manifest_matches_the_file_metadata(models_dir):
    """The default SmolLM2 export (made by `make export`) read from the GGUF file inside its package."""
    from headgaze.export.gguf_file import read_header

    manifest = json.loads((models_dir / "smollm2-135m" / "manifest.json").read_text())
    packaged = resolve("smollm2-135m")
    gguf_path = packaged.folder / packaged.gguf_file
    header = read_header(gguf_path)
    assert (header.architecture, header.causal) == ("llama", True)
    assert (manifest["model_type"], manifest["causal"]) == ("llama", True)
    assert manifest["causal_evidence"]["decided_by"] == "probe"
    as_user_file = resolve(str(gguf_path), "my-smollm2")
    assert as_user_file.info["kind"] == "gguf-file"
    assert as_user_file.info["sha256"] == manifest["source"]["sha256"] == sha256_files(gguf_path)


def test_sentencepiece_only_checkpoint_gets_a_fast_tokenizer(byo):
    from tokenizers import Tokenizer
    from transformers import LlamaTokenizer

    assert not (byo["spm"] / "tokenizer.json").exists()
    slow = LlamaTokenizer.from_pretrained(byo["spm"])
    served = Tokenizer.from_file(str(byo["models"] / SPM_ID / "tokenizer.json"))
    for text in (*PROBE_TEXTS, TEXT):
        assert served.encode(text).ids == slow(text)["input_ids"], text
    ids, _ = served_attention(byo["service"], SPM_ID, TEXT)
    assert ids == slow(TEXT)["input_ids"]


def test_bin_only_folder_exports(byo):
    manifest = manifest_of(byo, BIN_ID)
    assert manifest["source"]["file"] == "pytorch_model.bin"
    assert manifest["causal"] is False


def test_service_lists_every_export(byo):
    served = {m["id"] for m in byo["service"].get("/v1/models").json()["models"]}
    assert served == {slug(f) for f in FAMILIES} | {GGUF_ID, SPM_ID, BIN_ID}
