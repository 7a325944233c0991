"""Weight breakdown: how many parameters sit in embeddings, attention, MLP and the rest.

Attention is only part of a transformer; the dashboard shows its real share. Names are matched
by the conventions of HF modules (Llama-like `self_attn`/`mlp`, BERT-like `attention`/
`intermediate`/`output`); norms count as "other".
"""

from __future__ import annotations

import re

EMBEDDING = re.compile(r"embed")
ATTENTION = re.compile(r"(self_attn|\.attn\.|attention)")
MLP = re.compile(r"(mlp|intermediate|feed_forward|ffn|\.output\.dense)")
NORM = re.compile(r"norm", re.IGNORECASE)


def category(name: str) -> str:
    if NORM.search(name):
        return "other"
    if EMBEDDING.search(name):
        return "embedding"
    if ATTENTION.search(name):
        return "attention"
    if MLP.search(name):
        return "mlp"
    return "other"


def weight_breakdown(model) -> dict:
    """Parameter counts by category (tied weights counted once) and attention's share of non-embedding."""
    counts = {"embedding": 0, "attention": 0, "mlp": 0, "other": 0}
    for name, param in model.named_parameters():
        counts[category(name)] += param.numel()
    total = sum(counts.values())
    non_embedding = total - counts["embedding"]
    share = counts["attention"] / non_embedding if non_embedding else 0.0
    return {**counts, "total": total, "attention_share": round(share, 4)}
