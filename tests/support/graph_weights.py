"""A model's attention weights as the service gets them, for tests that compare them with PyTorch.

The graph's own `attentions.{i}` where it has them; for a q/k model (served without T×T outputs,
export/serve_graph.py) softmax(q·kᵀ·scale + mask) of its queries and keys through the service's
kernel (service/runtime/attention_kernel.py), as every request computes them.
"""

from __future__ import annotations

import numpy as np

from headgaze.service.runtime.attention_kernel import AttentionKernel


def run_outputs(session, feeds: dict, manifest: dict, names: list[str]) -> dict[str, np.ndarray]:
    """`names` of one run; `attentions.{i}` the graph lacks are computed from its queries and keys [1, H, T, T]."""
    graph = {o.name for o in session.get_outputs()}
    wanted = [n for n in names if n in graph]
    missing = [n for n in names if n not in graph]
    if any(not n.startswith("attentions.") for n in missing):
        raise KeyError(f"the graph has no outputs {missing}")
    layers = sorted(int(n.split(".")[1]) for n in missing)
    qk = [f"{kind}.{i}" for i in layers for kind in ("queries", "keys")]
    got = dict(zip(wanted + qk, session.run(wanted + qk, feeds), strict=True))
    kernel = AttentionKernel(manifest["causal"], 2)
    for i in layers:
        got[f"attentions.{i}"] = kernel.probs(got[f"queries.{i}"][0], got[f"keys.{i}"][0], scale(manifest, i))[None]
    return {n: got[n] for n in names}


def graph_weights(session, feeds: dict, manifest: dict) -> np.ndarray:
    """[L, H, T, T] of a one-text batch."""
    names = [f"attentions.{i}" for i in range(manifest["layers"])]
    return np.stack([a[0] for a in run_outputs(session, feeds, manifest, names).values()])


def weights_from_qk(queries: np.ndarray, keys: np.ndarray, manifest: dict) -> np.ndarray:
    """[L, H, T, T] from one text's (cropped) queries [L, H, T, d] and keys [L, KV, T, d]."""
    kernel = AttentionKernel(manifest["causal"], 2)
    return np.stack([kernel.probs(queries[i], keys[i], scale(manifest, i)) for i in range(len(queries))])


def scale(manifest: dict, layer: int) -> float:
    """The manifest's q·kᵀ scale of `layer` (`qk_scales`: one per layer, or one for all)."""
    scales = manifest["qk_scales"] if isinstance(manifest["qk_scales"], list) else [manifest["qk_scales"]]
    return scales[layer if len(scales) > 1 else 0]
