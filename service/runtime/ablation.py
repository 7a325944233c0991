"""Knock-out: run a text again with some heads removed and say what the output loses.

A head is removed by the graphs' optional `head_mask` input [layers, heads] (0: the head's context
is zeroed before the output projection; exported and verified by export/mask_verify.py). What is
compared depends on the model (manifest `ablation.kind`):
- "predictions" (a causal LM): the next-token predictions with and without the heads, and per token
  `delta`, the ablated minus the baseline log-prob of the actual next token (null for the last);
- "hidden" (an encoder, or a decoder without an LM head): hidden.onnx's final hidden states with and
  without the heads, per token their cosine, and `sentence_cosine`, the cosine of the mean-pooled
  sentence embeddings (the all-MiniLM embedding).

This is zero ablation: it measures what the output loses when a head writes nothing, not whether the
head is needed (another head may make up for it; the model never saw a zero there in training).
`check_heads` validates a request's `heads`, naming the bad pair; answers are kept per (text, mask,
top_k) in a byte-bounded LRU.
"""

from __future__ import annotations

import numpy as np

from ..common import errors
from .memory import run_options
from .providers import make_session

HEAD_MASK = "head_mask"


def _bad(status: int, message: str) -> errors.ServiceError:
    return errors.ServiceError(status, "invalid_heads", message)


def check_heads(value: object, layers: int, heads: int, field: str = "heads") -> list[tuple[int, int]]:
    """The request's heads as (layer, head) pairs: 1 to layers·heads distinct pairs of integers in range;
    ServiceError invalid_heads (400 for a wrong type, 422 out of range, duplicate or empty) naming it."""
    if not isinstance(value, list):
        raise _bad(400, f"Field {field!r} must be a list of [layer, head] pairs, e.g. [[3, 5]].")
    if not value:
        raise _bad(422, f"Field {field!r} is empty: name at least one [layer, head] pair.")
    if len(value) > layers * heads:
        raise _bad(422, f"Field {field!r} has {len(value)} pairs; the model has {layers * heads} heads.")
    seen: set[tuple[int, int]] = set()
    for i, pair in enumerate(value):
        shown = repr(pair)[:40]
        if not (isinstance(pair, list) and len(pair) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) for v in pair)):
            raise _bad(400, f"Field {field!r}[{i}] = {shown} must be a pair of integers [layer, head].")
        layer, head = pair
        if not (0 <= layer < layers and 0 <= head < heads):
            raise _bad(422, f"Field {field!r}[{i}] = {shown} is out of range: layers 0..{layers - 1}, "
                            f"heads 0..{heads - 1}.")
        if (layer, head) in seen:
            raise _bad(422, f"Field {field!r}[{i}] = {shown} is named twice.")
        seen.add((layer, head))
    return sorted(seen)


def head_mask(pairs: list[tuple[int, int]], layers: int, heads: int) -> np.ndarray:
    """[layers, heads] float32: 0 for every knocked-out head, 1 elsewhere."""
    mask = np.ones((layers, heads), np.float32)
    for layer, head in pairs:
        mask[layer, head] = 0.0
    return mask


def no_ablation(model: str, reason: str) -> errors.ServiceError:
    return errors.ServiceError(422, "no_ablation", f"Model {model!r} (field 'model') cannot knock heads out: {reason}.")


class HiddenHead:
    """hidden.onnx: the final hidden state [T, D] of every token, with an optional head_mask."""

    def __init__(self, onnx_file: str, device: str, threads: int, spinning: bool):
        self.session = make_session(onnx_file, device, threads, spinning)
        self.input_names = [i.name for i in self.session.get_inputs()]
        if HEAD_MASK not in [i.name for i in self.session.get_overridable_initializers()]:
            raise errors.ConfigError(f"{onnx_file}: no optional {HEAD_MASK} input; re-run `make export`")

    def run(self, feeds: dict[str, np.ndarray], mask: np.ndarray | None) -> np.ndarray:
        extra = {} if mask is None else {HEAD_MASK: mask}
        feeds = {k: v for k, v in feeds.items() if k in self.input_names}
        return self.session.run(["last_hidden_state"], {**feeds, **extra}, run_options())[0][0]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of [T, D] arrays, in float64 (1.0 for two zero rows)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    na, nb = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
    dot = (a * b).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = dot / (na * nb)
    return np.where((na == 0) & (nb == 0), 1.0, np.nan_to_num(out))


def deltas(baseline: list[dict], ablated: list[dict]) -> list[float | None]:
    """Per token: the ablated minus the baseline log-prob of the actual next token (None for the last)."""
    return [None if b["next"] is None else float(a["next"]["logprob"] - b["next"]["logprob"])
            for b, a in zip(baseline, ablated, strict=True)]
