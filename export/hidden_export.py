"""hidden.onnx: the final hidden state of every token with the optional `head_mask`, for models
without predictions (encoders, decoders without a head, causal LMs on the generic graph), so that a
knock-out can be measured there: the cosine of each token's final hidden state (and of the
mean-pooled sentence embedding, what all-MiniLM is used for) with and without the heads.

A separate graph, not an output of model.onnx: the attention graph stops where its last attention
output is computed (the generic graph leaves out the last layer's MLP; the lean one its output
projection and MLP too), and an extra output or the mask would make every request pay. Generic
(optimum) models get the architecture's own feature-extraction graph of their base model; lean
decoders without a head get HiddenGraph (lean_lm.py).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
from pathlib import Path

from .errors import ExportError
from .head_mask import make_optional, with_head_mask
from .onnx_graph import FEATURE_EXTRACTION, base_onnx_config

HIDDEN_FILE = "hidden.onnx"
OUTPUT = "last_hidden_state"


def export_generic_hidden(folder: Path, out_dir: Path, arch, model) -> Path:
    """out_dir/hidden.onnx from optimum's feature-extraction export of `model` (its base model, for a
    causal LM) with head_mask."""
    from optimum.exporters.onnx import onnx_export_from_model

    logging.getLogger("optimum").setLevel(logging.ERROR)
    if arch.task != FEATURE_EXTRACTION:
        model, arch = model.base_model, dataclasses.replace(arch, task=FEATURE_EXTRACTION)
    config = with_head_mask(base_onnx_config(folder, arch), arch.layers, arch.heads)
    with tempfile.TemporaryDirectory(prefix="headgaze-hidden-") as tmp:
        onnx_export_from_model(model, output=Path(tmp), task=FEATURE_EXTRACTION, custom_onnx_configs={"model": config},
                               do_validation=False, no_post_process=True)  # fmt: skip
        produced = sorted(Path(tmp).glob("model.onnx*"))
        if not produced:
            raise ExportError(f"optimum wrote no model.onnx for {HIDDEN_FILE}")
        if len(produced) > 1:
            raise ExportError(f"{HIDDEN_FILE}: external data is not supported for the hidden-state graph")
        path = out_dir / HIDDEN_FILE
        shutil.move(produced[0], path)
    make_optional(path, arch.layers, arch.heads)
    return path
