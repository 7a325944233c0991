"""Token sequences given as ids (a generated answer) turned into the text and tokens /v1/attention shows,
and the memory that makes a raw attention request of that text use exactly those ids.

A generated sequence's `text` is the decode of all its ids with special tokens kept. Encoding that
text again need not give the same ids (BPE has several spellings of one string, a chat template
writes special tokens the user never typed), so the engine remembers each generated text's ids
(`SequenceMemory`, a small LRU) and `raw=true` attention requests of a remembered text use them.
Offsets come from decoding every prefix: token i ends where the decode of ids[:i+1] ends; tokens
that end inside a character (byte-level BPE splitting an emoji) share that character's span, as
`tokens.tokenize` gives them.
"""

from __future__ import annotations

from collections.abc import Hashable

from tokenizers import Tokenizer

from .store import ByteLRU

ID_BYTES = 8  # what one remembered id is counted as (plus the text's characters)


def decode(tokenizer: Tokenizer, ids: list[int]) -> str:
    """The text of `ids` as the model saw it: special tokens kept."""
    return tokenizer.decode(list(ids), skip_special_tokens=False)


def tokens_from_ids(tokenizer: Tokenizer, ids: list[int], special_ids: set[int]) -> tuple[str, list[dict]]:
    """(text, token dicts {text, id, start, end, special}) with offsets into text = decode(ids)."""
    ids = [int(i) for i in ids]
    text = decode(tokenizer, ids)
    prefixes = tokenizer.decode_batch([ids[:i + 1] for i in range(len(ids))], skip_special_tokens=False)
    ends: list[int | None] = [len(p) if text.startswith(p) else None for p in prefixes]
    if ends:
        ends[-1] = len(text)
    out: list[dict] = []
    pos = 0
    pending: list[int] = []  # ids of tokens ending inside a character, waiting for the character's end
    for tid, end in zip(ids, ends, strict=True):
        pending.append(tid)
        if end is None:
            continue
        end = max(end, pos)
        for pid in pending:
            out.append({"text": text[pos:end], "id": pid, "start": pos, "end": end, "special": pid in special_ids})
        pending = []
        pos = end
    return text, out


class SequenceMemory(ByteLRU):
    """(model, text) → the ids the text was generated as."""

    def __init__(self, max_bytes: int = 4 << 20):
        super().__init__(max_bytes)

    def remember(self, key: Hashable, text: str, ids: list[int]) -> None:
        self.put(key, list(ids), len(text) * 4 + ID_BYTES * len(ids))
