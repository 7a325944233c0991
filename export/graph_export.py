"""The export stage: load the model once, choose its graph (lean or generic) and write model.onnx,
plus, for a causal LM with an LM head on the lean graph, predictions.onnx and decoder.onnx.

The lean graph (lean_graph.py) is built where lean_choice.py says it reproduces the model
exactly; every other model gets optimum's generic graph (onnx_graph.py). Both carry the same
inputs and outputs, and both go through the same verification afterwards. The LM graphs
(lean_lm.py) are built by the lean builder's own layer code; a generic graph has no
`last_context`/`last_residual` to feed them, so a generic causal LM is exported without them
(`lm_head: false` with the reason in the manifest).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .lean_choice import AUTO, LEAN, GraphChoice, choose_graph
from .lean_graph import export_lean
from .lean_lm import FEEDS, MAX_TOP_K, export_lm_graphs
from .onnx_graph import TEXT_GENERATION, export_onnx
from .qk_capture import attention_parts
from .qk_export import QkExport, load_for_export


@dataclass
class GraphExport:
    """What the export stage wrote: model.onnx, its q/k outputs, which graph and why, and the LM graphs."""

    onnx_path: Path
    qk: QkExport
    choice: GraphChoice
    lm_paths: dict[str, Path] = field(default_factory=dict)  # {"predictions": ..., "decoder": ...}
    lm_reason: str = ""  # why there are none, when there are none
    geometry: dict = field(default_factory=dict)  # layers, kv_heads, head_dim of the decoder's KV cache

    @property
    def lm_head(self) -> bool:
        return bool(self.lm_paths)

    def lm_manifest(self) -> dict:
        """The manifest's `lm_head`, `predictions` and `generation` fields."""
        if not self.lm_head:
            return {"lm_head": False, "lm_head_reason": self.lm_reason}
        return {
            "lm_head": True,
            "predictions": {
                "file": self.lm_paths["predictions"].name,
                "max_top_k": MAX_TOP_K,
                "feeds": list(FEEDS),
            },
            "generation": {"file": self.lm_paths["decoder"].name, **self.geometry},
        }


def lean_qk(model) -> QkExport:
    """The q/k description of a lean graph: every layer's parts, its scale the module's own `scaling`."""
    parts = attention_parts(model)
    for part in parts:
        part.scale = float(part.module.scaling)
    return QkExport(enabled=True, parts=parts)


def export_graph(folder: Path, out_dir: Path, arch, requested: str = AUTO) -> GraphExport:
    """model.onnx (and the LM graphs where they apply) in out_dir."""
    model = load_for_export(folder, arch)
    choice = choose_graph(model, arch, requested)
    has_head = arch.task == TEXT_GENERATION and getattr(model, "lm_head", None) is not None
    if choice.kind != LEAN:
        onnx_path, qk = export_onnx(folder, out_dir, arch, model)
        reason = (
            (
                "the generic graph has no last-layer outputs to feed predictions.onnx; next-token predictions "
                "and generation need the lean graph (Llama-like families)"
            )
            if has_head
            else "no causal LM head"
        )
        return GraphExport(onnx_path, qk, choice, lm_reason=reason)
    done = GraphExport(
        export_lean(model, choice.spec, out_dir),
        lean_qk(model),
        choice,
        lm_reason="no causal LM head (a base model or an encoder)",
    )
    if has_head:
        done.lm_paths = export_lm_graphs(model, choice.spec, out_dir)
        done.geometry = {
            "layers": arch.layers,
            "kv_heads": choice.spec.kv_heads,
            "head_dim": choice.spec.head_dim,
        }
    return done
