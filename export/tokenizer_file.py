"""Write the serve-time tokenizer.json: the model's fast tokenizer with padding and truncation off.

A tokenizer.json that pads (MiniLM's ships with `Fixed: 128`) silently turns every request into
128 tokens, so both are switched off and checked after writing.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ExportError


def load_hf_tokenizer(folder: Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    if not tokenizer.is_fast:
        raise ExportError(
            f"{folder}: no fast (tokenizers) tokenizer available; headgaze needs tokenizer.json"
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
