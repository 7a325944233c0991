"""What a GGUF file says about itself: its family (`general.architecture`), name and causality.

llama.cpp writes `<arch>.attention.causal = false` for encoder families (bert, nomic-bert, …) and
omits it for decoders, whose attention is causal; the export's probe run confirms it later.
Only families that transformers can dequantise are accepted, with one clear line otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ExportError

NOT_FAMILIES = {"general", "tokenizer"}  # sections of transformers' GGUF key table, not model families


@dataclass(frozen=True)
class GGUFHeader:
    architecture: str  # llama.cpp's family name, e.g. llama, qwen2, gpt2
    name: str | None  # general.name, when the file has one
    causal: bool

    def as_info(self) -> dict:
        return {"gguf_architecture": self.architecture, "gguf_name": self.name, "gguf_causal": self.causal}


def _field(reader, key: str):
    field = reader.fields.get(key)
    return None if field is None else field.contents()


def read_header(path: Path) -> GGUFHeader:
    """Read the metadata of a GGUF file (no tensors); refuse files transformers cannot load."""
    from gguf import GGUFReader
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    try:
        reader = GGUFReader(path)
    except (ValueError, OSError) as exc:
        raise ExportError(f"{path} is not a readable GGUF file ({exc})") from None
    architecture = _field(reader, "general.architecture")
    if not architecture:
        raise ExportError(f"{path}: the GGUF file has no general.architecture")
    families = sorted(set(GGUF_SUPPORTED_ARCHITECTURES) - NOT_FAMILIES)
    if architecture not in families:
        raise ExportError(
            f"{path}: GGUF family '{architecture}' cannot be dequantised by transformers "
            f"(it reads {', '.join(families)}); see docs/export.md"
        )
    causal = _field(reader, f"{architecture}.attention.causal")
    return GGUFHeader(architecture, _field(reader, "general.name"), True if causal is None else bool(causal))
