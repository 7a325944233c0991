"""Attention weights from one layer's queries and keys, for results that keep no T×T matrix.

A result of a model exported with q/k holds each layer's queries, keys and value norms (O(L·H·T·d)),
never its T×T weights: those are one product away, softmax(q·kᵀ·scale + causal mask), verified at
export to equal the graph's own weights within 1e-5 (export/serve_verify.py). Small onnxruntime
graphs, built here on first use, run that product for one layer (or one head) at a time:

- `probs(q, k, scale)`: the weights [H, T, T] (a head's matrix, or every head of a layer);
- `summary(q, k, scale)`: the thumbnail [H, t, t], the per-row values the head statistics need
  [H, T, 6] and each row's argmax key [H, T] (service/runtime/attention_summary.py), of the raw weights;
- `thumbs(q, k, scale, weights, hide_first)`: the thumbnail of the weights multiplied per key by
  `weights` [H, T] (the value norms), key 0 dropped with `hide_first`, rows renormalised.

`summary` and `thumbs` run in blocks of query rows cut at thumbnail cell edges, each block against
only the keys its rows may see (causal models: keys up to the block's last row), so a causal text
costs ~60 % of its full T×T and no call holds more than ~BLOCK_VALUES weights (2,048 tokens: a
layer in 5 calls of 37 MB instead of one of 151 MB). onnxruntime runs them vectorised and
multi-threaded; numpy takes seconds for a 512-token text's 30 layers.
"""

from __future__ import annotations

import threading

import numpy as np

from ..analysis.grid import GRID_SIZE, cell_edges, cell_split
from ..analysis.head_analysis import ROWS  # the `rows` output's last axis, in order
from .attention_summary import MASKED, POOL_INPUTS, constants, pool_nodes, pool_shapes, row_nodes

PROBS, SUMMARY, THUMBS = "probs", "summary", "thumbs"
BLOCK_VALUES = 8 << 20  # weights per call (rows × keys × heads) above which the rows are split into blocks
MIN_BLOCK_ROWS = 64  # below this a block's call overhead outweighs the skipped keys


def _model(nodes: list, inputs: list, outputs: list, name: str) -> bytes:
    from onnx import helper

    graph = helper.make_graph(nodes, name, inputs, outputs, constants())
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="headgaze")
    model.ir_version = 9
    return model.SerializeToString()


def _graphs(causal: bool) -> dict[str, bytes]:
    """The kernel's three graphs, serialised: probs, summary and thumbs."""
    from onnx import TensorProto, helper

    f, i64, n = TensorProto.FLOAT, TensorProto.INT64, helper.make_node
    info = helper.make_tensor_value_info
    scores = [n("Mul", ["q", "scale"], ["q.scaled"]), n("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
              n("MatMul", ["q.scaled", "kt"], ["s.raw"])]
    inputs = [info("q", f, ["H", "R", "d"]), info("k", f, ["H", "K", "d"]), info("scale", f, [])]
    if causal:  # MASKED where key j > query row i + offset (the block's first row), built once as [R, K]
        inputs.append(info("offset", i64, []))
        scores += [n("Shape", ["s.raw"], ["rk"], start=-2),
                   n("ConstantOfShape", ["rk"], ["all.masked"], value=helper.make_tensor("v", f, [1], [MASKED])),
                   n("Add", ["offset", "sum.1"], ["diag.k"]), n("Squeeze", ["diag.k"], ["diag.k0"]),
                   n("Trilu", ["all.masked", "diag.k0"], ["mask"], upper=1), n("Add", ["s.raw", "mask"], ["s"])]
    else:
        scores.append(n("Identity", ["s.raw"], ["s"]))
    probs = [*scores, n("Softmax", ["s"], ["p"], axis=-1)]
    pools = [info(name, i64, [1 if name.endswith("split") else 4]) for name in POOL_INPUTS]
    out = {PROBS: _model(probs, inputs, [info("p", f, ["H", "R", "K"])], "headgaze_probs")}
    out[SUMMARY] = _model(
        probs + row_nodes("p", "s", rows="rows", argmax="argmax", tag="raw") + pool_nodes("p", "thumbs", "raw"),
        [*inputs, info("rowidx", i64, ["H", "R", 3]), *pools],
        [info("thumbs", f, ["H", "r", "k"]), info("rows", f, ["H", "R", len(ROWS)]), info("argmax", i64, ["H", "R", 1])],
        "headgaze_summary")
    reweigh = [
        n("Unsqueeze", ["weights", "sum.ax_m2"], ["w.row"]),  # [H, 1, K]: one factor per key
        n("Mul", ["p", "w.row"], ["pw"]),
        n("Mul", ["pw", "keep"], ["pk"]),  # keep [K]: 0 at key 0 with hide_first
        n("ReduceSum", ["pk", "sum.ax_last"], ["total"], keepdims=1),
        n("Div", ["pk", "total"], ["pn0"]),
        n("IsNaN", ["pn0"], ["nothing"]),  # 0 / 0: a row with nothing left is zeros
        n("Where", ["nothing", "zero", "pn0"], ["pn"]),
    ]
    out[THUMBS] = _model(probs + reweigh + pool_nodes("pn", "thumbs", "w"),
                         [*inputs, info("weights", f, ["H", "K"]), info("keep", f, ["K"]), info("zero", f, []), *pools],
                         [info("thumbs", f, ["H", "r", "k"])], "headgaze_thumbs")
    return out


def blocks(tokens: int, heads: int, causal: bool, size: int = GRID_SIZE) -> list[tuple[int, int]]:
    """Row blocks as (first cell, end cell) over the thumbnail's cells: each within BLOCK_VALUES weights
    (but at least one cell and MIN_BLOCK_ROWS rows), causal texts in ~4 blocks at least once long enough."""
    t, b, _ = cell_split(tokens, size)
    want = max(-(-tokens * tokens * heads // BLOCK_VALUES), 4 if causal else 1)
    per = max(-(-t // want), -(-MIN_BLOCK_ROWS // b), 1)
    return [(c, min(c + per, t)) for c in range(0, t, per)]


class AttentionKernel:
    """The graphs for one causality, each an onnxruntime session built on first use."""

    def __init__(self, causal: bool, threads: int):
        self.causal, self.threads = causal, threads
        self._sessions: dict | None = None
        self._lock = threading.Lock()

    def _session(self, name: str):
        if self._sessions is None:
            with self._lock:
                if self._sessions is None:
                    import onnxruntime as ort

                    from .providers import session_options

                    self._sessions = {kind: ort.InferenceSession(g, session_options(self.threads),
                                                                 providers=["CPUExecutionProvider"])
                                      for kind, g in _graphs(self.causal).items()}
        return self._sessions[name]

    def _feeds(self, q: np.ndarray, k: np.ndarray, scale: float, offset: int = 0) -> dict[str, np.ndarray]:
        if k.shape[0] != q.shape[0]:  # grouped-query attention: query head h reads key head h // (H / KV)
            k = np.repeat(k, q.shape[0] // k.shape[0], axis=0)
        feeds = {"q": np.ascontiguousarray(q, dtype=np.float32), "k": np.ascontiguousarray(k, dtype=np.float32),
                 "scale": np.asarray(scale, np.float32)}
        if self.causal:
            feeds["offset"] = np.asarray(offset, np.int64)
        return feeds

    def probs(self, q: np.ndarray, k: np.ndarray, scale: float) -> np.ndarray:
        """softmax(q·kᵀ·scale + mask) [H, T, T] for q [H, T, d] and k [KV, T, d]."""
        return self._session(PROBS).run(["p"], self._feeds(q, k, scale))[0]

    def _blocked(self, kind: str, q: np.ndarray, k: np.ndarray, scale: float, extra) -> list:
        """Run `kind` per row block; yields (block's first row, end row, first cell, end cell, outputs)."""
        heads, tokens = q.shape[0], q.shape[1]
        t, b, long = cell_split(tokens)
        edges = cell_edges(tokens)
        session = self._session(kind)
        names = [o.name for o in session.get_outputs()]
        out = []
        for c0, c1 in blocks(tokens, heads, self.causal):
            r0, r1 = int(edges[c0]), int(edges[c1])
            n_keys, key_cells = (r1, c1) if self.causal else (tokens, t)
            row_long = max(0, min(c1, long) - c0)
            feeds = self._feeds(q[:, r0:r1], k[:, :n_keys], scale, r0)
            feeds.update(pool_shapes(heads, (c1 - c0, b, row_long), (key_cells, b, min(key_cells, long)), n_keys))
            feeds.update(extra(r0, r1, n_keys))
            out.append((r0, r1, c0, c1, dict(zip(names, session.run(names, feeds), strict=True))))
        return out

    def summary(self, q: np.ndarray, k: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(thumbnails [H, t, t], row values [H, T, 6] in ROWS order, argmax [H, T]) of the raw weights."""
        heads, tokens = q.shape[0], q.shape[1]

        def rowidx(r0: int, r1: int, n_keys: int) -> dict:
            i = np.arange(r0, r1)
            idx = np.stack([i, np.maximum(i - 1, 0), np.minimum(i + 1, n_keys - 1)], axis=-1)
            return {"rowidx": np.ascontiguousarray(np.broadcast_to(idx, (heads, r1 - r0, 3)))}

        t = cell_split(tokens)[0]
        thumbs = np.zeros((heads, t, t), np.float32)
        rows = np.empty((heads, tokens, len(ROWS)), np.float32)
        argmax = np.empty((heads, tokens), np.int64)
        for r0, r1, c0, c1, got in self._blocked(SUMMARY, q, k, scale, rowidx):
            thumbs[:, c0:c1, :got["thumbs"].shape[-1]] = got["thumbs"]
            rows[:, r0:r1] = got["rows"]
            if self.causal and r1 < tokens:  # a causal block sees keys < r1: its last row's next key (r1) has weight 0
                rows[:, r1 - 1, ROWS.index("next")] = 0.0
            argmax[:, r0:r1] = got["argmax"][..., 0]
        return thumbs, rows, argmax

    def thumbs(self, q: np.ndarray, k: np.ndarray, scale: float, weights: np.ndarray | None,
               hide_first: bool) -> np.ndarray:
        """Thumbnails [H, t, t] of the weights times `weights` [H, T] per key (None: ones), key 0 dropped
        with `hide_first`, each row renormalised (a row with nothing left is zeros)."""
        heads, tokens = q.shape[0], q.shape[1]
        w = np.ones((heads, tokens), np.float32) if weights is None else np.asarray(weights, np.float32)
        keep = np.ones(tokens, np.float32)
        if hide_first:
            keep[0] = 0.0

        def extra(r0: int, r1: int, n_keys: int) -> dict:
            return {"weights": np.ascontiguousarray(w[:, :n_keys]), "keep": keep[:n_keys],
                    "zero": np.asarray(0.0, np.float32)}

        t = cell_split(tokens)[0]
        thumbs = np.zeros((heads, t, t), np.float32)
        for _, _, c0, c1, got in self._blocked(THUMBS, q, k, scale, extra):
            thumbs[:, c0:c1, :got["thumbs"].shape[-1]] = got["thumbs"]
        return thumbs
