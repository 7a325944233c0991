"""ONNX export through optimum's exporter, with one `attentions.{i}` output per layer.

optimum's ONNX configs name the model's inputs and outputs. We subclass the architecture's
config so that its outputs are exactly the per-layer attention probabilities (no logits, no
hidden states: onnxruntime then skips the vocabulary projection), with dynamic batch and
sequence axes and no KV-cache inputs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from .errors import ExportError

CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel")
TEXT_GENERATION = "text-generation"
FEATURE_EXTRACTION = "feature-extraction"


@dataclass(frozen=True)
class Architecture:
    """What the exporter needs to know about a model folder."""

    name: str  # e.g. LlamaForCausalLM
    model_type: str  # e.g. llama
    causal: bool
    task: str
    layers: int
    heads: int
    kv_heads: int
    max_tokens: int


def inspect_architecture(folder: Path) -> Architecture:
    """Read config.json and check that optimum can export this architecture."""
    import optimum.exporters.onnx.model_configs  # noqa: F401  (registers the ONNX configs)
    from optimum.exporters.tasks import TasksManager
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(folder)
    name = (config.architectures or [type(config).__name__])[0]
    causal = name.endswith(CAUSAL_SUFFIXES) or bool(getattr(config, "is_decoder", False))
    task = TEXT_GENERATION if causal else FEATURE_EXTRACTION
    try:
        tasks = TasksManager.get_supported_tasks_for_model_type(
            config.model_type, "onnx", library_name="transformers"
        )
    except KeyError:
        tasks = {}
    if task not in tasks:
        raise ExportError(
            f"unsupported architecture: {name} (model_type '{config.model_type}') — optimum's ONNX "
            f"exporter has no '{task}' config for it"
        )
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    heads = text.num_attention_heads
    return Architecture(
        name=name,
        model_type=config.model_type,
        causal=causal,
        task=task,
        layers=text.num_hidden_layers,
        heads=heads,
        kv_heads=getattr(text, "num_key_value_heads", None) or heads,
        max_tokens=int(getattr(text, "max_position_embeddings", 512)),
    )


def attention_onnx_config(folder: Path, arch: Architecture):
    """An instance of the architecture's optimum ONNX config whose outputs are the attentions."""
    from optimum.exporters.tasks import TasksManager
    from transformers import AutoConfig

    constructor = TasksManager.get_exporter_config_constructor(
        "onnx", model_type=arch.model_type, task=arch.task, library_name="transformers"
    )
    base = constructor.func if isinstance(constructor, functools.partial) else constructor
    layers = arch.layers

    class AttentionOutputsConfig(base):
        @property
        def outputs(self) -> dict[str, dict[int, str]]:
            axes = {0: "batch_size", 2: "sequence_length", 3: "sequence_length"}
            return {f"attentions.{i}": dict(axes) for i in range(layers)}

    return AttentionOutputsConfig(AutoConfig.from_pretrained(folder), task=arch.task)


def export_onnx(folder: Path, out_dir: Path, arch: Architecture):
    """Export model.onnx into out_dir; returns (its path, what q/k outputs it has: qk_export.QkExport)."""
    from .qk_export import export_with_qk

    return export_with_qk(folder, out_dir, arch, attention_onnx_config(folder, arch))
