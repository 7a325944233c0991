"""The export stage: load the model once, choose its graph (lean or generic) and write model.onnx,
plus, for a causal LM with an LM head on the lean graph, predictions.onnx and decoder.onnx, and for
a model without one, hidden.onnx (the final hidden states a knock-out is measured on).

The lean graph (lean_graph.py) is built where lean_choice.py says it reproduces the model
exactly; every other model gets optimum's generic graph (onnx_graph.py). Both carry the same
inputs and outputs, and both go through the same verification afterwards. The LM graphs
(lean_lm.py) are built by the lean builder's own layer code; a generic graph has no
`last_context`/`last_residual` to feed them, so a generic causal LM is exported without them
(`lm_head: false` with the reason in the manifest). The optional `head_mask` input (knock-out) is in
decoder.onnx and hidden.onnx, never in model.onnx (it would slow every request); the generic path
has it where the family's forward takes one (head_mask.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .head_mask import MaskUnused, native_head_mask, no_mask_reason
from .hidden_export import export_generic_hidden
from .lean_choice import AUTO, LEAN, GraphChoice, choose_graph
from .lean_graph import export_lean
from .lean_lm import FEEDS, MAX_TOP_K, WRITES_K, export_hidden_graph, export_lm_graphs
from .onnx_graph import TEXT_GENERATION, export_onnx
from .qk_capture import attention_parts
from .qk_export import QkExport, load_for_export

NO_GENERIC_LM = ("the generic graph has no last-layer outputs to feed predictions.onnx; next-token predictions "
                 "and generation need the lean graph (Llama-like families)")  # fmt: skip


@dataclass
class GraphExport:
    """What the export stage wrote: model.onnx, its q/k outputs, which graph and why, and the other graphs."""

    onnx_path: Path
    qk: QkExport
    choice: GraphChoice
    lm_paths: dict[str, Path] = field(default_factory=dict)  # {"predictions": ..., "decoder": ...}
    lm_reason: str = ""  # why there are none, when there are none
    geometry: dict = field(default_factory=dict)  # layers, kv_heads, head_dim of the decoder's KV cache
    writes: bool = False  # predictions.onnx also says what a head writes (direct logit attribution)
    head_mask: bool = False  # model.onnx (and the graphs beside it) take the optional head_mask input
    head_mask_reason: str = ""
    hidden_path: Path | None = None  # hidden.onnx: final hidden states, for models without an LM head

    @property
    def lm_head(self) -> bool:
        return bool(self.lm_paths)

    def moved_to(self, out: Path) -> None:
        """The graphs beside model.onnx now live in `out`."""
        self.lm_paths = {kind: out / path.name for kind, path in self.lm_paths.items()}
        if self.hidden_path is not None:
            self.hidden_path = out / self.hidden_path.name

    def drop_mask(self, reason: str) -> None:
        """No knock-out after all (unverifiable): hidden.onnx goes; decoder.onnx keeps its unfed input."""
        self.head_mask, self.head_mask_reason = False, reason
        if self.hidden_path is not None:
            self.hidden_path.unlink(missing_ok=True)
            self.hidden_path = None

    def lm_manifest(self) -> dict:
        """The manifest's `lm_head`, `predictions` and `generation` fields."""
        if not self.lm_head:
            return {"lm_head": False, "lm_head_reason": self.lm_reason}
        return {
            "lm_head": True,
            "predictions": {
                "file": self.lm_paths["predictions"].name,
                "max_top_k": MAX_TOP_K,
                "feeds": [*FEEDS, *(f"contexts.{i}" for i in range(self.geometry["layers"]))],
                "writes": self.writes,
                "writes_k": WRITES_K,
            },
            "generation": {"file": self.lm_paths["decoder"].name, **self.geometry},
        }

    def ablation_manifest(self) -> dict:
        """The manifest's `head_mask` and `ablation` fields: whether heads can be knocked out, in which graph,
        and what the knock-out is measured on (the predictions, or the final hidden states)."""
        if not self.head_mask:
            reason = self.head_mask_reason
            return {
                "head_mask": False,
                "head_mask_reason": reason,
                "ablation": {"kind": None, "reason": reason},
            }
        if self.lm_head:  # decoder.onnx under the mask hands predictions.onnx its feeds
            return {
                "head_mask": True,
                "ablation": {"kind": "predictions", "file": self.lm_paths["decoder"].name},
            }
        return {"head_mask": True, "ablation": {"kind": "hidden", "file": self.hidden_path.name}}


def lean_qk(model) -> QkExport:
    """The q/k description of a lean graph: every layer's parts, its scale the module's own `scaling`."""
    parts = attention_parts(model)
    for part in parts:
        part.scale = float(part.module.scaling)
    return QkExport(enabled=True, parts=parts)


def export_graph(folder: Path, out_dir: Path, arch, requested: str = AUTO) -> GraphExport:
    """model.onnx (and the graphs beside it where they apply) in out_dir."""
    model = load_for_export(folder, arch)
    choice = choose_graph(model, arch, requested)
    has_head = arch.task == TEXT_GENERATION and getattr(model, "lm_head", None) is not None
    if choice.kind != LEAN:
        onnx_path, qk = export_onnx(folder, out_dir, arch, model)
        mask = native_head_mask(model.base_model if has_head else model)
        done = GraphExport(onnx_path, qk, choice, lm_reason=NO_GENERIC_LM if has_head else "no causal LM head",
                           head_mask=mask, head_mask_reason="" if mask else no_mask_reason(model))  # fmt: skip
        if mask:
            try:
                done.hidden_path = export_generic_hidden(folder, out_dir, arch, model)
            except MaskUnused as exc:
                for stale in out_dir.glob("hidden.onnx*"):
                    stale.unlink()
                done.drop_mask(str(exc))
        return done
    done = GraphExport(export_lean(model, choice.spec, out_dir), lean_qk(model), choice,
                       lm_reason="no causal LM head (a base model or an encoder)", head_mask=True)  # fmt: skip
    if has_head:
        done.lm_paths = export_lm_graphs(model, choice.spec, out_dir)
        done.writes = not choice.spec.post_norm
        spec = choice.spec
        done.geometry = {"layers": arch.layers, "kv_heads": spec.kv_heads, "head_dim": spec.head_dim}
    else:
        done.hidden_path = export_hidden_graph(model, choice.spec, out_dir)
    return done
