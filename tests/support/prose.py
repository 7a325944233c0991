"""A long English prompt of an exact token count: a fixed paragraph repeated, cut to `n` tokens.

Used by the long-text service tests and `make bench`: `prose_of_tokens(tokenizer, 512)` is a
paragraph of real prose (not repeated filler tokens) that the given tokenizer turns into exactly
`n` tokens, special tokens included.
"""

from __future__ import annotations

PARAGRAPH = (
    "The lighthouse keeper climbed the narrow stairs every evening, counting the steps as his father "
    "had taught him, and lit the great lamp before the sun touched the water. Ships passed far out at "
    "sea, their lights small and patient, and he wrote each one in a worn leather book: the hour, the "
    "direction of the wind, the colour of the sky. In winter the storms came from the north and shook "
    "the windows until the glass sang, yet the lamp never failed, because he trimmed the wick and "
    "polished the lens with the same care each night. "
)


def prose_of_tokens(tokenizer, n: int, prefix: str = "") -> str:
    """The longest whole-word prefix of `prefix` + the repeated paragraph with at most `n` tokens, topped
    up to `n` with single-token words; ValueError when `n` tokens cannot be reached exactly."""
    words = (prefix + " " + PARAGRAPH * (n // 40 + 2)).split()

    def count(text: str) -> int:
        return len(tokenizer.encode(text).ids)

    lo, hi = 1, len(words)  # largest k with count(words[:k]) <= n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if count(" ".join(words[:mid])) <= n else (lo, mid - 1)
    text = " ".join(words[:lo])
    while count(text) < n:
        text += " and"
    if count(text) != n:
        raise ValueError(f"cannot build a text of exactly {n} tokens")
    return text
