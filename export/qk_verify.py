"""Prove the exported queries, keys and value norms right, per probe text (or fail the export).

- softmax(q·kᵀ·scale + mask), from the exported q and k, equals the exported attentions within
  1e-5 (the mask: causal for causal models; probes are single, unpadded texts);
- ‖q_i‖ per head equals the norm of the query projection's output slice in PyTorch eager BEFORE
  the rotary embedding (a rotation keeps norms; after q_norm where the model has one) within
  1e-4 relative; the same for k;
- the value norms equal ‖v_j W_O^h‖ computed in float64 from PyTorch's value projection output
  and the output projection's weight slice within 1e-4 relative.
A failure names the layer, head and probe text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from headgaze.service.runtime.batching import pad_batch

from .errors import VerificationFailed
from .qk_capture import attention_parts

SOFTMAX_ATOL = 1e-5
NORM_RTOL = 1e-4
FIGURES = ("max_score_softmax_diff", "max_q_norm_rel_err", "max_k_norm_rel_err", "max_value_norm_rel_err")


def qk_softmax(queries: np.ndarray, keys: np.ndarray, scale: float, causal: bool) -> np.ndarray:
    """softmax(q·kᵀ·scale + mask) in float64: queries [H, T, d], keys [KV, T, d] → [H, T, T]."""
    q = queries.astype(np.float64)
    k = np.repeat(keys.astype(np.float64), q.shape[0] // keys.shape[0], axis=0)  # head h reads kv h // (H/KV)
    scores = q @ k.transpose(0, 2, 1) * scale
    if causal:
        scores = np.where(np.triu(np.ones(scores.shape[-2:], dtype=bool), k=1), -np.inf, scores)
    scores -= scores.max(-1, keepdims=True)
    weights = np.exp(scores)
    return weights / weights.sum(-1, keepdims=True)


def value_norms_reference(values: np.ndarray, o_weight: np.ndarray, heads: int) -> np.ndarray:
    """‖v_j W_O^h‖ in float64 from the value projection output [T, KV*d] and W_O [hidden, H*d] → [H, T]."""
    dim = o_weight.shape[1] // heads
    kv_heads = values.shape[1] // dim
    out = np.empty((heads, values.shape[0]))
    for h in range(heads):
        kv = h // (heads // kv_heads)
        v = values[:, kv * dim : (kv + 1) * dim].astype(np.float64)
        out[h] = np.linalg.norm(v @ o_weight[:, h * dim : (h + 1) * dim].T.astype(np.float64), axis=-1)
    return out


def head_norms(x: np.ndarray, heads: int) -> np.ndarray:
    """Per-head norms of a projection output [T, heads*d] → [heads, T]."""
    t = x.shape[0]
    return np.linalg.norm(x.reshape(t, heads, -1).astype(np.float64), axis=-1).T


def rel_err(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    return np.abs(got.astype(np.float64) - want) / np.maximum(np.abs(want), 1e-6)


def reference_projections(reference, feeds: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """Per layer, PyTorch eager's pre-rotary q and k and the value projection's output, [T, ·]."""
    import torch

    parts = attention_parts(reference)
    seen: list[dict[str, np.ndarray]] = [{} for _ in parts]
    handles = []
    for layer, part in enumerate(parts):
        for name, module in (("q", part.q_pre), ("k", part.k_pre), ("v", part.v)):

            def keep(_m, _i, output, layer=layer, name=name):
                seen[layer][name] = output[0].reshape(output.shape[1], -1).float().numpy()

            handles.append(module.register_forward_hook(keep))
    try:
        with torch.no_grad():
            reference(**{k: torch.from_numpy(v) for k, v in feeds.items()})
    finally:
        for handle in handles:
            handle.remove()
    for layer, part in enumerate(parts):
        seen[layer]["o"] = part.o.weight.detach().float().numpy()
        seen[layer]["heads"] = part.heads
        seen[layer]["kv_heads"] = part.kv_heads
    return seen


def _fail(what: str, err: np.ndarray, tol: float, layer: int, text: str) -> None:
    worst = float(np.nanmax(err)) if err.size else 0.0
    if not worst <= tol:  # also catches NaN
        head = int(np.unravel_index(np.nanargmax(err), err.shape)[0]) if err.size else 0
        raise VerificationFailed(f"layer {layer} head {head} on probe {text!r}: {what} {worst:.3g} > {tol:g}")


def check_qk_probe(text: str, onnx: dict, ref: list[dict], scales: list[float], causal: bool) -> dict:
    """One probe; onnx maps output name → array with batch 1. Returns this probe's worst figures."""
    figures = dict.fromkeys(FIGURES, 0.0)
    for layer, want in enumerate(ref):
        q, k, att = onnx[f"queries.{layer}"][0], onnx[f"keys.{layer}"][0], onnx[f"attentions.{layer}"][0]
        norms = onnx[f"value_norms.{layer}"][0]
        if q.shape[0] != want["heads"] or k.shape[0] != want["kv_heads"] or norms.shape != q.shape[:2]:
            raise VerificationFailed(
                f"layer {layer} on probe {text!r}: queries {q.shape}, keys {k.shape}, value_norms {norms.shape}"
            )
        checks = (
            (
                "max_score_softmax_diff",
                "|softmax(q·kᵀ·scale + mask) - attentions| =",
                SOFTMAX_ATOL,
                np.abs(qk_softmax(q, k, scales[layer], causal) - att),
            ),
            (
                "max_q_norm_rel_err",
                "relative error of ‖q‖ vs the pre-rotary query projection",
                NORM_RTOL,
                rel_err(np.linalg.norm(q, axis=-1), head_norms(want["q"], want["heads"])),
            ),
            (
                "max_k_norm_rel_err",
                "relative error of ‖k‖ vs the pre-rotary key projection",
                NORM_RTOL,
                rel_err(np.linalg.norm(k, axis=-1), head_norms(want["k"], want["kv_heads"])),
            ),
            (
                "max_value_norm_rel_err",
                "relative error of the value norm vs ‖v W_O^h‖ in float64",
                NORM_RTOL,
                rel_err(norms, value_norms_reference(want["v"], want["o"], want["heads"])),
            ),
        )
        for key, what, tol, err in checks:
            _fail(what, err, tol, layer, text)
            figures[key] = max(figures[key], float(err.max()))
    return figures


def verify_qk(
    onnx_path: Path, reference, tokenizer, layers: int, scales: list[float], causal: bool, texts
) -> dict:
    """Check the q/k/value-norm outputs on every probe text; returns manifest["parity"]["qk"]."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    input_names = [i.name for i in session.get_inputs()]
    names = [
        f"{kind}.{i}" for kind in ("attentions", "queries", "keys", "value_norms") for i in range(layers)
    ]
    figures = dict.fromkeys(FIGURES, 0.0)
    for text in texts:
        feeds = pad_batch([tokenizer.encode(text).ids], input_names)  # the feeds the service builds
        onnx = dict(zip(names, session.run(names, feeds), strict=True))
        ref = reference_projections(reference, feeds)
        if len(ref) != layers:
            raise VerificationFailed(
                f"the PyTorch reference has q/k/v/output projections in {len(ref)} of {layers} layers"
            )
        for key, value in check_qk_probe(text, onnx, ref, scales, causal).items():
            figures[key] = max(figures[key], value)
    return {**figures, "softmax_atol": SOFTMAX_ATOL, "norm_rtol": NORM_RTOL, "probes": len(texts)}
