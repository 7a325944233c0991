"""ONNX export through optimum's exporter, with one `attentions.{i}` output per layer.

optimum's ONNX configs name the model's inputs and outputs. We subclass the architecture's
config so that its outputs are exactly the per-layer attention probabilities (no logits, no
hidden states: onnxruntime then skips the vocabulary projection), with dynamic batch and
sequence axes and no KV-cache inputs.

The task follows the checkpoint: one with a causal LM head is exported as text-generation, any
other as feature-extraction (the base model). Whether attention is causal is not decided here
but by a probe run of the model (causality.py). Families optimum has no config for borrow the
config of a family with the same inputs (FALLBACK_CONFIGS), and the parity check proves it right.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from .errors import ExportError

LM_HEAD_SUFFIXES = ("ForCausalLM", "LMHeadModel")
TEXT_GENERATION = "text-generation"
FEATURE_EXTRACTION = "feature-extraction"
# model_type → the optimum config it borrows: same inputs (input_ids, attention_mask, position_ids)
FALLBACK_CONFIGS = {"starcoder2": "mistral"}
# families whose positions start after the padding id (position of token t = pad_token_id + 1 + t):
# they take max_position_embeddings - pad_token_id - 1 tokens (xlm-roberta: 514 - 2 = 512)
PADDING_OFFSET_POSITIONS = ("roberta", "xlm-roberta", "camembert", "mpnet", "longformer", "data2vec-text")
README_LIST = "docs/export.md lists the tested families"


@dataclass(frozen=True)
class Architecture:
    """What the exporter needs to know about a model folder."""

    name: str  # e.g. LlamaForCausalLM
    model_type: str  # e.g. llama
    causal: bool | None  # None until the probe run (causality.py) has decided
    task: str  # text-generation (a causal LM head) or feature-extraction (the base model)
    layers: int
    heads: int
    kv_heads: int
    max_tokens: int


def supported_tasks(model_type: str) -> set[str]:
    import optimum.exporters.onnx.model_configs  # noqa: F401  (registers the ONNX configs)
    from optimum.exporters.tasks import TasksManager

    try:
        return set(
            TasksManager.get_supported_tasks_for_model_type(model_type, "onnx", library_name="transformers")
        )
    except KeyError:
        return set()


def config_model_type(model_type: str) -> str:
    """The model type whose optimum ONNX config is used: its own, or the one it borrows."""
    return model_type if supported_tasks(model_type) else FALLBACK_CONFIGS.get(model_type, model_type)


def inspect_architecture(folder: Path) -> Architecture:
    """Read config.json, choose the task and check that optimum can export this architecture."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(folder)
    name = (config.architectures or [type(config).__name__])[0]
    tasks = supported_tasks(config_model_type(config.model_type))
    wants = [TEXT_GENERATION, FEATURE_EXTRACTION] if name.endswith(LM_HEAD_SUFFIXES) else [FEATURE_EXTRACTION]
    task = next((t for t in wants if t in tasks), None)
    if task is None:
        raise ExportError(
            f"unsupported architecture: {name} (model_type '{config.model_type}') — optimum's ONNX "
            f"exporter has no '{wants[0]}' config for it; {README_LIST}"
        )
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    heads = text.num_attention_heads
    return Architecture(
        name=name,
        model_type=config.model_type,
        causal=None,
        task=task,
        layers=text.num_hidden_layers,
        heads=heads,
        kv_heads=getattr(text, "num_key_value_heads", None) or heads,
        max_tokens=max_tokens(text, config.model_type),
    )


def max_tokens(text_config, model_type: str) -> int:
    """The longest sequence the model accepts: its positions, less the padding offset where there is one."""
    positions = int(getattr(text_config, "max_position_embeddings", 512))
    if model_type in PADDING_OFFSET_POSITIONS:
        positions -= int(getattr(text_config, "pad_token_id", None) or 0) + 1
    return positions


def attention_onnx_config(folder: Path, arch: Architecture):
    """An instance of the architecture's optimum ONNX config whose outputs are the attentions."""
    from optimum.exporters.tasks import TasksManager
    from transformers import AutoConfig

    constructor = TasksManager.get_exporter_config_constructor(
        "onnx", model_type=config_model_type(arch.model_type), task=arch.task, library_name="transformers"
    )
    base = constructor.func if isinstance(constructor, functools.partial) else constructor
    layers = arch.layers

    class AttentionOutputsConfig(base):
        @property
        def outputs(self) -> dict[str, dict[int, str]]:
            axes = {0: "batch_size", 2: "sequence_length", 3: "sequence_length"}
            return {f"attentions.{i}": dict(axes) for i in range(layers)}

    return AttentionOutputsConfig(AutoConfig.from_pretrained(folder), task=arch.task)


def base_onnx_config(folder: Path, arch: Architecture):
    """An instance of the architecture's optimum ONNX config with its own outputs (e.g. last_hidden_state)."""
    from optimum.exporters.tasks import TasksManager
    from transformers import AutoConfig

    constructor = TasksManager.get_exporter_config_constructor(
        "onnx", model_type=config_model_type(arch.model_type), task=arch.task, library_name="transformers"
    )
    return constructor(AutoConfig.from_pretrained(folder), task=arch.task)


def export_onnx(folder: Path, out_dir: Path, arch: Architecture, model=None):
    """Export model.onnx into out_dir; returns (its path, what q/k outputs it has: qk_export.QkExport)."""
    from .qk_export import export_with_qk

    return export_with_qk(folder, out_dir, arch, attention_onnx_config(folder, arch), model)
