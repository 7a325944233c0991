"""The lean attention graph of a BERT encoder (MiniLM): the same idea as lean_graph.py, bidirectional.

Inputs `input_ids`, `attention_mask`, `token_type_ids`; outputs `attentions.{i}`, `queries.{i}`,
`keys.{i}`, `value_norms.{i}` as in the generic graph. Per layer: q, k, v in one MatMul (+ bias),
ONNX `Attention` (opset 23, 3-D inputs, not causal, padding keys masked) whose 4th output is the
softmax probabilities, and the residual add + LayerNorm as com.microsoft `SkipLayerNormalization`
(it also adds the dense layer's bias). Word + token type + position embeddings are added and
normalised once; positions are the first T rows of the position table (BERT's own default).
The last layer's output projection and feed-forward block (no output needs them) are left out.
"""

from __future__ import annotations

from pathlib import Path

from onnx import TensorProto

from .lean_graph import BATCH, SEQ, LeanDecoder, Projections
from .onnx_builder import CONTRIB


class LeanEncoder(LeanDecoder):
    """BertModel → GraphBuilder; reuses the decoder's mask, value norms and output helpers."""

    def __init__(self, model, spec):
        super().__init__(model, spec)
        self.base = model  # BertModel: embeddings, encoder.layer

    def layer_norm(self, x: str, norm, name: str) -> str:
        g = self.g
        return g.op("LayerNormalization", [x, g.weight(f"{name}.weight", norm.weight), g.weight(f"{name}.bias", norm.bias)],
                    axis=-1, epsilon=float(norm.eps), name=name)  # fmt: skip

    def skip_layer_norm(self, x: str, residual: str, dense, norm, name: str) -> str:
        """LayerNorm(x·W + b + residual) with the MatMul outside and the bias, add and norm in one node."""
        g = self.g
        y = g.op("MatMul", [x, g.weight(f"{name}.dense.weight", dense.weight.detach().float().numpy().T)])
        return g.op(
            "SkipLayerNormalization",
            [y, residual, g.weight(f"{name}.weight", norm.weight), g.weight(f"{name}.beta", norm.bias),
             g.weight(f"{name}.dense.bias", dense.bias)],
            domain=CONTRIB, epsilon=float(norm.eps), name=name,
        )  # fmt: skip

    def build(self):
        g, spec, emb = self.g, self.spec, self.base.embeddings
        ids = g.add_input("input_ids", TensorProto.INT64, [BATCH, SEQ])
        self.attention_mask(g.add_input("attention_mask", TensorProto.INT64, [BATCH, SEQ]))
        types = g.add_input("token_type_ids", TensorProto.INT64, [BATCH, SEQ])
        seq_len = g.op("Shape", [ids], start=1, end=2)
        positions = g.op("Slice", [g.weight("embeddings.position.weight", emb.position_embeddings.weight),
                                   g.ints(0), seq_len, g.ints(0)])  # fmt: skip
        words = g.op("Gather", [g.weight("embeddings.word.weight", emb.word_embeddings.weight), ids])
        typed = g.op(
            "Gather", [g.weight("embeddings.token_type.weight", emb.token_type_embeddings.weight), types]
        )
        hidden = self.layer_norm(
            g.op("Add", [g.op("Add", [words, typed]), positions]), emb.LayerNorm, "embeddings.norm"
        )
        last = len(self.base.encoder.layer) - 1
        for i, layer in enumerate(self.base.encoder.layer):
            att = layer.attention
            attn = att.self
            projections = Projections(attn.query, attn.key, attn.value, att.output.dense, spec.head_dim**-0.5)
            context = self.attention(i, projections, hidden, causal=False)
            if i == last:
                break
            hidden = self.skip_layer_norm(
                context, hidden, att.output.dense, att.output.LayerNorm, f"layers.{i}.attn_norm"
            )
            inner = g.op("Gelu", [self.linear(hidden, f"layers.{i}.intermediate", layer.intermediate.dense)])
            hidden = self.skip_layer_norm(
                inner, hidden, layer.output.dense, layer.output.LayerNorm, f"layers.{i}.ffn_norm"
            )
        self.declare_outputs(len(self.base.encoder.layer))
        return g


def export_lean_encoder(model, spec, out_dir: Path) -> Path:
    """Write out_dir/model.onnx (the lean graph of a BertModel); returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.onnx"
    LeanEncoder(model, spec).build().save(path)
    return path
