"""A model's head profile: pattern scores and tags over a fixed probe set, computed once per model.

Short user texts cannot reveal induction or duplicate-token heads, so the profile adds a sequence
of random tokens repeated twice. `make export` computes the profile and stores it as
`models/<id>/heads_profile.json`; the service serves it at `GET /v1/models/<id>/heads`.

For models with value norms the profile also measures, on ABOUT_TEXT (the page's example), how many
heads are first-token heads (first > 0.6) and in how many of those the first token's value norm is
below the median of the other tokens' (`first_token`): the About text's measured sentence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np

from .head_analysis import ALL_TAGS, SCORES, THRESHOLDS, head_scores, repeat_scores, tags_for, thresholds_doc

ArraysRun = Callable[[list[int]], tuple[np.ndarray, np.ndarray | None]]  # ids -> (attentions, value norms)
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
ABOUT_TEXT = "The fluffy blue monster ate the cookie."
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


def first_token_summary(att: np.ndarray, value_norms: np.ndarray, causal: bool, text: str) -> dict:
    """On one text: first-token heads (first > the first-token threshold) and how many of them have
    n_0 < median(n_1..n_T-1), with the median ratio n_0 / median(others) of those and of the rest."""
    (_, _, limit), = THRESHOLDS["first-token"]
    first = head_scores(att, causal)["first"]
    vn = np.asarray(value_norms, dtype=np.float64)
    ratio = vn[..., 0] / np.median(vn[..., 1:], axis=-1)
    heads = first > limit

    def median(mask: np.ndarray) -> float | None:
        return round(float(np.median(ratio[mask])), 4) if mask.any() else None

    return {"text": text, "tokens": int(att.shape[-1]), "heads": int(first.size),
            "first_token_heads": int(heads.sum()), "below_median": int((heads & (ratio < 1)).sum()),
            "median_ratio_first_token_heads": median(heads), "median_ratio_other_heads": median(~heads)}


def compute_profile(run: ArraysRun, tokenizer, causal: bool, special_ids: set[int]) -> dict:
    """Mean pattern scores over PROFILE_TEXTS, induction/duplicate scores, tags and tag counts, and the
    first-token summary on ABOUT_TEXT (null without value norms)."""
    per_text = [head_scores(*_att_causal_vn(run, tokenizer.encode(text).ids, causal)) for text in PROFILE_TEXTS]
    scores = {}
    for name in SCORES:
        values = [s[name] for s in per_text if s[name] is not None]
        scores[name] = np.mean(values, axis=0) if values else None
    ids, offset = repeated_random_ids(tokenizer, special_ids)
    scores.update(repeat_scores(run(ids)[0], offset, REPEAT_LENGTH))
    shape = next(v.shape for v in scores.values() if v is not None)
    tags = tags_for(scores, shape)
    counts = Counter(tag for row in tags for head in row for tag in head)
    about_att, about_vn = run(tokenizer.encode(ABOUT_TEXT).ids)
    return {
        "probe_texts": list(PROFILE_TEXTS),
        "repeat": {"length": REPEAT_LENGTH, "seed": REPEAT_SEED, "tokens": len(ids)},
        "scores": {name: None if v is None else np.round(v, 4).tolist() for name, v in scores.items()},
        "tags": tags,
        "tag_counts": {tag: counts.get(tag, 0) for tag in ALL_TAGS},
        "thresholds": thresholds_doc(),
        "first_token": None if about_vn is None else first_token_summary(about_att, about_vn, causal, ABOUT_TEXT),
    }


def _att_causal_vn(run: ArraysRun, ids: list[int], causal: bool) -> tuple:
    att, vn = run(ids)
    return att, causal, vn
