"""Weight breakdown: how many parameters sit in embeddings, attention, MLP, norms and output heads.

The module tree is walked from the top; the outermost module with a recognisable role owns every
parameter below it (a norm inside an attention block counts as attention). Roles come from the
attribute name (`lm_head`, `wte`, opt's `fc1`/`fc2`, albert's `ffn`, `self_attn`), else from the
module's class (`nn.Embedding`, `…Attention`, `…MLP`, `…LayerNorm`/`…RMSNorm`, BERT's `…Output`).
Tied weights are counted once, so the parts always sum to the model's parameter count; "other"
holds whatever matched no role (0 for every family headgaze is tested with).
"""

from __future__ import annotations

import re

ROLES = ("embedding", "attention", "mlp", "norm", "head", "other")

# attribute names first: they are what the checkpoint's authors called the part
NAME_ROLES = (
    ("head", re.compile(r"^(lm_head|embed_out|cls|pooler|head|classifier|score|qa_outputs)$")),
    (
        "embedding",
        re.compile(
            r"^(wte|wpe|embed_\w+|\w*_embeddings?|embeddings|embedding_hidden_mapping_in|embeddings_project)$"
        ),
    ),
    ("mlp", re.compile(r"^(mlp|feed_forward|ffn|ffn_output|fc1|fc2|intermediate|block_sparse_moe)$")),
    (
        "attention",
        re.compile(r"^(attn|self_attn|self_attention|attention|cross_attn|relative_attention_bias)$"),
    ),
)
CLASS_ROLES = (
    ("norm", re.compile(r"(LayerNorm|RMSNorm|Norm)$")),
    ("embedding", re.compile(r"Embeddings?$")),
    ("attention", re.compile(r"Attention")),
    ("mlp", re.compile(r"(MLP|FeedForward|FFN|Intermediate)$")),
    # BERT-style blocks: `output` (dense + norm after the intermediate) is the MLP's second half
    ("mlp", re.compile(r"(?<!Self)Output$")),
)


def module_role(attr: str, module) -> str | None:
    """The role of a child module from its attribute name and class, or None to look inside it."""
    import torch

    for role, pattern in NAME_ROLES:
        if pattern.match(attr):
            return role
    if isinstance(module, torch.nn.Embedding):
        return "embedding"
    cls = type(module).__name__
    for role, pattern in CLASS_ROLES:
        if pattern.search(cls):
            return role
    return None


def _walk(module, role: str | None, seen: set[int], counts: dict[str, int]) -> None:
    for param in module.parameters(recurse=False):
        if id(param) not in seen:
            seen.add(id(param))
            counts[role or "other"] += param.numel()
    for attr, child in module.named_children():
        _walk(child, role or module_role(attr, child), seen, counts)


def weight_breakdown(model) -> dict:
    """Parameter counts by role (tied weights once) and attention's share of the transformer body.

    `attention_share` = attention / (total - embedding - head): the part of the layers' weights
    that attention holds, leaving out the vocabulary-sized input and output matrices.
    """
    counts = dict.fromkeys(ROLES, 0)
    _walk(model, None, set(), counts)
    total = sum(counts.values())
    if total != sum(p.numel() for p in model.parameters()):
        raise AssertionError("weight breakdown lost parameters")  # parameters() also counts each once
    body = total - counts["embedding"] - counts["head"]
    share = counts["attention"] / body if body else 0.0
    return {**counts, "total": total, "attention_share": round(share, 4)}
