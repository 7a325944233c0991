"""What a head writes into the vocabulary: direct logit attribution at one query.

The head's output at query i — its context there (the attention-weighted values, from model.onnx's
`contexts.{layer}`) times its slice of the output projection — passed through the final norm at
that position's scale in the clean run (`final_inv_rms` of predictions.onnx) and the LM head gives
one raw, uncentred logit per vocabulary token: how much this head alone pushes each token up or
down at i. The `writes_k` largest are what it promotes, the smallest what it suppresses (computed
in predictions.onnx's writes path, beside the LM head it shares). Causal LMs on the lean graph only
(pre-norm: a post-norm family normalises each head's output before the residual).
"""

from __future__ import annotations

import numpy as np

from ..common import errors
from .predictions import TokenTexts

WRITES_K = 10


MAX_QUERIES = 64  # queries of one writes request (a [queries, vocabulary] product each)


def check_query(query: object, tokens: int) -> int | list[int]:
    """`query` of a writes request: a token index 0..T-1, or a list of 1..MAX_QUERIES distinct ones; 400
    missing or wrong type, 422 out of range, duplicate or too many."""
    if query is None:
        raise errors.ServiceError(400, "missing_field", "Field 'query' is required with writes=true.")
    many = isinstance(query, list)
    values = query if many else [query]
    if many and not 1 <= len(values) <= MAX_QUERIES:
        raise errors.ServiceError(422, "invalid_query", f"Field 'query' lists {len(values)} token indices; give 1 "
                                                        f"to {MAX_QUERIES}.")
    for q in values:
        if not isinstance(q, int) or isinstance(q, bool):
            raise errors.ServiceError(400, "invalid_type", "Field 'query' must be a token index (an integer) or a "
                                                           "list of them.")
        if not 0 <= q < tokens:
            raise errors.ServiceError(422, "invalid_query", f"Field 'query' must be from 0 to {tokens - 1} (the text "
                                                            f"has {tokens} tokens), got {q}.")
    if len(set(values)) != len(values):
        raise errors.ServiceError(422, "invalid_query", "Field 'query' names a token index twice.")
    return list(values) if many else query


def no_writes(model: str, reason: str) -> errors.ServiceError:
    return errors.ServiceError(422, "no_writes", f"Model {model!r} (field 'model') cannot say what a head writes: "
                                                 f"{reason}.")


def entries(texts: TokenTexts, ids: np.ndarray, scores: np.ndarray) -> list[dict]:
    return [{"id": int(i), "text": texts(int(i)), "score": float(s)} for i, s in zip(ids, scores, strict=True)]


def head_writes(m, contexts: np.ndarray, inv_rms: np.ndarray, layer: int, head: int,
                query: int | list[int]) -> dict | list[dict]:
    """The API's `writes` of (layer, head) at `query`: {"query", "promoted", "suppressed"} (10 each, by score),
    or a list of them for a list of queries (one run for all)."""
    d = m.predictions.head_dim
    queries = query if isinstance(query, list) else [query]
    rows = contexts[layer, queries, head * d:(head + 1) * d]
    out = m.predictions.writes(rows, layer * m.manifest.heads + head, inv_rms[queries], WRITES_K)
    found = [{"query": q, "promoted": entries(m.text_of, out["promoted_ids"][n], out["promoted_scores"][n]),
              "suppressed": entries(m.text_of, out["suppressed_ids"][n], out["suppressed_scores"][n])}
             for n, q in enumerate(queries)]
    return found if isinstance(query, list) else found[0]
