"""The two graphs a causal LM with an LM head gets beside model.onnx: what the model says.

- `predictions.onnx` finishes the attention graph's forward when predictions are asked for. model.onnx
  stops after the last layer's attention and hands out `last_context` (that attention's context,
  before the output projection) and `last_residual` (the residual stream it is added to); this small
  graph runs the rest of the last layer, the final norm and the LM head, then log-softmax, top-k and
  the log-probability and rank of each position's actual next token, all in the graph. Measured: onnxruntime
  runs every node of a graph whatever outputs are fetched, so an LM head inside model.onnx would cost
  every request the vocabulary projection (~20 % of SmolLM2's weights); a separate graph costs
  nothing when predictions are not asked for.
- `decoder.onnx` generates: the whole decoder with a KV cache (`past_key.{i}`/`past_value.{i}` in,
  `present_key.{i}`/`present_value.{i}` out), the final norm and the LM head on the last position
  only (`logprobs` [B, 1, V]), and no attention outputs, so a new token costs one read of the weights.
  The mask is built from `position_ids`: query at position p sees keys 0..p where attention_mask is
  1 (no left padding: positions are key indices).

Both are built by the lean builder's own layer code (lean_graph.py), so they compute what model.onnx
and the reference compute; export/lm_verify.py proves it against PyTorch eager. decoder.onnx takes
the optional `head_mask` (knock-out) and also hands out the last layer's `last_context` and
`last_residual` of every position, so that a prefill under a mask feeds predictions.onnx. A lean decoder without an LM head gets
`hidden.onnx` instead (HiddenGraph: the final hidden states, what a knock-out is measured on there).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import TensorProto

from .lean_graph import BATCH, SEQ, LeanDecoder, Projections

PREDICTIONS_FILE = "predictions.onnx"
DECODER_FILE = "decoder.onnx"
HIDDEN_FILE = "hidden.onnx"
MAX_TOP_K = 20
FEEDS = ("last_context", "last_residual")  # model.onnx's outputs that predictions.onnx reads
WRITES_K = 10  # promoted and suppressed tokens of a head's writes
PAST, TOTAL = "past_sequence_length", "total_sequence_length"


def lm_head_weight(model) -> np.ndarray:
    """The unembedding [hidden, vocab] (a copy of the tied embedding where the model ties them)."""
    return model.lm_head.weight.detach().float().numpy().T


def logits_divisor(model) -> float:
    """granite divides its logits by `logits_scaling`; every other lean family by 1."""
    config = model.config
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    return float(getattr(text, "logits_scaling", 1.0) or 1.0)


class LmGraph(LeanDecoder):
    """Shared by both graphs: the final norm, then the LM head's log-probabilities."""

    def final_norm(self, hidden: str, branch: str | None) -> str:
        if branch is None:
            return self.rms(hidden, self.base.norm, "final_norm")
        return self.skip_rms(branch, hidden, self.base.norm, "final_norm")[0]

    def log_probs(self, normed: str) -> str:
        g = self.g
        logits = g.op(
            "MatMul", [normed, g.weight("lm_head.weight", lm_head_weight(self.model))], name="lm_head"
        )
        logits = self.scaled(logits, 1.0 / logits_divisor(self.model))
        return g.op("LogSoftmax", [logits], axis=-1, name="log_softmax")


class DecoderGraph(LmGraph):
    """decoder.onnx: every layer in full, with a KV cache, and the next token's log-probabilities."""

    KEYS = TOTAL
    FULL_DEPTH = True
    MASKED = True

    def attention_mask(self, mask: str) -> None:
        """[B, 1, T, P+T]: key j is seen from position p where j <= p and attention_mask[b, j] = 1."""
        g = self.g
        keys_ok = g.op("Unsqueeze", [g.op("Cast", [mask], to=TensorProto.BOOL), g.ints(1, 2)])
        total = g.op("Squeeze", [g.op("Shape", [mask], start=1, end=2), g.ints(0)])
        zero, one = (g.weight(f"const.range.{n}", np.array(n, np.int64)) for n in (0, 1))
        key_index = g.op("Reshape", [g.op("Range", [zero, total, one]), g.ints(1, 1, 1, -1)])
        seen = g.op("LessOrEqual", [key_index, g.op("Unsqueeze", [self.positions, g.ints(1, 3)])])
        self.mask = g.op("And", [seen, keys_ok], name="decoder_mask_4d")

    def build(self):
        for i in range(len(self.base.layers)):
            for kind in ("past_key", "past_value"):
                self.g.add_input(f"{kind}.{i}", TensorProto.FLOAT,
                                 [BATCH, self.spec.kv_heads, PAST, self.spec.head_dim])  # fmt: skip
        return super().build()

    def attend(self, i: int, p: Projections, q: str, k: str, v: str) -> str:
        g, spec = self.g, self.spec
        context, _, _ = g.op(
            "Attention",
            [q, k, v, self.mask, f"past_key.{i}", f"past_value.{i}"],
            outputs=[f"layers.{i}.attn.context", f"present_key.{i}", f"present_value.{i}"],
            scale=p.scale,
            q_num_heads=spec.heads,
            kv_num_heads=spec.kv_heads,
            name=f"layers.{i}.attn",
        )
        return context

    def last_feeds(self, context: str, residual: str) -> None:
        """last_context / last_residual of every position, as model.onnx hands them out, but under the
        head_mask: predictions.onnx turns them into a knock-out's predictions (a prefill with no past)."""
        for name, tensor, width in (("last_context", context, self.spec.heads * self.spec.head_dim),
                                    ("last_residual", residual, self.base.embed_tokens.embedding_dim)):  # fmt: skip
            self.g.op("Identity", [tensor], outputs=[name])
            self.g.add_output(name, [BATCH, SEQ, width])

    def finish(self, hidden: str, branch: str | None) -> None:
        g, spec = self.g, self.spec
        last = g.op("Gather", [self.final_norm(hidden, branch), g.weight("const.last", np.array(-1, np.int64))],
                    axis=1)  # fmt: skip
        g.op("Identity", [self.log_probs(last)], outputs=["logprobs"])
        g.add_output("logprobs", [BATCH, 1, "vocab"])
        for i in range(len(self.base.layers)):
            for kind in ("present_key", "present_value"):
                g.add_output(f"{kind}.{i}", [BATCH, spec.kv_heads, TOTAL, spec.head_dim])


class PredictionsGraph(LmGraph):
    """predictions.onnx: from the attention graph's last_context/last_residual to the top-k."""

    def build(self):
        g, spec = self.g, self.spec
        hidden_size = self.base.embed_tokens.embedding_dim
        context = g.add_input("last_context", TensorProto.FLOAT, [BATCH, SEQ, spec.heads * spec.head_dim])
        residual = g.add_input("last_residual", TensorProto.FLOAT, [BATCH, SEQ, hidden_size])
        ids = g.add_input("input_ids", TensorProto.INT64, [BATCH, SEQ])
        k = g.add_input("top_k", TensorProto.INT64, [1])
        last = len(self.base.layers) - 1
        hidden, branch = self.layer_output(last, self.base.layers[last], context, residual)
        final = hidden if branch is None else g.op("Add", [hidden, branch])  # the final norm's input
        self.inverse_rms(final)
        logprobs = self.log_probs(self.final_norm(hidden, branch))  # [B, T, V]
        g.op("TopK", [logprobs, k], outputs=["top_logprobs", "top_ids"], axis=-1, largest=1, sorted=1)
        # the id after each position (the last position reads its own id: its value means nothing)
        following = g.op("Concat", [g.op("Slice", [ids, g.ints(1), g.ints(1 << 62), g.ints(1)]),
                                    g.op("Slice", [ids, g.ints(-1), g.ints(1 << 62), g.ints(1)])], axis=1)  # fmt: skip
        picked = g.op("GatherElements", [logprobs, g.op("Unsqueeze", [following, g.ints(-1)])], axis=-1)
        g.op("Squeeze", [picked, g.ints(-1)], outputs=["next_logprob"])
        # its rank: 1 + how many tokens the model finds more likely
        above = g.op("Cast", [g.op("Greater", [logprobs, picked])], to=TensorProto.INT64)
        rank = g.op("ReduceSum", [above, g.ints(-1)], keepdims=0)
        g.op("Add", [rank, g.weight("const.one", np.array(1, np.int64))], outputs=["next_rank"])
        g.add_output("next_logprob", [BATCH, SEQ])
        g.add_output("next_rank", [BATCH, SEQ], TensorProto.INT64)
        g.add_output("top_logprobs", [BATCH, SEQ, "top_k"])
        g.add_output("top_ids", [BATCH, SEQ, "top_k"], TensorProto.INT64)
        if self.writes:
            self.writes_path()
        return g

    @property
    def writes(self) -> bool:
        """Direct logit attribution needs a head's output to reach the final norm untouched: pre-norm only."""
        return not self.spec.post_norm

    def inverse_rms(self, final: str) -> None:
        """final_inv_rms [B, T]: 1 / rms of the final norm's input at each position (what writes read)."""
        g = self.g
        mean = g.op("ReduceMean", [g.op("Mul", [final, final]), g.ints(-1)], keepdims=0)
        eps = g.scalar(float(getattr(self.base.norm, "variance_epsilon", None) or self.base.norm.eps))
        g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [mean, eps])])], outputs=["final_inv_rms"])
        g.add_output("final_inv_rms", [BATCH, SEQ])

    def writes_path(self) -> None:
        """What a head writes into the vocabulary (direct logit attribution): `head_context` [N, d] (the
        head's attention-weighted values at N queries), `head_index` [1] (layer * heads + head) and
        `inv_rms` [N] (final_inv_rms of the clean run at those queries) in; the head's output
        context · W_O^h, through the final norm at that fixed scale and the LM head, raw and uncentred,
        and its `writes_k` largest (promoted) and smallest (suppressed) logits out. Fed empty, it costs
        nothing, and the predictions above are fed empty when it runs."""
        g, spec = self.g, self.spec
        d, hidden = spec.head_dim, self.base.embed_tokens.embedding_dim
        ctx = g.add_input("head_context", TensorProto.FLOAT, ["queries", d])
        index = g.add_input("head_index", TensorProto.INT64, [1])
        scale = g.add_input("inv_rms", TensorProto.FLOAT, ["queries"])
        k = g.add_input("writes_k", TensorProto.INT64, [1])
        w_o = np.stack([layer.self_attn.o_proj.weight.detach().float().numpy().T.reshape(spec.heads, d, hidden)
                        for layer in self.base.layers]).reshape(-1, d, hidden)  # [L*H, d, D]  # fmt: skip
        w_h = g.op("Squeeze", [g.op("Gather", [g.weight("writes.w_o", w_o), index], axis=0), g.ints(0)])
        out = self.scaled(g.op("MatMul", [ctx, w_h]), spec.residual_multiplier)  # [N, D]: what the head adds
        normed = g.op("Mul", [g.op("Mul", [out, g.op("Unsqueeze", [scale, g.ints(-1)])]),
                              g.weight("writes.final_norm", self.base.norm.weight)])  # fmt: skip
        logits = g.op("MatMul", [normed, "lm_head.weight"], name="writes.lm_head")
        logits = self.scaled(logits, 1.0 / logits_divisor(self.model))
        g.op("TopK", [logits, k], outputs=["promoted_scores", "promoted_ids"], axis=-1, largest=1, sorted=1)
        g.op(
            "TopK", [logits, k], outputs=["suppressed_scores", "suppressed_ids"], axis=-1, largest=0, sorted=1
        )
        for name, kind in (("promoted", TensorProto.FLOAT), ("suppressed", TensorProto.FLOAT)):
            g.add_output(f"{name}_scores", ["queries", "writes_k"], kind)
            g.add_output(f"{name}_ids", ["queries", "writes_k"], TensorProto.INT64)


class HiddenGraph(LmGraph):
    """hidden.onnx for a lean decoder without an LM head: every layer, the final norm, the final
    hidden state of every token (`last_hidden_state`), no attention outputs; takes `head_mask`."""

    FULL_DEPTH = True
    MASKED = True

    def attend(self, i: int, p: Projections, q: str, k: str, v: str) -> str:
        spec = self.spec
        return self.g.op(
            "Attention",
            [q, k, v, self.mask],
            outputs=[f"layers.{i}.attn.context"],
            is_causal=1,
            scale=p.scale,
            q_num_heads=spec.heads,
            kv_num_heads=spec.kv_heads,
            name=f"layers.{i}.attn",
        )

    def finish(self, hidden: str, branch: str | None) -> None:
        self.g.op("Identity", [self.final_norm(hidden, branch)], outputs=["last_hidden_state"])
        self.g.add_output("last_hidden_state", [BATCH, SEQ, self.base.embed_tokens.embedding_dim])


def export_hidden_graph(model, spec, out_dir: Path) -> Path:
    """out_dir/hidden.onnx (HiddenGraph)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / HIDDEN_FILE
    HiddenGraph(model, spec, "headgaze_hidden").build().save(path)
    return path


def export_lm_graphs(model, spec, out_dir: Path) -> dict[str, Path]:
    """predictions.onnx and decoder.onnx in out_dir; {"predictions": path, "decoder": path}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"predictions": out_dir / PREDICTIONS_FILE, "decoder": out_dir / DECODER_FILE}
    PredictionsGraph(model, spec, "headgaze_predictions").build().save(paths["predictions"])
    DecoderGraph(model, spec, "headgaze_decoder").build().save(paths["decoder"])
    return paths
