"""A model's head profile: pattern scores and tags over a fixed probe set, computed once per model.

Short user texts cannot reveal induction or duplicate-token heads, so the profile adds a sequence
of random tokens repeated twice. `make export` computes the profile and stores it as
`models/<id>/heads_profile.json`; the service serves it at `GET /v1/models/<id>/heads`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np

from .head_analysis import SCORES, TAGS, head_scores, repeat_scores, tags_for, thresholds_doc

PROFILE_FILE = "heads_profile.json"
PROFILE_TEXTS = (
    "The quick brown fox jumps over the lazy dog, again",
    "fluffy blue monster",
    "She opened the door and saw the rain outside.",
    "Paris is the capital of France, and Rome of Italy.",
    "def add(a, b): return a + b",
    "I told my friend that the movie was great.",
    "One, two, three, four, five, six, seven, eight.",
    "The cat sat on the mat because it was warm.",
)
REPEAT_LENGTH = 20
REPEAT_SEED = 0


def _wrap(tokenizer) -> tuple[list[int], list[int]]:
    """The special ids the tokenizer puts before and after the content (e.g. [CLS] … [SEP])."""
    enc = tokenizer.encode("x")
    mask = enc.special_tokens_mask
    first = mask.index(0)
    last = len(mask) - mask[::-1].index(0)
    return enc.ids[:first], enc.ids[last:]


def repeated_random_ids(tokenizer, special_ids: set[int]) -> tuple[list[int], int]:
    """prefix + r + r + suffix with r = REPEAT_LENGTH distinct random non-special ids; returns (ids, offset)."""
    rng = np.random.default_rng(REPEAT_SEED)
    vocab = tokenizer.get_vocab_size()
    pool = np.setdiff1d(np.arange(vocab), np.fromiter(special_ids, dtype=np.int64, count=len(special_ids)))
    r = rng.choice(pool, size=REPEAT_LENGTH, replace=False).tolist()
    lead, trail = _wrap(tokenizer)
    return lead + r + r + trail, len(lead)


def compute_profile(
    run: Callable[[list[int]], np.ndarray], tokenizer, causal: bool, special_ids: set[int]
) -> dict:
    """Mean pattern scores over PROFILE_TEXTS, induction/duplicate scores, tags and tag counts."""
    per_text = [head_scores(run(tokenizer.encode(text).ids), causal) for text in PROFILE_TEXTS]
    scores = {}
    for name in SCORES:
        values = [s[name] for s in per_text if s[name] is not None]
        scores[name] = np.mean(values, axis=0) if values else None
    ids, offset = repeated_random_ids(tokenizer, special_ids)
    scores.update(repeat_scores(run(ids), offset, REPEAT_LENGTH))
    shape = next(v.shape for v in scores.values() if v is not None)
    tags = tags_for(scores, shape)
    counts = Counter(tag for row in tags for head in row for tag in head)
    return {
        "probe_texts": list(PROFILE_TEXTS),
        "repeat": {"length": REPEAT_LENGTH, "seed": REPEAT_SEED, "tokens": len(ids)},
        "scores": {name: None if v is None else np.round(v, 4).tolist() for name, v in scores.items()},
        "tags": tags,
        "tag_counts": {tag: counts.get(tag, 0) for tag in TAGS},
        "thresholds": thresholds_doc(),
    }
