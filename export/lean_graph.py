"""The lean attention graph: a Llama-like decoder rebuilt in ONNX from its own weights.

Same inputs (`input_ids`, `attention_mask`, `position_ids`) and outputs (`attentions.{i}`,
`queries.{i}`, `keys.{i}`, `value_norms.{i}`) as the generic optimum graph, but built node by node
so that nothing is computed at run time that the weights already fix:
- no shape arithmetic: every Reshape uses constant shapes (0 = keep that axis), the mask is built
  once for all layers (padding keys masked, `is_causal` on the Attention node);
- q, k and v come out of ONE MatMul over the concatenated projections (gate and up likewise);
- RMSNorm and the residual add that precedes it are one com.microsoft
  `SkipSimplifiedLayerNormalization` (pre-norm families);
- rotary embedding is ONNX `RotaryEmbedding` (opset 23) reading a cos/sin cache with one row per
  position the model supports (`max_position_embeddings`), taken from the model's own rotary module
  (so rope scaling is whatever transformers computes);
- attention is ONNX `Attention` (opset 23) on 3-D [B, T, heads*d] inputs with
  `qk_matmul_output_mode = 3`: its 4th output is the softmax probabilities, i.e. `attentions.{i}`;
  grouped-query heads are handled by the operator, no `repeat_kv` copy; its present key and value
  outputs are k and v as [B, kv_heads, T, d]: `keys.{i}` and the value norms' input, with no
  Reshape + Transpose of our own; only q is transposed to [B, heads, T, d], for its own output;
- what no output needs is left out: the last layer's output projection and MLP, the final norm and
  the LM head;
- the full-depth graphs built from it (decoder.onnx, hidden.onnx: lean_lm.py) take an optional
  input `head_mask` [layers, heads] (an initializer of ones when not fed) that multiplies each
  head's context before the output projection: 0 knocks the head out, 1 is bit-identical to no
  mask. model.onnx does not: one Mul per layer cost its 12-token run 2-5 % (measured), and the
  views never need attentions under a knock-out.

Which models qualify is decided in lean_choice.py; the export's verification proves the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from onnx import TensorProto
from torch import nn

from .onnx_builder import CONTRIB, GraphBuilder
from .qk_capture import value_factor

BATCH, SEQ = "batch_size", "sequence_length"
HEAD_MASK = "head_mask"  # optional input [layers, heads]: 1 keeps a head, 0 knocks it out


def decoder_base(model):
    """The module that holds embed_tokens, layers and rotary_emb (LlamaModel inside LlamaForCausalLM)."""
    inner = getattr(model, "model", None)
    return inner if inner is not None and hasattr(inner, "layers") else model


def rotary_cache(base, head_dim: int, positions: int) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin [positions, head_dim / 2] from the model's rotary module (non-interleaved halves)."""
    with torch.no_grad():
        cos, sin = base.rotary_emb(torch.zeros(1), torch.arange(positions)[None])
    cos, sin = cos[0].float().numpy(), sin[0].float().numpy()
    half = head_dim // 2
    if cos.shape != (positions, head_dim) or not (
        np.array_equal(cos[:, :half], cos[:, half:]) and np.array_equal(sin[:, :half], sin[:, half:])
    ):
        raise ValueError(f"rotary cache of shape {cos.shape} is not rotate-half over head_dim {head_dim}")
    return cos[:, :half], sin[:, :half]


@dataclass(frozen=True)
class Projections:
    """One layer's attention as the graph needs it, whatever the family names its modules."""

    q: nn.Linear
    k: nn.Linear
    v: nn.Linear
    o: nn.Linear  # W_O, for the value norms
    scale: float
    rotate: bool = False
    q_norm: nn.Module | None = None
    k_norm: nn.Module | None = None

    @classmethod
    def of(cls, attn) -> Projections:
        """A Llama-like attention module (q_proj, k_proj, v_proj, o_proj, scaling, maybe q_norm/k_norm)."""
        return cls(attn.q_proj, attn.k_proj, attn.v_proj, attn.o_proj, float(attn.scaling),
                   bool(getattr(attn, "use_rope", True)),  # smollm3 leaves rotary out of some layers
                   getattr(attn, "q_norm", None), getattr(attn, "k_norm", None))  # fmt: skip


def _eps(norm) -> float:
    return float(getattr(norm, "variance_epsilon", None) or norm.eps)


def _linear_weights(*linears) -> tuple[np.ndarray, np.ndarray | None]:
    """[in, sum(out)] weight and the concatenated bias (zeros where a projection has none), or None."""
    weight = np.concatenate([lin.weight.detach().float().numpy().T for lin in linears], axis=1)
    if all(lin.bias is None for lin in linears):
        return weight, None
    bias = np.concatenate(
        [
            lin.bias.detach().float().numpy()
            if lin.bias is not None
            else np.zeros(lin.out_features, np.float32)
            for lin in linears
        ]
    )
    return weight, bias


class LeanDecoder:
    """Writes one decoder into a GraphBuilder; `build()` returns the builder."""

    KEYS = SEQ  # the attention mask's length (the decoder graph's covers past + new tokens)
    FULL_DEPTH = False  # the attention graph leaves out what no output needs (see the module docstring)
    MASKED = False  # takes head_mask: the full-depth graphs do (lean_lm.py); model.onnx does not (its speed)

    def __init__(self, model, spec, name: str = "headgaze_lean"):
        self.model = model
        self.base = decoder_base(model)
        self.spec = spec
        self.lm_head = getattr(model, "lm_head", None) is not None
        self.g = GraphBuilder(name)
        self.queries: list[str] = []  # each layer's rotated q [B, T, H*d], for stacked_queries()
        self.values: list[str] = []  # each layer's v [B, KV, T, d], for stacked_value_norms()
        self.factors: list[np.ndarray] = []  # each layer's value-norm factors [H, d, d]

    def linear(self, x: str, name: str, *linears) -> str:
        weight, bias = _linear_weights(*linears)
        y = self.g.op("MatMul", [x, self.g.weight(f"{name}.weight", weight)], name=name)
        return self.g.op("Add", [y, self.g.weight(f"{name}.bias", bias)]) if bias is not None else y

    def rms(self, x: str, norm, name: str) -> str:
        return self.g.op(
            "SimplifiedLayerNormalization",
            [x, self.g.weight(f"{name}.weight", norm.weight)],
            axis=-1,
            epsilon=_eps(norm),
            stash_type=1,
            name=name,
        )

    def skip_rms(self, branch: str, residual: str, norm, name: str) -> tuple[str, str]:
        """(rms(residual + branch), residual + branch) in one node."""
        normed, _, _, total = self.g.op(
            "SkipSimplifiedLayerNormalization",
            [branch, residual, self.g.weight(f"{name}.weight", norm.weight)],
            outputs=[f"{name}.out", "", "", f"{name}.sum"],
            domain=CONTRIB,
            epsilon=_eps(norm),
            name=name,
        )
        return normed, total

    def scaled(self, x: str, factor: float) -> str:
        if factor == 1.0:
            return x
        return self.g.op("Mul", [x, self.g.scalar(factor)])

    def attention_mask(self, mask: str) -> None:
        """self.mask [B, 1, T, T] (key j allowed where attention_mask[b, j] = 1; causality comes from
        the Attention node's is_causal), computed once for all layers."""
        g = self.g
        keys_ok = g.op("Unsqueeze", [g.op("Cast", [mask], to=TensorProto.BOOL), g.ints(1, 2)])
        rows = g.op("Unsqueeze", [g.op("GreaterOrEqual", [mask, g.weight("const.zero", np.array(0, np.int64))]),
                                  g.ints(1, 3)])  # fmt: skip
        self.mask = g.op("And", [rows, keys_ok], name="attention_mask_4d")

    def declare_outputs(self, layers: int) -> None:
        """attentions.*, queries.*, keys.*, value_norms.*: the generic graph's outputs, in its order."""
        heads, kv_heads, dim = self.spec.heads, self.spec.kv_heads, self.spec.head_dim
        shapes = {"attentions": [BATCH, heads, SEQ, SEQ], "queries": [BATCH, heads, SEQ, dim],
                  "keys": [BATCH, kv_heads, SEQ, dim], "value_norms": [BATCH, heads, SEQ]}  # fmt: skip
        for kind, shape in shapes.items():
            for i in range(layers):
                self.g.add_output(f"{kind}.{i}", shape)

    def build(self) -> GraphBuilder:
        g, spec = self.g, self.spec
        ids = g.add_input("input_ids", TensorProto.INT64, [BATCH, SEQ])
        mask = g.add_input("attention_mask", TensorProto.INT64, [BATCH, self.KEYS])
        self.positions = g.add_input("position_ids", TensorProto.INT64, [BATCH, SEQ])
        self.attention_mask(mask)
        self.head_masks = self.head_mask_rows(len(self.base.layers)) if self.MASKED else None
        cos, sin = rotary_cache(self.base, spec.head_dim, spec.max_positions)
        self.cos, self.sin = g.weight("rotary.cos", cos), g.weight("rotary.sin", sin)

        hidden = g.op("Gather", [g.weight("embed_tokens.weight", self.base.embed_tokens.weight), ids])
        hidden = self.scaled(hidden, spec.embedding_multiplier)
        branch = None  # pre-norm: the previous layer's MLP output, not yet added to `hidden`
        last = len(self.base.layers) - 1
        for i, layer in enumerate(self.base.layers):
            x, hidden = self.layer_input(i, layer, hidden, branch)
            context = self.attention(i, Projections.of(layer.self_attn), x)
            if i == last and not self.FULL_DEPTH:
                self.last_layer(context, hidden)
                break
            if i == last:
                self.last_feeds(context, hidden)
            hidden, branch = self.layer_output(i, layer, context, hidden)
        self.finish(hidden, branch)
        return g

    def last_layer(self, context: str, residual: str) -> None:
        """The attention graph stops after the last layer's attention: its queries, keys and value
        norms are stacked into outputs; for a model with an LM head the context and the residual go
        out too, so that predictions.onnx (lean_lm.py) can finish the forward when asked for."""
        self.stacked_queries()
        self.stacked_value_norms()
        self.declare_outputs(len(self.base.layers))
        if self.lm_head:
            for i in range(
                len(self.base.layers)
            ):  # each layer's context: what a head writes (predictions.onnx)
                self.g.add_output(f"contexts.{i}", [BATCH, SEQ, self.spec.heads * self.spec.head_dim])
            self.g.op("Identity", [context], outputs=["last_context"])
            self.g.op("Identity", [residual], outputs=["last_residual"])
            self.g.add_output("last_context", [BATCH, SEQ, self.spec.heads * self.spec.head_dim])
            self.g.add_output("last_residual", [BATCH, SEQ, self.base.embed_tokens.embedding_dim])

    def finish(self, hidden: str, branch: str | None) -> None:
        """Full-depth graphs (lean_lm.py) end with the final norm and the LM head."""

    def last_feeds(self, context: str, residual: str) -> None:
        """Full-depth graphs: the last layer's context and the residual it is added to, if they hand
        them out (decoder.onnx, for a knock-out's predictions)."""

    def layer_input(self, i: int, layer, hidden: str, branch: str | None) -> tuple[str, str]:
        """(what the attention reads, the residual stream): pre-norm folds the pending MLP add into
        the input norm; post-norm (olmo2) attends to the residual itself."""
        if self.spec.post_norm:
            return hidden, hidden
        if branch is None:
            return self.rms(hidden, layer.input_layernorm, f"layers.{i}.input_norm"), hidden
        return self.skip_rms(branch, hidden, layer.input_layernorm, f"layers.{i}.input_norm")

    def layer_output(self, i: int, layer, context: str, hidden: str) -> tuple[str, str | None]:
        """The rest of layer i after its attention: (residual, pending MLP branch or None)."""
        g, spec = self.g, self.spec
        attn_out = self.linear(context, f"layers.{i}.o_proj", layer.self_attn.o_proj)
        if spec.post_norm:  # olmo2: h = h + norm(attn(h)); h = h + norm(mlp(h))
            hidden = g.op(
                "Add",
                [hidden, self.rms(attn_out, layer.post_attention_layernorm, f"layers.{i}.post_attn_norm")],
            )
            normed = self.rms(self.mlp(i, layer.mlp, hidden), layer.post_feedforward_layernorm,
                              f"layers.{i}.post_ff_norm")  # fmt: skip
            return g.op("Add", [hidden, normed]), None
        x, hidden = self.skip_rms(self.scaled(attn_out, spec.residual_multiplier), hidden,
                                  layer.post_attention_layernorm, f"layers.{i}.post_attn_norm")  # fmt: skip
        return hidden, self.scaled(self.mlp(i, layer.mlp, x), spec.residual_multiplier)

    def rotated(self, x: str, heads: int, norm, name: str, rotate: bool) -> str:
        """[B, T, heads*d] (+ per-head RMSNorm, qwen3) (+ rotary embedding), still [B, T, heads*d]."""
        g, dim = self.g, self.spec.head_dim
        if norm is not None:  # RMSNorm over each head's d values, before the rotary embedding
            per_head = self.rms(g.op("Reshape", [x, g.ints(0, 0, heads, dim)]), norm, name)
            x = g.op("Reshape", [per_head, g.ints(0, 0, heads * dim)])
        if not rotate:
            return x
        return g.op("RotaryEmbedding", [x, self.cos, self.sin, self.positions], num_heads=heads)

    def attention(self, i: int, p: Projections, x: str) -> str:
        """One layer's attention on [B, T, heads*d] tensors (3-D inputs: no transposes on the way in or
        out); writes attentions.{i}, queries.{i}, keys.{i}, value_norms.{i}; returns the context
        [B, T, heads*d] before the output projection."""
        g, spec = self.g, self.spec
        heads, kv_heads, dim = spec.heads, spec.kv_heads, spec.head_dim
        qkv = self.linear(x, f"layers.{i}.qkv", p.q, p.k, p.v)
        q, k, v = g.op("Split", [qkv, g.ints(heads * dim, kv_heads * dim, kv_heads * dim)], n_out=3, axis=-1)
        if spec.qk_norm == "full":  # olmo2: RMSNorm over the whole projection, before splitting heads
            q = self.rms(q, p.q_norm, f"layers.{i}.q_norm")
            k = self.rms(k, p.k_norm, f"layers.{i}.k_norm")
        per_head = spec.qk_norm == "head"
        q = self.rotated(q, heads, p.q_norm if per_head else None, f"layers.{i}.q_norm", p.rotate)
        k = self.rotated(k, kv_heads, p.k_norm if per_head else None, f"layers.{i}.k_norm", p.rotate)
        self.queries.append(q)
        context = self.attend(i, p, q, k, v)
        if self.head_masks is None:
            return context
        # knock-out: each head's context times its head_mask entry (1 by default: bit-identical)
        return g.op("Mul", [context, self.head_masks[i]], name=f"layers.{i}.head_mask")

    def head_mask_rows(self, layers: int) -> list[str]:
        """The optional input `head_mask` [layers, heads] (1 keeps a head, 0 removes its output before
        the output projection; an initializer of ones when not fed) as one [1, heads*d] row per layer,
        each head's entry repeated over its d context values: 4 nodes for all layers."""
        g, heads, dim = self.g, self.spec.heads, self.spec.head_dim
        g.add_input(HEAD_MASK, TensorProto.FLOAT, [layers, heads])
        g.weight(HEAD_MASK, np.ones((layers, heads), np.float32))  # the default: an input with an initializer
        ones = g.weight("head_mask.ones", np.ones((1, 1, dim), np.float32))  # broadcast, not Expand
        per_value = g.op("Mul", [g.op("Unsqueeze", [HEAD_MASK, g.ints(2)]), ones])
        rows = g.op("Reshape", [per_value, g.ints(layers, heads * dim)])
        out = g.op(
            "Split", [rows], axis=0, num_outputs=layers, outputs=[f"head_mask.{i}" for i in range(layers)]
        )
        return [out] if isinstance(out, str) else out

    def attend(self, i: int, p: Projections, q: str, k: str, v: str) -> str:
        """The Attention node of layer i; returns its context [B, T, heads*d]."""
        g, spec = self.g, self.spec
        # the 2nd and 3rd outputs (present key and value, no past given) are k and v as [B, kv_heads, T, d]:
        # keys.{i} as the graph wants it and the values in the layout the value norms need, without a
        # Reshape + Transpose of our own (onnxruntime lays them out for its kernel anyway).
        # The 4th output (qk_matmul_output_mode 3) is softmax(q·kᵀ·scale + mask), written straight to the
        # graph output: onnxruntime 1.31 infers its last axis as 0 and warns about it on every run at
        # the default log level (the service logs errors only); an extra Reshape to silence it made
        # onnxruntime keep a second copy of every layer's probabilities (+350 MB at 512 tokens)
        context, _, values, _ = g.op(
            "Attention",
            [q, k, v, self.mask],
            outputs=[
                f"contexts.{i}" if self.lm_head else f"layers.{i}.attn.context",
                f"keys.{i}",
                f"layers.{i}.attn.values",
                f"attentions.{i}",
            ],  # fmt: skip
            is_causal=1,
            scale=p.scale,
            qk_matmul_output_mode=3,
            q_num_heads=spec.heads,
            kv_num_heads=spec.kv_heads,
            name=f"layers.{i}.attn",
        )
        self.values.append(values)
        self.factors.append(value_factor(p.o.weight, spec.heads).numpy())
        return context

    def stacked_queries(self) -> None:
        """queries.{i} [B, H, T, d] for all layers at once: the rotated q of every layer stacked along
        the token axis, one Reshape + Transpose, split back per layer (4 nodes, not 2 per layer)."""
        g, heads, layers = self.g, self.spec.heads, len(self.queries)
        stacked = g.op("Concat", self.queries, axis=1)  # [B, L*T, H*d]
        per_head = g.op("Reshape", [stacked, g.ints(0, 0, heads, self.spec.head_dim)])
        g.op("Split", [g.op("Transpose", [per_head], perm=[0, 2, 1, 3])], axis=2, num_outputs=layers,
             outputs=[f"queries.{i}" for i in range(layers)])  # fmt: skip

    def stacked_value_norms(self) -> None:
        """value_norms.{i} = ‖v_j W_O^h‖ = ‖v_j R_hᵀ‖ (W_O^h = Q R) for all layers at once: the values
        [B, KV, T, d] of every layer stacked as [B, KV, L, T, d], one broadcast MatMul by the factors
        [KV, L, d, H/KV*d] (grouped-query head h = kv*(H/KV) + r reads kv head kv), ReduceL2 over
        each head's d, [B, H, L*T], split back per layer (8 nodes, not 4 per layer)."""
        g, spec, layers = self.g, self.spec, len(self.values)
        heads, kv_heads, dim = spec.heads, spec.kv_heads, spec.head_dim
        group = heads // kv_heads
        factors = np.stack([f.reshape(kv_heads, group, dim, dim).transpose(0, 2, 1, 3).reshape(kv_heads, dim, -1)
                            for f in self.factors], axis=1)  # fmt: skip
        stacked = g.op("Reshape", [g.op("Concat", self.values, axis=2), g.ints(0, 0, layers, -1, dim)])
        # [B, KV, L, T, d] @ [KV, L, d, group*d] → [B, KV, L, T, group*d]
        per_head = g.op("MatMul", [stacked, g.weight("value_norm_factors", factors)])
        norms = g.op("ReduceL2", [g.op("Reshape", [per_head, g.ints(0, 0, 0, 0, group, dim)]), g.ints(-1)],
                     keepdims=0)  # fmt: skip
        by_head = g.op("Reshape", [g.op("Transpose", [norms], perm=[0, 1, 4, 2, 3]), g.ints(0, heads, -1)])
        g.op(
            "Split",
            [by_head],
            axis=-1,
            num_outputs=layers,
            outputs=[f"value_norms.{i}" for i in range(layers)],
        )

    def mlp(self, i: int, mlp, x: str) -> str:
        g = self.g
        gate, up = g.op("Split", [self.linear(x, f"layers.{i}.gate_up", mlp.gate_proj, mlp.up_proj),
                                  g.ints(mlp.gate_proj.out_features, mlp.up_proj.out_features)], n_out=2, axis=-1)  # fmt: skip
        act = g.op("Mul", [gate, g.op("Sigmoid", [gate])])  # SiLU
        return self.linear(g.op("Mul", [act, up]), f"layers.{i}.down_proj", mlp.down_proj)


def export_lean(model, spec, out_dir: Path) -> Path:
    """Write out_dir/model.onnx (the lean graph of `model`); returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.onnx"
    LeanDecoder(model, spec).build().save(path)
    return path
