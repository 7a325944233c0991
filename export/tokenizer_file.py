"""The serve-time tokenizer.json: the model's fast tokenizer with padding and truncation off.

A checkpoint with only a sentencepiece `tokenizer.model` is converted to a fast tokenizer by
transformers (needs `sentencepiece` and `protobuf`, both in requirements/export.txt); the
verify stage then checks the converted ids against transformers' tokenizer on every probe.

A tokenizer.json that pads (MiniLM's ships with `Fixed: 128`) silently turns every request into
128 tokens, so both are switched off and checked after writing.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ExportError


def load_hf_tokenizer(folder: Path):
    """The checkpoint's fast tokenizer; a sentencepiece-only one (tokenizer.model) is converted to it."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except (ImportError, ValueError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"{folder}: cannot load its tokenizer ({reason})") from None
    if not tokenizer.is_fast:
        raise ExportError(
            f"{folder}: {type(tokenizer).__name__} cannot be converted to a fast tokenizer.json, "
            "which headgaze serves with"
        )
    return tokenizer


def write_tokenizer(hf_tokenizer, path: Path) -> None:
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(hf_tokenizer.backend_tokenizer.to_str())
    backend.no_padding()
    backend.no_truncation()
    backend.save(str(path))
    written = Tokenizer.from_file(str(path))
    if written.padding is not None or written.truncation is not None:
        raise ExportError(f"{path}: padding or truncation is still on after writing")


def special_tokens(hf_tokenizer) -> dict[str, int]:
    """Special token text → id, e.g. {"[CLS]": 101, "[SEP]": 102}."""
    return {
        tok: int(i)
        for tok, i in zip(hf_tokenizer.all_special_tokens, hf_tokenizer.all_special_ids, strict=True)
    }
