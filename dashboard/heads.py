"""Head analysis for the dashboard: tags, per-head statistics, hide-first-token, CSV export.

Statistics and tags are the backend's ``heads_stats`` (``service/analysis/head_analysis.py``, sent with
the grid by the HTTP service and the in-process engine alike); the per-model
profile is the model's ``heads_profile.json`` (``GET /v1/models/<id>/heads``). Everything here is
pure and torch-free.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from headgaze.service.analysis.grid import hide_first_token
from headgaze.service.analysis.head_analysis import ALL_TAGS, THRESHOLDS, heads_stats, thresholds_doc

TAGS = ALL_TAGS  # the page filters and counts every tag, "sink" (needs value norms) included

__all__ = ["TAGS", "THRESHOLDS", "heads_stats", "thresholds_doc", "hide_first_token", "tag_counts",
           "tagged_heads", "matrix_csv", "head_summary"]

# Short codes for the badges' hover text and the legend.
TAG_LABELS = {
    "previous-token": "previous token",
    "first-token": "first token (sink)",
    "self": "self",
    "next-token": "next token",
    "broad": "broad",
    "focused": "focused",
    "induction": "induction",
    "duplicate-token": "duplicate token",
    "sink": "sink: mostly on a first token that passes on little",
}
TEXT_SCORES = ("previous", "first", "self", "next", "entropy", "first_norm", "sink")
PROFILE_SCORES = (*TEXT_SCORES, "induction", "duplicate")


def tag_counts(tags: list | None) -> dict[str, int]:
    """How many heads carry each tag, for [L][H][list of tags] (all TAGS, 0 when none)."""
    counts = dict.fromkeys(TAGS, 0)
    for row in tags or []:
        for head_tags in row:
            for t in head_tags:
                counts[t] = counts.get(t, 0) + 1
    return counts


def tagged_heads(tags: list | None, tag: str) -> list[tuple[int, int]]:
    """(layer, head) of every head that carries ``tag``."""
    return [(layer, head) for layer, row in enumerate(tags or []) for head, ts in enumerate(row) if tag in ts]


def matrix_csv(matrix: np.ndarray, tokens: list[str]) -> str:
    """The head's matrix as CSV: header row of key tokens, one row per query token (its text first)."""
    m = np.asarray(matrix, dtype=np.float64)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["query \\ key", *tokens])
    for q, name in enumerate(tokens):
        w.writerow([name, *(f"{v:.6f}" for v in m[q])])
    return buf.getvalue()


def _score(scores: dict | None, name: str, layer: int, head: int):
    values = (scores or {}).get(name)
    if values is None:
        return None
    try:
        return float(values[layer][head])
    except (IndexError, TypeError):
        return None


def head_summary(stats: dict | None, profile: dict | None, layer: int, head: int) -> dict:
    """One head's scores and tags, from this text's statistics (None: unavailable) and the model profile."""
    stats = stats or {}
    text_scores = {n: _score(stats.get("scores"), n, layer, head) for n in TEXT_SCORES}
    prof_scores = {}
    prof_tags = None
    if profile:
        prof_scores = {n: _score(profile.get("scores"), n, layer, head) for n in PROFILE_SCORES}
        try:
            prof_tags = list(profile["tags"][layer][head])
        except (KeyError, IndexError, TypeError):
            prof_tags = None
    return {
        "layer": layer,
        "head": head,
        "text_scores": text_scores,
        "text_tags": list(stats["tags"][layer][head]) if stats.get("tags") else [],
        "profile_scores": prof_scores,
        "profile_tags": prof_tags,
        "thresholds": stats.get("thresholds") or thresholds_doc(),
    }
