"""Causal or bidirectional, decided by what the model does rather than by its class name.

A probe run of the PyTorch reference on a few tokens: a causal model gives exact zeros above the
diagonal in every layer and head (also sliding-window layers, which zero even more); a
bidirectional one gives positive weights there. The config's own flags are recorded beside it.
"""

from __future__ import annotations

import numpy as np

PROBE_TOKENS = 8


def config_flags(config) -> dict:
    """What the config claims: is_decoder / is_causal where set, and the architecture's class name."""
    flags = {k: bool(getattr(config, k)) for k in ("is_decoder", "is_causal") if hasattr(config, k)}
    flags["architectures"] = list(getattr(config, "architectures", None) or [])
    return flags


def probe_attentions(model, ids: list[int]) -> list[np.ndarray]:
    import torch

    input_ids = torch.tensor([ids])
    with torch.no_grad():
        out = model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), output_attentions=True)
    return [a.float().numpy() for a in out.attentions]


def decide_causal(model, ids: list[int]) -> tuple[bool, dict]:
    """(causal, evidence): causal when every attention row is exactly zero beyond the diagonal."""
    ids = (list(ids) * PROBE_TOKENS)[:PROBE_TOKENS]
    attentions = probe_attentions(model, ids)
    upper = np.triu(np.ones((len(ids), len(ids)), dtype=bool), k=1)
    above = max(float(np.abs(a[..., upper]).max()) for a in attentions)
    evidence = {
        "decided_by": "probe",
        "probe_tokens": len(ids),
        "max_above_diagonal": above,
        "config": config_flags(model.config),
    }
    return above == 0.0, evidence
