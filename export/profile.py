"""The export's head-profile stage: run the exported graph on the profile probes, write heads_profile.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from headgaze.service.analysis.head_profile import PROFILE_FILE, compute_profile
from headgaze.service.runtime.batching import pad_batch


def write_profile(out: Path, causal: bool, special_ids: set[int]) -> dict:
    """Compute the profile with onnxruntime on out/model.onnx; returns the manifest's summary of it."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    attentions = [n for n in outputs if n.startswith("attentions.")]
    value_norms = [f"value_norms.{i}" for i in range(len(attentions))]
    if not set(value_norms) <= set(outputs):
        value_norms = []  # exported without q/k: attentions alone
    tokenizer = Tokenizer.from_file(str(out / "tokenizer.json"))

    def run(ids: list[int]) -> tuple[np.ndarray, np.ndarray | None]:
        outs = session.run(attentions + value_norms, pad_batch([ids], names))
        att = np.concatenate(outs[: len(attentions)], axis=0)
        return att, np.concatenate(outs[len(attentions) :], axis=0) if value_norms else None

    profile = compute_profile(run, tokenizer, causal, special_ids)
    (out / PROFILE_FILE).write_text(json.dumps(profile) + "\n")
    return {
        "file": PROFILE_FILE,
        "tag_counts": profile["tag_counts"],
        "thresholds": profile["thresholds"],
        "first_token": profile["first_token"],
    }
