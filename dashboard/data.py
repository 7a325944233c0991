"""Data access for the dashboard: one place that talks to the attention backend.

The backend is either the HTTP service (through ``service.client.ServiceClient``) or an in-process
``service.engine.Engine``; both expose ``models()``, ``attention_grid(text, model)`` (per-head
max-pooled thumbnails, tokens, heads_stats) and ``head(text, model, layer, head)`` (one head's full
T×T matrix; with ``qk=True`` also its queries and keys). The dashboard never fetches every head's
full matrix: the model view is drawn from the thumbnails, and a head's matrix is fetched when the
head is selected. Both take ``weighting="value_norm"`` (weight × value norm, models with q/k only).
This module turns the answers into plain, cacheable dicts, caches them with flask-caching (the grid
by (model, text, weighting, hide-first), a head by the grid's key + layer + head + weighting, its
q/k by the same key + ``qk``) and maps every failure onto a :class:`DashboardError` whose message is
fit to show in the page.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import requests
from flask_caching import Cache

from headgaze.service.common.errors import ServiceError, ServiceUnavailable

from .views.constants import DEFAULT_MAX_CHARS

MAX_CHARS = DEFAULT_MAX_CHARS
WEIGHTINGS = ("attention", "value_norm")
PER_QUERY_STATS = ("max_weight", "argmax")  # parts of heads_stats the page does not use
PREDICTION_TOP_K = 5  # next tokens the hover view lists per token


class Backend(Protocol):
    """What the dashboard needs from the service client or the in-process engine."""

    def models(self) -> list[dict]: ...

    def attention_grid(self, text: str, model: str | None = None, weighting: str | None = None,
                       hide_first: bool = False) -> Any: ...

    def head(self, text: str, model: str | None, layer: int, head: int, *, qk: bool = False,
             weighting: str | None = None) -> Any: ...

    # optional: ``heads_profile(model) -> dict`` (the model's heads_profile.json)


@dataclass
class DashboardError(Exception):
    """An error the user should read in the page (``code`` is stable, ``message`` is for people)."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


def make_backend(service_url: str | None = None, engine: Any = None, timeout: float = 10.0) -> Backend:
    """Pick the backend: a given engine, else the HTTP service, else an in-process Engine."""
    if engine is not None:
        return engine
    if service_url:
        from headgaze.service.client import ServiceClient

        return ServiceClient(service_url, timeout=timeout)
    from headgaze.service.runtime.engine import Engine

    return Engine()


def compact_predictions(predictions: list[dict] | None) -> list | None:
    """The service's per-token predictions as the hover view needs them: per token
    ``{"top": [[text, probability], ...], "next": [text, probability, rank] | None}``."""
    if not predictions:
        return None
    out = []
    for p in predictions:
        nxt = p.get("next")
        out.append({"top": [[g["text"], float(np.exp(g["logprob"]))] for g in p.get("top", [])],
                    "next": None if nxt is None else [nxt["text"], float(np.exp(nxt["logprob"])), nxt.get("rank")]})
    return out


def validate_text(text: str | None, max_chars: int | None = MAX_CHARS) -> str:
    """Return the text to process or raise a DashboardError for empty/too long input (``max_chars``
    None: no limit of the page's own).

    Characters are Unicode code points, as the API counts them (an emoji is one)."""
    text = text or ""
    if not isinstance(text, str):  # the page's request store is the browser's: never trusted
        raise DashboardError("invalid_text", f"The text must be a string, not {type(text).__name__}.")
    if not text.strip():
        raise DashboardError("empty_text", f"Type some text first (at most {max_chars} characters).")
    if max_chars is not None and len(text) > max_chars:
        raise DashboardError(
            "text_too_long", f"The text has {len(text)} characters; at most {max_chars} are allowed."
        )
    return text


UNAVAILABLE = ("The attention service is not reachable right now (it may be stopped or busy). "
               "Press Process again once it is back.")


def translate(exc: Exception) -> DashboardError:
    """Map a backend exception onto a user-facing DashboardError (by type, never by name)."""
    if isinstance(exc, (ServiceUnavailable, requests.ConnectionError, requests.Timeout, ConnectionError,
                        TimeoutError)):
        return DashboardError("service_unavailable", UNAVAILABLE)
    if isinstance(exc, ServiceError):
        if exc.code in ("unknown_model", "model_not_found"):
            return DashboardError(exc.code, f"Unknown model: {exc.message}")
        if exc.code == "qk_unavailable":
            return DashboardError(exc.code, exc.message)
        return DashboardError(exc.code, f"The service refused the request: {exc.message}")
    return DashboardError("internal", f"Something went wrong while computing attention "
                                      f"({type(exc).__name__}: {exc}).")


class AttentionData:
    """Cached access to models and attention results for one dashboard app."""

    def __init__(self, backend: Backend | None, cache: Cache, *, backend_factory=None, max_chars: int = MAX_CHARS):
        if max_chars < 1:
            raise ValueError(f"max_chars must be >= 1, got {max_chars}")
        self.max_chars = int(max_chars)
        self._backend = backend
        self._factory = backend_factory
        self._lock = threading.Lock()
        self.cache = cache
        self._models: list[dict] = []

    # -- backend -----------------------------------------------------------------------------
    @property
    def backend(self) -> Backend:
        if self._backend is None:
            with self._lock:
                if self._backend is None:
                    self._backend = self._factory()
        return self._backend

    # -- models ------------------------------------------------------------------------------
    def models(self) -> list[dict]:
        """Model summaries; the last good answer is kept for when the service is down."""
        try:
            models = list(self.backend.models())
        except Exception as exc:  # service down at page load: fall back to what we knew
            if self._models:
                return self._models
            raise translate(exc) from exc
        self._models = models
        return models

    def model_info(self, model_id: str | None) -> dict | None:
        """Summary of one model from the last known list (no request when already known)."""
        models = self._models or self._safe_models()
        for m in models:
            if m.get("id") == model_id:
                return m
        return None

    def model_info_list(self) -> list[dict]:
        """The known model summaries (fetched once if needed; empty when the service is down)."""
        return self._models or self._safe_models()

    def qk_reason(self, model_id: str | None) -> str | None:
        """Why the model has no queries, keys or value norms (its manifest's ``qk_reason``), or None when
        it has them (or nothing is known of it: the service then answers for itself)."""
        info = self.model_info(model_id)
        if info is None or info.get("qk", True):
            return None
        return info.get("qk_reason") or "the export did not include them"

    def weighting(self, model_id: str | None, weighting: str | None) -> str:
        """The weighting the page can show for this model: "value_norm" only when asked and available."""
        return "value_norm" if weighting == "value_norm" and self.qk_reason(model_id) is None else "attention"

    def _safe_models(self) -> list[dict]:
        try:
            return self.models()
        except DashboardError:
            return []

    # -- attention ---------------------------------------------------------------------------
    @staticmethod
    def key(model: str | None, text: str, raw: bool = False) -> str:
        """Stable cache key for one (model, text) request (``raw``: a generated text, encoded as it is)."""
        digest = hashlib.sha256(f"{model}\x00{text}{chr(0) + 'raw' if raw else ''}".encode()).hexdigest()[:24]
        return f"headgaze:attn:{digest}"

    def lm_head(self, model_id: str | None) -> bool:
        """The model predicts next tokens and generates (its summary's ``lm_head``)."""
        return bool((self.model_info(model_id) or {}).get("lm_head"))

    @staticmethod
    def _call(fetch):
        """``fetch()`` (a backend call), every failure as a DashboardError."""
        try:
            return fetch()
        except DashboardError:
            raise
        except Exception as exc:
            raise translate(exc) from exc

    @staticmethod
    def _weighting_kw(weighting: str) -> dict:
        """The backend's keyword for a weighting (none for plain attention: any backend takes that)."""
        if weighting not in WEIGHTINGS:
            raise DashboardError("invalid_weighting", f"Unknown weighting {weighting!r}.")
        return {"weighting": weighting} if weighting != "attention" else {}

    def grid(self, text: str, model: str | None, hide_first: bool = False, weighting: str = "attention",
             raw: bool = False) -> dict:
        """The text's model-view data as a plain dict (cached): tokens, thumbnails float32 [L,H,t,t]
        with their token ``cells`` (pooled by the backend after the weighting — ``"value_norm"``: each
        row α_ij·‖f(x_j)‖ renormalised — and, with ``hide_first``, after hiding token 0), heads_stats
        (of the raw weights) without the per-query arrays; DashboardError for the page. ``key`` names
        the text's result, whichever thumbnails: the heads are cached under it. For a model with an
        LM head it also holds ``predictions`` (per token the top PREDICTION_TOP_K next tokens and the
        actual next one, as probabilities: what the hover view shows, fetched once per text).
        ``raw``: a generated text (template + prompt + answer) encoded as it is, exactly the ids the
        model generated; it is not the user's typing, so the page's character limit does not apply
        (the service's own limits do)."""
        text = validate_text(text, None if raw else self.max_chars)
        key = self.key(model, text, bool(raw))
        stored = key + (":hide-first" if hide_first else "") + (f":{weighting}" if weighting != "attention" else "")
        flag = {"hide_first": True} if hide_first else {}
        flag.update(self._weighting_kw(weighting))
        if raw:
            flag["raw"] = True
        if self.lm_head(model):
            flag.update(predictions=True, top_k=PREDICTION_TOP_K)
        hit = self.cache.get(stored)
        if hit is not None:
            return {**hit, "dashboard_cached": True, "latency_ms": 0.0}
        t0 = time.perf_counter()
        res = self._call(lambda: self.backend.attention_grid(text, model, **flag))
        latency = (time.perf_counter() - t0) * 1000.0
        stats = {k: v for k, v in (res.heads_stats or {}).items() if k not in PER_QUERY_STATS}
        data = {
            "key": key,
            "text": text,
            "model": res.model,
            "tokens": [dict(t) for t in res.tokens],
            "grid": np.asarray(res.grid, dtype=np.float32),
            "cells": [list(c) for c in res.cells],
            "layers": int(res.layers),
            "heads": int(res.heads),
            "timing_ms": dict(res.timing_ms or {}),
            "service_cached": bool(getattr(res, "cached", False)),
            "service_stats": stats or None,
            "raw": bool(raw),
            "provider": (self.model_info(res.model) or {}).get("provider"),
            "predictions": compact_predictions(getattr(res, "predictions", None)),
        }
        self.cache.set(stored, data)
        return {**data, "dashboard_cached": False, "latency_ms": latency}

    def head(self, res: dict, layer: int, head: int, weighting: str = "attention") -> np.ndarray:
        """One head's full float32 [T, T] matrix for the result ``res`` of :meth:`grid`, weighted by the
        backend as asked (cached by the result's key, layer, head and weighting); DashboardError for
        the page."""
        key = f"{res['key']}:{layer}:{head}" + (f":{weighting}" if weighting != "attention" else "")
        flag = self._weighting_kw(weighting)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        if res.get("raw"):
            flag["raw"] = True
        out = self._call(lambda: self.backend.head(res["text"], res["model"], layer, head, **flag))
        matrix = np.asarray(out.attention, dtype=np.float32)
        self.cache.set(key, matrix)
        return matrix

    def head_qk(self, res: dict, layer: int, head: int) -> dict:
        """The head's queries and keys float32 [T, d] as its attention used them (keys of the kv head
        it reads) and the score scale, one request per head (cached by the result's key, layer and
        head); DashboardError ``qk_unavailable`` with the manifest's reason for a model without them."""
        reason = self.qk_reason(res["model"])
        if reason is not None:
            raise DashboardError("qk_unavailable", f"{res['model']} has no queries or keys: {reason}.")
        key = f"{res['key']}:{layer}:{head}:qk"
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        raw = {"raw": True} if res.get("raw") else {}
        out = self._call(lambda: self.backend.head(res["text"], res["model"], layer, head, qk=True, **raw))
        qk = {"queries": np.asarray(out.queries, dtype=np.float32), "keys": np.asarray(out.keys, dtype=np.float32),
              "scale": float(out.scale), "kv_head": getattr(out, "kv_head", head)}
        self.cache.set(key, qk)
        if self.cache.get(f"{res['key']}:{layer}:{head}") is None:  # the same answer holds the raw weights
            self.cache.set(f"{res['key']}:{layer}:{head}", np.asarray(out.attention, dtype=np.float32))
        return qk

    def writes(self, res: dict, layer: int, head: int, queries: int) -> list[dict]:
        """What (layer, head) writes at each of the first `queries` tokens of the shown result, one request
        (cached by the result's key and the head)."""
        key = f"{res['key']}:{layer}:{head}:writes"
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        extra = {"raw": True} if res.get("raw") else {}
        out = self._call(lambda: self.backend.head(res["text"], res["model"], layer, head, writes=True,
                                                   query=list(range(queries)), **extra))
        self.cache.set(key, out.writes)
        return out.writes

    def ablate(self, res: dict, heads: list[list[int]]) -> dict:
        """The shown result's text with `heads` knocked out (POST /v1/ablate; cached by the result's key and
        the set of heads: every number is fetched once per text and mask)."""
        pairs = sorted({(int(layer), int(head)) for layer, head in heads})
        key = f"{res['key']}:ablate:" + ",".join(f"{layer}.{head}" for layer, head in pairs)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        extra = {"raw": True} if res.get("raw") else {}
        answer = self._call(lambda: self.backend.ablate(res["text"], res["model"], [list(p) for p in pairs], **extra))
        self.cache.set(key, answer)
        return answer

    def answer_without(self, prompt: str, model: str, chat: bool, heads: list[list[int]]) -> dict:
        """The greedy answer to `prompt` with `heads` knocked out (cached like an ablation)."""
        pairs = sorted({(int(layer), int(head)) for layer, head in heads})
        key = self.key(model, prompt) + f":answer:{chat}:" + ",".join(f"{layer}.{head}" for layer, head in pairs)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        answer = self._call(lambda: self.backend.generate(prompt, model, chat=chat, ablate=[list(p) for p in pairs]))
        self.cache.set(key, answer)
        return answer

    def generate_stream(self, text: str, model: str | None, chat: bool | None = None,
                        max_new_tokens: int | None = None):
        """The backend's answer to ``text`` as ("token", {...}) events then ("done", answer), greedy
        (service/runtime/answers.py); bad input is a DashboardError before the first event."""
        params = {"chat": chat} if chat is not None else {}
        if max_new_tokens is not None:
            params["max_new_tokens"] = max_new_tokens
        return self._call(lambda: self.backend.generate(text, model, stream=True, **params))

    def layer(self, res: dict, layer: int, weighting: str = "attention") -> np.ndarray:
        """All heads of one layer, float32 [H, T, T], one (cached) head request each."""
        return np.stack([self.head(res, layer, h, weighting) for h in range(res["heads"])])

    # -- head analysis -----------------------------------------------------------------------
    def heads_stats(self, res: dict) -> dict | None:
        """The text's per-head statistics and tags as the backend computed them
        (``service.head_analysis.heads_stats``, per-query arrays dropped), with the model's
        causality; None when the backend sent none. Never guessed."""
        stats = res.get("service_stats")
        if stats is None:
            return None
        info = self.model_info(res["model"]) or {}
        return {**stats, "causal": info.get("causal")}

    def heads_profile(self, model: str) -> dict | None:
        """The model's per-head profile (``heads_profile.json``), or None when it has none."""
        key = f"headgaze:profile:{model}"
        hit = self.cache.get(key)
        if hit is not None:
            return hit or None
        fetch = getattr(self.backend, "heads_profile", None)
        if fetch is None:
            return None
        try:
            prof = fetch(model)
        except Exception as exc:
            # No profile: remember it. Service down or slow: remember for 30 s, so that selecting
            # heads does not wait on the service each time; the per-text tags still work.
            self.cache.set(key, {}, timeout=None if getattr(exc, "code", None) == "no_profile" else 30)
            return None
        prof = dict(prof) if isinstance(prof, dict) else {}
        self.cache.set(key, prof)
        return prof or None
