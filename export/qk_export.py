"""Run optimum's ONNX export on a model we load and patch ourselves, with q/k/value-norm outputs.

Why `onnx_export_from_model` instead of `main_export`: whether q, k and value norms can be
exposed depends on the loaded model's modules (projection layout, attention interface), and the
recording attention must be switched on in that very instance before optimum traces it. Loading
it here (the same `TasksManager.get_model_from_task` call `main_export` makes, eager attention)
lets one place decide, extend the ONNX config, or fall back to the attentions alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ExportError
from .qk_capture import AttentionParts, output_axes, qk_patcher, qk_support


@dataclass
class QkExport:
    """What the export exposed besides the attentions."""

    enabled: bool
    reason: str = ""  # why not, when not
    parts: list[AttentionParts] = field(default_factory=list)

    @property
    def scales(self) -> list[float]:
        return [p.scale for p in self.parts]


def with_qk_config(onnx_config, arch, parts: list[AttentionParts]):
    """The attention-outputs ONNX config extended by queries.{i}, keys.{i}, value_norms.{i}."""
    base = type(onnx_config)

    class QkOutputsConfig(base):
        _MODEL_PATCHER = qk_patcher(base._MODEL_PATCHER, parts)

        @property
        def outputs(self) -> dict[str, dict[int, str]]:
            return {**super().outputs, **output_axes(arch.layers)}

    return QkOutputsConfig(onnx_config._config, task=arch.task)


def load_for_export(folder: Path, arch):
    from optimum.exporters.tasks import TasksManager

    return TasksManager.get_model_from_task(
        arch.task,
        str(folder),
        framework="pt",
        library_name="transformers",
        local_files_only=True,
        attn_implementation="eager",
    ).eval()


def export_with_qk(folder: Path, out_dir: Path, arch, onnx_config, model=None) -> tuple[Path, QkExport]:
    """Export model.onnx into out_dir: attentions, plus q/k/value norms where the model allows.

    `model`: the model already loaded by load_for_export (loaded here when None)."""
    from optimum.exporters.onnx import onnx_export_from_model

    logging.getLogger("optimum").setLevel(logging.ERROR)
    model = model if model is not None else load_for_export(folder, arch)
    parts, reason = qk_support(model, arch.layers)
    qk = QkExport(enabled=parts is not None, reason=reason, parts=parts or [])
    if qk.enabled:
        onnx_config = with_qk_config(onnx_config, arch, parts)
    onnx_export_from_model(
        model,
        output=out_dir,
        task=arch.task,
        model_kwargs={"output_attentions": True},
        custom_onnx_configs={"model": onnx_config},
        do_validation=False,  # our own parity checks (verify.py, qk_verify.py) are stricter
        no_post_process=True,
    )
    onnx_path = out_dir / "model.onnx"
    if not onnx_path.is_file():
        raise ExportError(f"optimum wrote no model.onnx into {out_dir}")
    if qk.enabled:
        declare_head_dims(onnx_path, parts[0])
    return onnx_path, qk


def declare_head_dims(onnx_path: Path, part: AttentionParts) -> None:
    """Write the static head counts and head_dim into the outputs' declared shapes.

    With q and k as graph outputs, torch's ONNX shape inference leaves the head axis of
    `attentions.{i}` and the head_dim axis of q/k symbolic; the verification then proves the
    real shapes. Tensors stored as external data stay where they are.
    """
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    static = {"attentions": {1: part.heads}, "queries": {1: part.heads, 3: part.head_dim},
              "keys": {1: part.kv_heads, 3: part.head_dim}, "value_norms": {1: part.heads}}  # fmt: skip
    for output in model.graph.output:
        dims = output.type.tensor_type.shape.dim
        for axis, size in static.get(output.name.split(".")[0], {}).items():
            dims[axis].Clear()
            dims[axis].dim_value = size
    onnx.save(model, str(onnx_path))


def manifest_fields(qk: QkExport, output_names: list[str]) -> dict:
    """The manifest's `outputs` (every graph output), `qk`, and `qk_scales` or `qk_reason`."""
    fields = {"outputs": output_names, "qk": qk.enabled}
    if qk.enabled:
        fields["qk_scales"] = qk.scales  # per layer: scores = q·kᵀ·scale (+ mask) before the softmax
    else:
        fields["qk_reason"] = qk.reason
    return fields


def progress_line(figures: dict) -> str:
    return (
        f"qk parity: |softmax(q·kᵀ·scale + mask) - attentions| ≤ {figures['max_score_softmax_diff']:.2e}, "
        f"‖q‖ rel {figures['max_q_norm_rel_err']:.2e}, ‖k‖ rel {figures['max_k_norm_rel_err']:.2e}, "
        f"value norms rel {figures['max_value_norm_rel_err']:.2e}"
    )
