"""A small fake backend with the service's `.models()` / `.attention_grid()` / `.head()` shape, for
the tests that need a behaviour the real engine cannot show on demand (going down, a missing
profile, a request held open).

It raises the service's real exception types (`service.errors.ServiceError`,
`ServiceUnavailable`) and returns the real `service.result` types, pooled and scored by the service's
own code (`service.grid.max_pool`, `service.head_analysis.heads_stats`); everything else is
tested with the real MiniLM engine (see `minilm_engine` in test_units.py).
"""

from __future__ import annotations

import numpy as np

from headgaze.service.analysis.grid import max_pool
from headgaze.service.analysis.head_analysis import heads_stats
from headgaze.service.common.errors import ServiceUnavailable, unknown_model
from headgaze.service.common.result import AttentionResult, GridResult, HeadResult


class FakeBackend:
    MODELS = {"fake-causal": (4, 3, True), "fake-bert": (2, 5, False)}

    def __init__(self):
        self.calls = 0
        self.down = False

    def models(self):
        if self.down:
            raise ServiceUnavailable("down")
        return [{"id": k, "display_name": k.upper(), "causal": c, "layers": L, "heads": H,
                 "weights": {"embedding": 20e6, "attention": 20e6, "mlp": 60e6, "other": 0, "total": 100e6,
                             "attention_share": 0.25}}
                for k, (L, H, c) in self.MODELS.items()]

    def attention(self, text, model=None):
        self.calls += 1
        if self.down:
            raise ServiceUnavailable("down")
        model = model or "fake-causal"
        if model not in self.MODELS:
            raise unknown_model(model, list(self.MODELS))
        L, H, causal = self.MODELS[model]
        tokens = [{"text": "<s>", "id": 0, "start": 0, "end": 0, "special": True}]
        pos = 0
        for i, w in enumerate(text.split(" ")):
            piece = w if i == 0 else " " + w
            tokens.append({"text": piece, "id": i + 1, "start": pos, "end": pos + len(piece), "special": False})
            pos += len(piece)
        T = len(tokens)
        rng = np.random.default_rng(len(text))
        a = rng.random((L, H, T, T)).astype(np.float32)
        if causal:
            a = a * np.tril(np.ones((T, T), dtype=np.float32))
        a /= a.sum(-1, keepdims=True)
        return AttentionResult(model, tokens, a, L, H, {"tokenize": 0.1, "inference": 1.0, "total": 1.2}, False,
                               causal=causal)


    def attention_grid(self, text, model=None, weighting=None, hide_first=False):
        res = self.attention(text, model)
        grid, cells = max_pool(res.attentions, hide_first=hide_first)
        return GridResult(res.model, res.tokens, grid, cells, res.layers, res.heads,
                          heads_stats(res.attentions, res.causal), res.timing_ms, res.cached)

    def head(self, text, model, layer, head):
        """One head of the same deterministic weights (not counted in `calls`, not held by a gate)."""
        res = FakeBackend.attention(self, text, model)
        self.calls -= 1
        return HeadResult(res.model, layer, head, res.tokens, res.attentions[layer, head], res.timing_ms, res.cached)
