"""Record what each attention head really used: queries, keys and value-output norms.

Per layer, next to `attentions.{i}`, the exported graph gains
- `queries.{i}` `[batch, heads, T, head_dim]` and `keys.{i}` `[batch, kv_heads, T, head_dim]`,
  exactly as the attention multiplied them (after the rotary embedding where there is one, not
  yet multiplied by the scale);
- `value_norms.{i}` `[batch, heads, T]` = ‖v_j W_O^h‖: token j's value vector for head h (for
  grouped-query models the kv head that query head h reads) times that head's slice of the
  output projection, W_O[:, h·d:(h+1)·d] (Kobayashi et al. 2020, "Attention is not only a weight").

Two routes, both inside the exported graph:
- models whose attention goes through transformers' AttentionInterface run under our own
  attention name (`headgaze_qk`), which calls the model's own `eager_attention_forward`
  unchanged and records q, k, v on the side. The name is also registered as a mask function
  (delegating to the eager one): transformers builds *no* causal mask for an unknown name;
- BERT-family self-attention (not on the interface in transformers 4.57): forward hooks on its
  query/key/value Linear layers; there is no rotary embedding, so their split heads are q and k.

Where neither route fits (fused qkv projections, logit soft-capping, relative position terms),
`qk_support()` says why and the model is exported with its attentions alone (`"qk": false`).
"""

from __future__ import annotations

import functools
import sys
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

ATTN_NAME = "headgaze_qk"
QK_OUTPUTS = ("queries", "keys", "value_norms")
OUTPUT_PROJECTIONS = ("o_proj", "out_proj", "dense")
_ACTIVE: list[Recorder] = []  # the recorder of the forward pass running now (innermost last)


@dataclass
class AttentionParts:
    """One layer's attention, as the capture and the verification need it."""

    module: nn.Module  # the module whose forward runs this layer's attention
    q: nn.Linear
    k: nn.Linear
    v: nn.Linear
    o: nn.Linear  # output projection: W_O, [hidden, heads * head_dim]
    q_pre: nn.Module  # q before the rotary embedding (q_norm where the model has one)
    k_pre: nn.Module
    heads: int
    kv_heads: int
    head_dim: int
    hooks: bool  # BERT family: q, k, v come from hooks on the projections
    scale: float | None = None  # what q·kᵀ is multiplied by (set by qk_support's dry run)
    factor: torch.Tensor | None = None  # per head R_hᵀ (W_O^h = Q R), computed once, a graph constant


@dataclass
class LayerRecord:
    query: torch.Tensor  # [B, H, T, d]
    key: torch.Tensor  # [B, KV, T, d]
    value_norms: torch.Tensor  # [B, H, T]
    scale: float


def value_factor(o_weight: torch.Tensor, heads: int) -> torch.Tensor:
    """Per head Rᵀ [H, d, d] from the QR decomposition W_O^h = Q R (float64): ‖v W_O^hᵀ‖ = ‖v Rᵀ‖,
    since Q has orthonormal columns. A d × d constant instead of the hidden × d slice."""
    with torch.no_grad():
        w = o_weight.detach().double().reshape(o_weight.shape[0], heads, -1).transpose(0, 1)  # [H, hidden, d]
        return torch.linalg.qr(w).R.transpose(1, 2).float()


def value_output_norms(value: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """‖v_j W_O^h‖ for every head h and token j: value [B, KV, T, d], factor [H, d, d] → [B, H, T].

    The factors are a constant of the graph (H·d² floats per layer, not a copy of W_O) and cost
    T·H·d² multiply-adds instead of T·H·d·hidden: one MatMul and one ReduceL2 per layer.
    Grouped-query heads broadcast: query head h = kv·(H/KV) + r reads kv head kv, so the factors
    are viewed as [KV, H/KV, d, d].
    """
    heads, dim = factor.shape[0], factor.shape[-1]
    kv_heads = value.shape[1]
    if kv_heads == heads:
        return torch.linalg.vector_norm(torch.matmul(value, factor), dim=-1)
    grouped = factor.reshape(kv_heads, heads // kv_heads, dim, dim)
    norms = torch.linalg.vector_norm(torch.matmul(value.unsqueeze(2), grouped), dim=-1)  # [B, KV, H/KV, T]
    return norms.flatten(1, 2)


class Recorder:
    """Collects one LayerRecord per attention call, in layer order."""

    def __init__(self, parts: list[AttentionParts]):
        self.by_module = {id(p.module): p for p in parts}
        self.layers: list[LayerRecord] = []

    def record(self, module: nn.Module, query, key, value, scale: float) -> None:
        part = self.by_module.get(id(module))
        if part is None:
            return
        if part.factor is None:
            part.factor = value_factor(part.o.weight, part.heads)
        norms = value_output_norms(value, part.factor)
        self.layers.append(LayerRecord(query, key, norms, float(scale)))


def _recording_attention(module, query, key, value, attention_mask, *args, **kwargs):
    """The model's own eager attention, unchanged, with q, k, v recorded on the side."""
    eager = sys.modules[type(module).__module__].eager_attention_forward
    out = eager(module, query, key, value, attention_mask, *args, **kwargs)
    if _ACTIVE:
        scale = kwargs.get("scaling") or getattr(module, "scaling", None) or query.shape[-1] ** -0.5
        _ACTIVE[-1].record(module, query, key, value, scale)
    return out


def _eager_mask(*args, **kwargs):
    """Delegate at call time: optimum swaps the eager mask for a traceable one while exporting."""
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

    return ALL_MASK_ATTENTION_FUNCTIONS["eager"](*args, **kwargs)


@functools.cache
def register() -> None:
    """Register `headgaze_qk` as an attention function AND as a mask function (or: no causal mask)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(ATTN_NAME, _recording_attention)
    AttentionMaskInterface.register(ATTN_NAME, _eager_mask)


def _linear(module: nn.Module, *names: str) -> nn.Linear | None:
    for name in names:
        layer = getattr(module, name, None)
        if isinstance(layer, nn.Linear):
            return layer
    return None


def _geometry(module, q: nn.Linear, k: nn.Linear) -> tuple[int, int, int]:
    dim = getattr(module, "head_dim", None) or getattr(module, "attention_head_size", None)
    if not dim:
        raise ValueError
    return q.out_features // dim, k.out_features // dim, dim


def attention_parts(model: nn.Module) -> list[AttentionParts]:
    """Every self-attention layer whose q, k, v and W_O we can reach, in module order."""
    owners = {id(getattr(m, "self", None)): m for m in model.modules() if hasattr(m, "output")}
    parts = []
    for module in model.modules():
        q, k, v = (_linear(module, n) for n in ("q_proj", "k_proj", "v_proj"))
        o = _linear(module, *OUTPUT_PROJECTIONS)
        hooks = False
        if not (q and k and v and o):  # BERT family: self.query/key/value, W_O in the parent's output.dense
            q, k, v = (_linear(module, n) for n in ("query", "key", "value"))
            o = _linear(getattr(owners.get(id(module)), "output", None), "dense")
            hooks = True
            if not (q and k and v and o):
                continue
        try:
            heads, kv_heads, dim = _geometry(module, q, k)
        except ValueError:
            continue
        q_pre = getattr(module, "q_norm", None) or q
        k_pre = getattr(module, "k_norm", None) or k
        parts.append(AttentionParts(module, q, k, v, o, q_pre, k_pre, heads, kv_heads, dim, hooks))
    return parts


@contextmanager
def recording(parts: list[AttentionParts]):
    """Record q, k and value norms of every layer during the forward passes inside the block."""
    recorder = Recorder(parts)
    handles = [h for p in parts if p.hooks for h in _bert_hooks(p, recorder)]
    _ACTIVE.append(recorder)
    try:
        yield recorder
    finally:
        _ACTIVE.remove(recorder)
        for handle in handles:
            handle.remove()


def _bert_hooks(part: AttentionParts, recorder: Recorder):
    seen: dict[str, torch.Tensor] = {}

    def keep(name, heads):
        def hook(_module, inputs, output):
            # the very ops BertSelfAttention applies (view(batch, -1, H, d) with batch read from
            # the projection's input), so onnxruntime's common-subexpression pass can merge them
            batch = inputs[0].shape[0]
            seen[name] = output.view(batch, -1, heads, part.head_dim).transpose(1, 2)

        return hook

    def done(module, _inputs, _output):
        recorder.record(module, seen["q"], seen["k"], seen["v"], part.head_dim**-0.5)
        seen.clear()

    return [
        part.q.register_forward_hook(keep("q", part.heads)),
        part.k.register_forward_hook(keep("k", part.kv_heads)),
        part.v.register_forward_hook(keep("v", part.kv_heads)),
        part.module.register_forward_hook(done),
    ]


def qk_support(model: nn.Module, layers: int) -> tuple[list[AttentionParts] | None, str]:
    """(parts, "") when q/k/value norms can be exported for this model, else (None, why not).

    Switches an interface-based model to the recording attention; a dry run on two tokens proves
    that every layer is recorded with the expected shapes.
    """
    text = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    if getattr(text, "attn_logit_softcapping", None):
        return None, "attention logits are soft-capped: the weights are not softmax(q·kᵀ·scale + mask)"
    if getattr(text, "position_embedding_type", "absolute") not in ("absolute", None):
        return None, f"position_embedding_type {text.position_embedding_type!r} adds relative terms to q·kᵀ"
    if getattr(text, "sliding_window", None) and getattr(text, "use_sliding_window", True):
        return (
            None,
            "sliding-window layers: the export's softmax(q·kᵀ·scale + mask) check knows only a causal mask",
        )
    parts = attention_parts(model)
    if len(parts) != layers:
        return (
            None,
            f"found q/k/v/output projections for {len(parts)} of {layers} layers (fused or unknown layout)",
        )
    if not all(p.hooks for p in parts):
        if any(p.hooks for p in parts) or not hasattr(
            sys.modules[type(parts[0].module).__module__], "eager_attention_forward"
        ):
            return None, "the attention does not go through transformers' AttentionInterface"
        register()
        model.set_attn_implementation(ATTN_NAME)
        if model.config._attn_implementation != ATTN_NAME:
            model.set_attn_implementation("eager")
            return None, "the model cannot switch its attention implementation"
    ids = torch.tensor([[1, 2]])
    with torch.no_grad(), recording(parts) as recorder:
        model(input_ids=ids, attention_mask=torch.ones_like(ids))
    got = [(tuple(r.query.shape), tuple(r.key.shape)) for r in recorder.layers]
    want = [((1, p.heads, 2, p.head_dim), (1, p.kv_heads, 2, p.head_dim)) for p in parts]
    if got != want:
        return None, f"a dry run recorded {len(got)} of {layers} layers or unexpected q/k shapes"
    for part, rec in zip(parts, recorder.layers, strict=True):
        if rec.scale == 1.0 and getattr(part.module, "scaling", 1.0) != 1.0:  # e.g. OPT: q_proj(x) * scaling
            model.set_attn_implementation("eager")
            return None, "the query is scaled before the attention: its norm is not the projection's"
        part.scale = rec.scale
    return parts, ""


def output_axes(layers: int) -> dict[str, dict[int, str]]:
    """The ONNX outputs added after `attentions.{i}`, with dynamic batch and sequence axes."""
    axes = {0: "batch_size", 2: "sequence_length"}
    return {f"{name}.{i}": dict(axes) for name in QK_OUTPUTS for i in range(layers)}


def with_qk_outputs(forward, parts: list[AttentionParts]):
    """Wrap the model's original bound forward: its outputs plus queries, keys and value_norms."""

    @functools.wraps(forward)  # optimum reads the signature through __wrapped__
    def qk_forward(*args, **kwargs):
        with recording(parts) as recorder:
            out = forward(*args, **kwargs)
        return {
            **out,
            "queries": tuple(r.query for r in recorder.layers),
            "keys": tuple(r.key for r in recorder.layers),
            "value_norms": tuple(r.value_norms for r in recorder.layers),
        }

    return qk_forward


def qk_patcher(base_patcher: type, parts: list[AttentionParts]) -> type:
    """optimum's model patcher for this config, whose forward also returns the recorded tensors."""

    class QkPatcher(base_patcher):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            # patched_forward calls self.orig_forward at run time: wrap it, keep the real one for __exit__
            self._qk_unwrapped = self.orig_forward
            self.orig_forward = with_qk_outputs(self.orig_forward, parts)

        def __exit__(self, *exc):
            super().__exit__(*exc)
            setattr(self._model, self.orig_forward_name, self._qk_unwrapped)

    return QkPatcher
