"""Prove the knock-out right: the graph that takes `head_mask` vs PyTorch eager with the same heads
removed by hand.

The reference removes head h of layer l with a forward pre-hook on that layer's output projection
that zeroes the head's slice of its input (the head's context), the definition of a knock-out. On
each probe and for each mask (three random single heads, one whole layer and up to twenty random
heads at once, seeded), what the served graph computes under that mask must agree with the reference
in float64: a causal LM's next-token log-probs (decoder.onnx's prefill, through predictions.onnx, at
the reference's top 5 and the actual next token), else every final hidden state (hidden.onnx).
A knock-out takes the network off the inputs it was trained on and float32 rounding grows there, so
the bound is OUTPUT_ATOL, or NOISE_FACTOR × PyTorch float32's own error on that knock-out where that
is larger (SmolLM2 without all of layer 1: PyTorch's float32 and float64 log-probs differ by 5e-4);
both errors are recorded. Unfed, the mask is all ones, and every output must equal the unmasked run
bit for bit.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np

from headgaze.service.runtime.batching import pad_batch
from headgaze.service.runtime.predictions import PredictionHead
from headgaze.service.runtime.providers import default_threads

from .errors import VerificationFailed
from .head_mask import HEAD_MASK
from .qk_capture import attention_parts

SEED = 0
RANDOM_HEADS = 20
NOISE_FACTOR = 2.0  # a graph may differ from float64 by this times PyTorch float32's own error
# Measured on SmolLM2 with 20 heads out: one next-token log-prob (at -6.6) 7.5e-4 from float64 in onnxruntime,
# 7e-5 in PyTorch float32 (unmasked, the two agree within 4e-5). Recorded per export in parity.head_mask.
OUTPUT_ATOL = 1e-3
PROBES = ("The fluffy blue monster ate the cookie, then the fox ate it again.", "Wait... what?! (Yes); no.")
FEEDS = ("last_context", "last_residual")
# attention output projections by family: GPT-2's c_proj, GPT-NeoX's and ALBERT's dense, DistilBERT's out_lin, MPNet's o
OUTPUT_NAMES = ("c_proj", "dense", "out_lin", "o", "o_proj", "out_proj")


class MaskUnverifiable(Exception):
    """The reference's attention output projections cannot be found: the knock-out cannot be proven."""


def test_masks(layers: int, heads: int, seed: int = SEED) -> list[tuple[str, np.ndarray]]:
    """(description, mask [layers, heads]): three single heads, one layer, up to 20 heads at once."""
    rng = np.random.default_rng(seed)
    out = []
    for flat in rng.choice(layers * heads, size=min(3, layers * heads), replace=False):
        m = np.ones((layers, heads), np.float32)
        m.flat[flat] = 0
        out.append((f"layer {flat // heads} head {flat % heads}", m))
    layer = int(rng.integers(0, max(layers - 1, 1)))  # not the last: its effect reaches fewer outputs
    m = np.ones((layers, heads), np.float32)
    m[layer] = 0
    out.append((f"all of layer {layer}", m))
    n = min(RANDOM_HEADS, layers * heads)
    m = np.ones((layers, heads), np.float32)
    m.flat[rng.choice(layers * heads, size=n, replace=False)] = 0
    out.append((f"{n} random heads", m))
    return out


def output_projections(reference, layers: int) -> list:
    """Each layer's attention output projection (its input is the heads' contexts side by side): what
    qk_capture finds (o_proj, out_proj, BERT's output.dense), else the first of OUTPUT_NAMES on each
    attention module (a fused qkv the q/k capture does not take apart)."""
    found = [p.o for p in attention_parts(reference)]
    if len(found) != layers:
        found = []
        for m in reference.modules():
            if type(m).__name__.endswith("Attention"):
                proj = next(
                    (getattr(m, n) for n in OUTPUT_NAMES if _is_projection(getattr(m, n, None))), None
                )
                if proj is not None:
                    found.append(proj)
    if len(found) != layers:
        raise MaskUnverifiable(f"the knock-out cannot be checked against PyTorch: {len(found)} attention output "
                               f"projections found for {layers} layers")  # fmt: skip
    return found


def _is_projection(module) -> bool:
    return module is not None and type(module).__name__ in ("Linear", "Conv1D")


@contextmanager
def knocked_out(reference, mask: np.ndarray):
    """PyTorch eager with every head where mask == 0 removed: its slice of the output projection's
    input zeroed by a forward pre-hook."""
    layers, heads = mask.shape
    handles = []
    for layer, proj in enumerate(output_projections(reference, layers)):
        off = [h for h in range(heads) if mask[layer, h] == 0]
        if not off:
            continue

        def zero(_module, args, off=off):
            dim = args[0].shape[-1] // heads
            x = args[0].clone()
            for h in off:
                x[..., h * dim : (h + 1) * dim] = 0
            return (x, *args[1:])

        handles.append(proj.register_forward_pre_hook(zero))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


class MaskedGraph:
    """The graph that takes head_mask, run on one text: `outputs(ids, mask)` → a causal LM's log-probs
    [T, V] sub-sampled as compared (decoder.onnx → predictions.onnx), or final hidden states [T, D]."""

    def __init__(self, path: Path, predictions: Path | None, geometry: dict | None):
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        if HEAD_MASK not in [i.name for i in self.session.get_overridable_initializers()]:
            raise VerificationFailed(f"{path.name}: {HEAD_MASK} is not an optional input")
        self.pred = PredictionHead(str(predictions), "cpu", default_threads(), False) if predictions else None
        self.geometry = geometry or {}
        self.inputs = [i.name for i in self.session.get_inputs()]

    def feeds(self, ids: list[int]) -> dict[str, np.ndarray]:
        if self.pred is None:
            return pad_batch([ids], self.inputs)
        g = self.geometry
        past = {
            n: np.zeros((1, g["kv_heads"], 0, g["head_dim"]), np.float32)
            for n in self.inputs
            if n.startswith("past_")
        }
        return {"input_ids": np.array([ids], np.int64), "attention_mask": np.ones((1, len(ids)), np.int64),
                "position_ids": np.arange(len(ids), dtype=np.int64)[None], **past}  # fmt: skip

    def raw(self, ids: list[int], mask: np.ndarray | None) -> list[np.ndarray]:
        names = list(FEEDS) + ["logprobs"] if self.pred is not None else ["last_hidden_state"]
        return self.session.run(names, {**self.feeds(ids), **({} if mask is None else {HEAD_MASK: mask})})

    def outputs(self, ids: list[int], mask: np.ndarray, exact: np.ndarray) -> np.ndarray:
        got = self.raw(ids, mask)
        if self.pred is None:
            return got[0][0].astype(np.float64)
        out = self.pred.run({"last_context": got[0][0], "last_residual": got[1][0]}, ids, 5)
        top = out["top_logprobs"].astype(np.float64).ravel()  # sorted, as the reference's top 5 below
        return np.concatenate([top, out["next_logprob"][:-1].astype(np.float64)])


def compared(values: np.ndarray, ids: list[int], lm: bool) -> np.ndarray:
    """A reference's outputs as MaskedGraph.outputs gives them: an LM's top-5 log-probs per position
    (sorted) and the actual next token's; every final hidden state value otherwise."""
    if not lm:
        return values
    return np.concatenate(
        [-np.sort(-values, axis=-1)[:, :5].ravel(), values[np.arange(len(ids) - 1), ids[1:]]]
    )


def reference_outputs(reference, ids: list[int], lm: bool) -> np.ndarray:
    """The reference's log-probs [T, V] (an LM) or final hidden states [T, D], as float64 numbers."""
    import torch

    with torch.no_grad():
        out = reference(torch.tensor([ids]), output_hidden_states=not lm)
    if lm:
        return torch.log_softmax(out.logits[0].double(), -1).numpy()
    hidden = getattr(out, "last_hidden_state", None)
    return (hidden if hidden is not None else out.hidden_states[-1])[0].double().numpy()


def verify_head_mask(masked: Path, tokenizer, reference, layers: int, heads: int, *, predictions: Path | None,
                     geometry: dict | None, texts=PROBES) -> dict:  # fmt: skip
    """The parity report of the knock-out (manifest parity.head_mask)."""
    graph = MaskedGraph(masked, predictions, geometry)
    lm = predictions is not None
    base = (
        getattr(reference, "base_model", reference) if not lm and hasattr(reference, "lm_head") else reference
    )
    worst = {"outputs": 0.0, "torch_float32": 0.0}
    masks = test_masks(layers, heads)
    for text in texts:
        ids = tokenizer.encode(text).ids
        plain, ones = graph.raw(ids, None), graph.raw(ids, np.ones((layers, heads), np.float32))
        if not all(np.array_equal(a, b) for a, b in zip(plain, ones, strict=True)):
            raise VerificationFailed(
                f"{masked.name} on probe {text!r}: an all-ones head_mask changes the outputs"
            )
        for what, mask in masks:
            with knocked_out(base, mask):
                want32 = reference_outputs(base, ids, lm)
                exact = reference_outputs(base.double(), ids, lm)  # the same knock-out in float64
                base.float()  # (float32 → float64 → float32 is exact)
            want = compared(exact, ids, lm)
            noise = float(np.abs(compared(want32, ids, lm) - want).max())
            diff = float(np.abs(graph.outputs(ids, mask, exact) - want).max())
            bound = max(OUTPUT_ATOL, NOISE_FACTOR * noise)
            if not diff <= bound:
                raise VerificationFailed(
                    f"head_mask ({what}) on probe {text!r}: {masked.name} differs from PyTorch (float64) by "
                    f"{diff:.3g}; allowed {bound:.3g} (the max of {OUTPUT_ATOL:g} and {NOISE_FACTOR:g}x PyTorch's "
                    f"own float32 error, {noise:.3g})")  # fmt: skip
            worst["outputs"] = max(worst["outputs"], diff)
            worst["torch_float32"] = max(worst["torch_float32"], noise)
    return {"graph": masked.name, "tolerance": OUTPUT_ATOL, "noise_factor": NOISE_FACTOR,
            "masks": [what for what, _ in masks], "probes": len(texts),
            "compared": "next-token log-probs" if lm else "final hidden states",
            "max_abs_diff": worst["outputs"], "torch_float32_error": worst["torch_float32"],
            "all_ones_identical": True}  # fmt: skip
