"""Knocking heads out in the generic (optimum) graph: the optional `head_mask` input [layers, heads].

The lean graph multiplies each head's context by its entry before the output projection
(lean_graph.py). On the generic path the model's own `head_mask` argument does the same where the
family has one (BERT and its relatives, GPT-2): transformers multiplies each head's attention
probabilities by it, and a head's context is those probabilities times the values, so scaling them
scales the context; the export's verification (mask_verify.py) proves it against PyTorch with the
head's slice of the output projection's input zeroed. A family whose forward takes no `head_mask`
is exported without one (`head_mask: false` and the reason in the manifest).

The input is optional: the exported graph gets an initializer of ones under the same name, so a
run that does not feed it computes what it computed before, bit for bit (x · 1.0 = x).
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np

HEAD_MASK = "head_mask"


class MaskUnused(Exception):
    """The family's forward takes head_mask but never uses it (OPT in transformers 4.57): the traced
    graph has no such input, and no knock-out can be run through it."""


def native_head_mask(model) -> bool:
    """The model's forward takes `head_mask` (transformers applies it to the attention probabilities)."""
    return HEAD_MASK in inspect.signature(model.forward).parameters


def no_mask_reason(model) -> str:
    return (
        f"{type(model).__name__}'s forward takes no head_mask; knocking heads out needs the lean graph "
        "(Llama-like families) or a family with one (BERT, RoBERTa, GPT-2)"
    )


def with_head_mask(onnx_config, layers: int, heads: int):
    """An optimum ONNX config like `onnx_config` with the extra input `head_mask` [layers, heads], traced
    with ones (a dummy input generator of its own, as optimum generates every input it declares)."""
    from optimum.utils.input_generators import DummyInputGenerator

    class HeadMaskGenerator(DummyInputGenerator):
        SUPPORTED_INPUT_NAMES = (HEAD_MASK,)

        def __init__(self, task, normalized_config, **kwargs):
            self.task = task

        def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
            ones = np.ones((layers, heads), np.float32)
            if framework == "np":
                return ones
            import torch

            return torch.from_numpy(ones)

    base = type(onnx_config)

    class HeadMaskConfig(base):
        DUMMY_INPUT_GENERATOR_CLASSES = (*base.DUMMY_INPUT_GENERATOR_CLASSES, HeadMaskGenerator)

        @property
        def inputs(self) -> dict[str, dict[int, str]]:
            return {**super().inputs, HEAD_MASK: {}}

    return HeadMaskConfig(onnx_config._config, task=onnx_config.task)


def make_optional(onnx_path: Path, layers: int, heads: int) -> None:
    """Give the graph's `head_mask` input an initializer of ones: not fed, it keeps every head."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path), load_external_data=False)
    names = [i.name for i in model.graph.input]
    if HEAD_MASK not in names:
        raise MaskUnused(
            f"the family's head_mask argument does not reach its graph (unused in its forward; "
            f"the exported inputs are {', '.join(names)})"
        )
    if all(t.name != HEAD_MASK for t in model.graph.initializer):
        model.graph.initializer.append(
            numpy_helper.from_array(np.ones((layers, heads), np.float32), HEAD_MASK)
        )
    onnx.save(model, str(onnx_path))
