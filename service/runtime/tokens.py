"""Tokenising with offsets: each token's display text is the exact substring of the input it came from."""

from __future__ import annotations

import re
from pathlib import Path

from tokenizers import Tokenizer

from ..common import errors

# NUL, C0/C1 controls other than tab/newline/carriage return, and lone surrogates are rejected.
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def load_tokenizer(path: Path) -> Tokenizer:
    """Load tokenizer.json with padding and truncation forced off (a padded tokenizer pads every request)."""
    tok = Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.no_truncation()
    return tok


def check_text(text: object, max_chars: int) -> str:
    """Validate one request text; raises ServiceError (422) for non-strings, empty, too long or control chars."""
    if not isinstance(text, str):
        raise errors.ServiceError(400, "invalid_type", "Field 'text' must be a string.")
    if not text.strip():
        raise errors.empty_text()
    if len(text) > max_chars:
        raise errors.text_too_long(len(text), max_chars)
    bad = _BAD_CHARS.search(text)
    if bad:
        ch = bad.group()
        what = "a NUL character" if ch == "\x00" else f"the control or surrogate character U+{ord(ch):04X}"
        raise errors.invalid_characters(what)
    return text


def tokenize(tokenizer: Tokenizer, text: str, special_ids: set[int], *,
             add_special_tokens: bool = True) -> tuple[list[int], list[dict]]:
    """Encode `text`; returns (ids, token dicts {text, id, start, end, special}).

    Offsets are character offsets into `text`, clamped so start <= end <= len(text); byte-level BPE
    may give several tokens the same span (one emoji split in bytes) and each shows that substring.
    Special tokens without a span (BOS, CLS, SEP) show their name and sit at start=end=the position
    after the preceding token. A special token typed by the user (e.g. "[SEP]") keeps its span and is
    flagged special; an unknown-token replacement ([UNK] for an emoji) is not special.
    `add_special_tokens=False` (raw texts): nothing is added (no BOS/CLS), special token strings in
    the text are still parsed as their tokens.
    """
    enc = tokenizer.encode(text, add_special_tokens=add_special_tokens)
    n = len(text)
    out: list[dict] = []
    pos = 0
    for tid, tok, (start, end), smask in zip(
        enc.ids, enc.tokens, enc.offsets, enc.special_tokens_mask, strict=True
    ):
        start = min(max(int(start), 0), n)
        end = min(max(int(end), start), n)
        if smask and start == end:
            out.append({"text": tok, "id": int(tid), "start": pos, "end": pos, "special": True})
            continue
        out.append({
            "text": text[start:end], "id": int(tid), "start": start, "end": end,
            "special": bool(smask) or (int(tid) in special_ids and text[start:end] == tok),
        })
        pos = max(pos, end)
    return list(enc.ids), out
