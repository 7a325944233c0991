"""The export stage: load the model once, choose its graph (lean or generic) and write model.onnx.

The lean graph (lean_graph.py) is built where lean_choice.py says it reproduces the model
exactly; every other model gets optimum's generic graph (onnx_graph.py). Both carry the same
inputs and outputs, and both go through the same verification afterwards.
"""

from __future__ import annotations

from pathlib import Path

from .lean_choice import AUTO, LEAN, GraphChoice, choose_graph
from .lean_graph import export_lean
from .onnx_graph import export_onnx
from .qk_capture import attention_parts
from .qk_export import QkExport, load_for_export


def lean_qk(model) -> QkExport:
    """The q/k description of a lean graph: every layer's parts, its scale the module's own `scaling`."""
    parts = attention_parts(model)
    for part in parts:
        part.scale = float(part.module.scaling)
    return QkExport(enabled=True, parts=parts)


def export_graph(
    folder: Path, out_dir: Path, arch, requested: str = AUTO
) -> tuple[Path, QkExport, GraphChoice]:
    """model.onnx in out_dir; returns (its path, its q/k outputs, which graph and why)."""
    model = load_for_export(folder, arch)
    choice = choose_graph(model, arch, requested)
    if choice.kind == LEAN:
        return export_lean(model, choice.spec, out_dir), lean_qk(model), choice
    onnx_path, qk = export_onnx(folder, out_dir, arch, model)
    return onnx_path, qk, choice
