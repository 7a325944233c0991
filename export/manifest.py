"""manifest.json: what an exported model is, where it came from and how it was proven right."""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import json
from datetime import UTC, datetime
from pathlib import Path

from .sources_list import import_closure

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
EXPORTER_PACKAGES = ("torch", "transformers", "optimum", "optimum-onnx", "onnx", "onnxruntime", "tokenizers")
# the export's own code plus every repo module it imports (found from the import statements)
CODE_FILES = tuple(import_closure())


def exporter_versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in EXPORTER_PACKAGES}


def fingerprint(source_info: dict) -> str:
    """Changes when the source weights, the exporter code or the exporter packages change."""
    digest = hashlib.sha256(json.dumps(source_info, sort_keys=True).encode())
    for path in CODE_FILES:
        digest.update(path.read_bytes())
    digest.update(json.dumps(exporter_versions(), sort_keys=True).encode())
    return digest.hexdigest()[:16]


def read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def build_manifest(
    *, source, arch, inputs, special, weights, parity, causal_evidence, profile, onnx_info, seconds, fp
) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "id": source.id,
        "display_name": source.display_name,
        "source": source.info,
        "architecture": arch.name,
        "model_type": arch.model_type,
        "causal": arch.causal,
        "causal_evidence": causal_evidence,
        "task": arch.task,
        "layers": arch.layers,
        "heads": arch.heads,
        "kv_heads": arch.kv_heads,
        "special_tokens": special,
        "max_tokens": arch.max_tokens,
        "inputs": inputs,
        "outputs": [f"attentions.{i}" for i in range(arch.layers)],
        "weights": weights,
        "parity": parity,
        "heads_profile": profile,
        "onnx": onnx_info,
        "exporter": exporter_versions(),
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "export_seconds": seconds,
        "fingerprint": fp,
    }


def write_manifest(folder: Path, manifest: dict) -> None:
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
