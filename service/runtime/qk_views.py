"""Every view of a result that keeps queries and keys instead of T×T weights.

A model exported with q/k is served by a graph without `attentions.{i}` outputs (export/serve_graph.py):
its results hold each layer's queries [L, H, T, d], keys [L, KV, T, d] and value norms [L, H, T] in
float32 — O(L·H·T·d), ~47 MB at 512 SmolLM2 tokens, against 283 MB of float32 weights. Right after
the run, `summarize` adds what every grid request needs, computed by the attention kernel
(service/runtime/attention_kernel.py) one layer at a time: the thumbnails [L, H, t, t], the head
statistics' row values [L, H, T, 6] and each row's argmax key [L, H, T]. The rest is computed on
request from q and k: one head's matrix (`head`), every head's (`full`, short texts only), and the
thumbnails under value-norm weighting or with the first token hidden (`grid`). Each equals what the
graph's own weights give within 1e-5 (export/serve_verify.py, tests/service/test_qk_views.py).
"""

from __future__ import annotations

import numpy as np

from ..analysis.grid import cells as grid_cells
from ..analysis.head_analysis import stats_from_rows
from .attention_kernel import BLOCK_VALUES, AttentionKernel
from .manifest import Manifest

SUMMARY_KINDS = ("thumbs", "rows", "argmax")


class QkViews:
    """The kernel of one model (its causality, per-layer scales and grouped-query layout)."""

    def __init__(self, manifest: Manifest, threads: int):
        self.manifest = manifest
        self.kernel = AttentionKernel(manifest.causal, threads)

    def _qk(self, arrays: dict, layer: int, head: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        q, k = arrays["queries"][layer], arrays["keys"][layer]
        if head is None:
            return q, k
        kv = self.manifest.kv_head(head)
        return q[head:head + 1], k[kv:kv + 1]

    def _groups(self, arrays: dict):
        """(first layer, n, q [n·H, T, d], k [n·KV, T, d], scale) for consecutive layers stacked as one set
        of heads (query head l·H + h reads key head l·KV + h // (H / KV), as np.repeat lays them out): as
        many layers as keep a call within the kernel's BLOCK_VALUES weights where every layer has the same
        scale, else one layer at a time. Short texts take few, large calls (12 SmolLM2 tokens: 1 call
        instead of 30), long ones one layer at a time."""
        q, k = arrays["queries"], arrays["keys"]
        layers, heads, tokens = q.shape[:3]
        same = len(set(self.manifest.qk_scales)) == 1
        group = max(1, BLOCK_VALUES // (heads * tokens * tokens)) if same else 1
        for first in range(0, layers, group):
            n = min(group, layers - first)
            yield (first, n, q[first:first + n].reshape(n * heads, *q.shape[2:]),
                   k[first:first + n].reshape(n * k.shape[1], *k.shape[2:]), self.manifest.scale(first))

    def summarize(self, arrays: dict) -> dict[str, np.ndarray]:
        """{"thumbs" [L, H, t, t], "rows" [L, H, T, 6], "argmax" int32 [L, H, T]} of the raw weights."""
        heads, tokens = arrays["queries"].shape[1:3]
        thumbs, rows, argmax = [], [], []
        for _, n, q, k, scale in self._groups(arrays):
            th, r, am = self.kernel.summary(q, k, scale)
            thumbs.append(th.reshape(n, heads, *th.shape[1:])), rows.append(r.reshape(n, heads, *r.shape[1:]))
            argmax.append(am.astype(np.int32).reshape(n, heads, tokens))
        return {"thumbs": np.concatenate(thumbs), "rows": np.concatenate(rows), "argmax": np.concatenate(argmax)}

    def head(self, arrays: dict, layer: int, head: int) -> np.ndarray:
        """float32 [T, T]: softmax(q·kᵀ·scale + mask) of one head."""
        return self.kernel.probs(*self._qk(arrays, layer, head), self.manifest.scale(layer))[0]

    def full(self, arrays: dict) -> np.ndarray:
        """float32 [L, H, T, T]: every head's weights (for short texts: 4·L·H·T² bytes)."""
        heads = arrays["queries"].shape[1]
        return np.concatenate([p.reshape(n, heads, *p.shape[1:]) for _, n, q, k, scale in self._groups(arrays)
                               for p in [self.kernel.probs(q, k, scale)]])

    def grid(self, arrays: dict, weighting: str, hide_first: bool) -> tuple[np.ndarray, list[list[int]]]:
        """Thumbnails [L, H, t, t] and their cells, as analysis/weighting.py's `pooled` gives them."""
        tokens = arrays["queries"].shape[2]
        if weighting == "attention" and not hide_first:
            return arrays["thumbs"], grid_cells(tokens)
        norms = arrays["value_norms"] if weighting == "value_norm" else None
        thumbs = np.stack([self.kernel.thumbs(*self._qk(arrays, layer), self.manifest.scale(layer),
                                              None if norms is None else norms[layer], hide_first)
                           for layer in range(self.manifest.layers)])
        return thumbs, grid_cells(tokens)

    def stats(self, arrays: dict) -> dict:
        """The API's heads_stats (service/analysis/head_analysis.py) from the kept row values."""
        return stats_from_rows(arrays["rows"], arrays["argmax"], self.manifest.causal, arrays.get("value_norms"))
