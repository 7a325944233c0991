"""A small fake backend with the service's `.models()` / `.attention()` shape (random row-stochastic
attention), for unit tests that need no model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FakeResult:
    model: str
    tokens: list[dict]
    attentions: np.ndarray
    layers: int
    heads: int
    timing_ms: dict
    cached: bool


class FakeError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ServiceUnavailable(FakeError):  # same name as service.errors.ServiceUnavailable
    def __init__(self, message="down"):
        super().__init__(503, "service_unavailable", message)


class FakeBackend:
    MODELS = {"fake-causal": (4, 3, True), "fake-bert": (2, 5, False)}

    def __init__(self):
        self.calls = 0
        self.down = False

    def models(self):
        if self.down:
            raise ServiceUnavailable()
        return [{"id": k, "display_name": k.upper(), "causal": c, "layers": L, "heads": H,
                 "weights": {"embedding": 20e6, "attention": 20e6, "mlp": 60e6, "other": 0, "total": 100e6,
                             "attention_share": 0.25}}
                for k, (L, H, c) in self.MODELS.items()]

    def attention(self, text, model=None):
        self.calls += 1
        if self.down:
            raise ServiceUnavailable()
        model = model or "fake-causal"
        if model not in self.MODELS:
            raise FakeError(404, "unknown_model", f"Unknown model {model!r}")
        L, H, causal = self.MODELS[model]
        words = text.split(" ")
        tokens = [{"text": "<s>", "id": 0, "start": 0, "end": 0, "special": True}]
        pos = 0
        for i, w in enumerate(words):
            piece = w if i == 0 else " " + w
            tokens.append({"text": piece, "id": i + 1, "start": pos, "end": pos + len(piece), "special": False})
            pos += len(piece)
        T = len(tokens)
        rng = np.random.default_rng(len(text))
        a = rng.random((L, H, T, T)).astype(np.float32)
        if causal:
            a = a * np.tril(np.ones((T, T), dtype=np.float32))
        a /= a.sum(-1, keepdims=True)
        return FakeResult(model, tokens, a, L, H, {"tokenize": 0.1, "inference": 1.0, "total": 1.2}, False)
