"""Which graph a model gets: the lean one (lean_graph.py) where it is exact, else the generic one.

`choose_graph()` returns a GraphChoice whose `reason` goes into the manifest (`graph`) and the
export's progress lines. The lean graph is claimed only for families whose forward pass it
reproduces op for op (LEAN_FAMILIES) and only when nothing in the config steps outside what it
builds: a sliding window shorter than the model's positions, a rope whose frequencies depend on the
text length, an activation other than SiLU, partial rotary. Everything else keeps optimum's graph.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ExportError

AUTO, LEAN, GENERIC = "auto", "lean", "generic"
GRAPH_KINDS = (AUTO, LEAN, GENERIC)
# model_type → (norm placement, q/k norm: None | "head" (per head, qwen3) | "full" (whole projection, olmo2))
LEAN_FAMILIES = {
    "llama": ("pre", None),
    "mistral": ("pre", None),
    "qwen2": ("pre", None),
    "qwen3": ("pre", "head"),
    "granite": ("pre", None),
    "smollm3": ("pre", None),
    "olmo2": ("post", "full"),
}
STATIC_ROPE = (None, "default", "linear", "llama3", "yarn")  # frequencies fixed, whatever the text length


@dataclass(frozen=True)
class LeanSpec:
    """The geometry and constants lean_graph.py needs."""

    heads: int
    kv_heads: int
    head_dim: int
    max_positions: int  # rows of the rotary cache: positions past it are refused by the service anyway
    post_norm: bool  # olmo2
    qk_norm: str | None
    embedding_multiplier: float = 1.0  # granite
    residual_multiplier: float = 1.0  # granite


@dataclass(frozen=True)
class GraphChoice:
    kind: str  # "lean" or "generic"
    reason: str
    spec: LeanSpec | None = None

    def as_manifest(self) -> dict:
        return {"kind": self.kind, "reason": self.reason}


def _sliding_window(text) -> int | None:
    """The window some layer really uses, or None when every layer attends to all earlier tokens."""
    window = getattr(text, "sliding_window", None)
    if window is None or getattr(text, "use_sliding_window", True) is False:
        return None
    layer_types = getattr(text, "layer_types", None)
    if layer_types is not None and "sliding_attention" not in layer_types:
        return None
    return int(window)


def lean_spec(model, arch) -> tuple[LeanSpec | None, str]:
    """(spec, why) when the lean graph reproduces this model exactly, else (None, why not)."""
    from .lean_graph import decoder_base

    config = model.config
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    family = LEAN_FAMILIES.get(config.model_type)
    if family is None:
        return (
            None,
            f"model_type {config.model_type!r} is not one of the lean families ({', '.join(LEAN_FAMILIES)})",
        )
    if getattr(text, "hidden_act", "silu") != "silu":
        return None, f"activation {text.hidden_act!r}: the lean MLP is SiLU-gated"
    rope = getattr(text, "rope_scaling", None) or {}
    rope_type = rope.get("rope_type", rope.get("type"))
    if rope_type not in STATIC_ROPE:
        return None, f"rope type {rope_type!r} changes its frequencies with the text length"
    if getattr(text, "partial_rotary_factor", 1.0) != 1.0:
        return None, "partial rotary embedding"
    max_positions = int(getattr(text, "max_position_embeddings", 0) or 0)
    window = _sliding_window(text)
    if window is not None and window < max_positions:
        return (
            None,
            f"sliding window of {window} tokens (< {max_positions} positions): the lean mask is plain causal",
        )
    base = decoder_base(model)
    attn = base.layers[0].self_attn
    head_dim = int(getattr(attn, "head_dim", 0) or 0)
    heads = text.num_attention_heads
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    if not (head_dim and max_positions and hasattr(base, "rotary_emb") and heads % kv_heads == 0):
        return None, "no rotary module, head_dim or max_position_embeddings where the lean graph expects them"
    norm, qk_norm = family
    spec = LeanSpec(
        heads=heads, kv_heads=kv_heads, head_dim=head_dim, max_positions=max_positions,
        post_norm=norm == "post", qk_norm=qk_norm,
        embedding_multiplier=float(getattr(text, "embedding_multiplier", 1.0)),
        residual_multiplier=float(getattr(text, "residual_multiplier", 1.0)),
    )  # fmt: skip
    return (
        spec,
        f"{config.model_type} decoder: rebuilt with fused q/k/v, RotaryEmbedding and Attention (opset 23)",
    )


def choose_graph(model, arch, requested: str = AUTO) -> GraphChoice:
    """The graph to build for `model`; `requested` is the CLI's --graph (auto, lean or generic)."""
    if requested == GENERIC:
        return GraphChoice(GENERIC, "asked for with --graph generic")
    spec, reason = lean_spec(model, arch)
    if spec is not None:
        return GraphChoice(LEAN, reason, spec)
    if requested == LEAN:
        raise ExportError(f"--graph lean: not possible for this model: {reason}")
    return GraphChoice(GENERIC, reason)
