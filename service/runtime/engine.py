"""The attention engine: one loaded model per export (service/runtime/loaded_model.py), text in, attentions [L,H,T,T] out.

`attention()` returns every layer's and head's full matrix for texts up to `max_full_tokens`;
`attention_grid()` (per-head max-pooled thumbnails) and `head()` (one head's full matrix, and on
request its queries, keys and scores before the softmax) serve texts up to each model's
`max_tokens`. For models exported with q/k (manifest `qk`), every run also fetches the value norms,
queries and keys: measured at 12 tokens, fetching them costs no onnxruntime time beyond noise
(`make bench`), and keeping them with the attentions in the recent-results store lets a head's q/k
be answered without a re-run. The shared cache gets the attentions and value norms only. Recent results
stay in a byte-bounded in-process store (service/runtime/store.py) in front of the shared cache, so a
head request after a grid request for the same text does not run the model again.

A model exported with q/k is served without T×T outputs (`from_qk`, service/runtime/qk_views.py): its
results keep queries, keys, value norms and a summary (thumbnails, row values, argmax keys) computed
right after the run (timing key `summary`), in the store and in the shared cache, and `full`, `grid`,
`stats` and `head` compute what they need from them.

Models with an LM head also answer next-token `predictions` (service/runtime/predictions.py, kept per text
and top_k beside the store) and generate answers (`generate`, `generate_stream`, service/runtime/answers.py).
`raw=True` encodes a text as it is (special token strings parsed, nothing added) or, for a text the
engine generated, as exactly the ids it was generated as. `ablate()` runs a text with heads knocked
out (service/runtime/ablation.py).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path

import numpy as np
import orjson

from ..analysis.head_analysis import heads_stats
from ..analysis.head_profile import PROFILE_FILE
from ..analysis.qk import qk_scores
from ..analysis.weighting import check_weighting, pooled, qk_unavailable, shown
from ..common import errors
from ..common.half import to_float32
from ..common.result import AttentionResult, GridResult, HeadResult
from . import ablation
from . import predictions as preds
from . import writes as writes_mod
from .answers import Answers, final, no_lm_head
from .batching import MicroBatcher
from .cache import SafeCache, cache_key, make_backend
from .generation import check_params
from .loaded_model import DEFAULT_MAX_FULL_TOKENS, LoadedModel
from .manifest import discover
from .providers import default_threads
from .qk_views import SUMMARY_KINDS
from .sequences import SequenceMemory, tokens_from_ids
from .store import ByteLRU, RecentStore
from .tokens import check_text, tokenize

log = logging.getLogger("headgaze.service")

DEFAULT_MODEL = "smollm2-135m"
DEFAULT_MAX_TOKENS = 512
DEFAULT_MAX_BATCH = 8
DEFAULT_STORE_MB = 256  # one 2,048-token SmolLM2 result (q/k/value norms and summary: 198 MiB), or five 512-token ones
DEFAULT_BATCH_MB = 320
MB = 1 << 20
WARMUP_TEXT = "Warm up the attention heads."
LOG_TOKENS = 1024  # a forward of this many tokens or more (seconds on a CPU) gets a line in the log before and after
# What goes to the shared cache (Redis etc.): queries and keys are 7x the attentions at 12 SmolLM2 tokens and
# only one head's are ever asked for, so they stay in this process's recent-results store; a q/k request
# for a text known only from the shared cache runs the model once.
SHARED_KINDS = ("attentions", "value_norms")


class Engine:
    """Loads every model under `models_dir` and answers `attention(text, model)`.

    Thread-safe: one onnxruntime run at a time uses all `threads` cores; requests that arrive while a
    model runs are micro-batched into its next run (up to `max_batch`, see batching.py); tokenising
    and cache look-ups run concurrently.
    """

    def __init__(self, models_dir="models", device="auto", threads=None, max_chars=4000, *,
                 max_tokens: int = DEFAULT_MAX_TOKENS, cache=None, warmup: bool = True, spinning: bool = False,
                 verify: bool = True, max_batch: int = DEFAULT_MAX_BATCH,
                 max_full_tokens: int = DEFAULT_MAX_FULL_TOKENS, store_mb: int = DEFAULT_STORE_MB,
                 batch_mb: int = DEFAULT_BATCH_MB):
        if max_chars < 1:
            raise errors.ConfigError(f"max_chars must be >= 1, got {max_chars}")
        if max_tokens < 2:
            raise errors.ConfigError(f"max_tokens must be >= 2, got {max_tokens}")
        self.models_dir = Path(models_dir)
        self.device = device
        self.threads = int(threads) if threads else default_threads()
        self.max_chars = int(max_chars)
        self.max_full_tokens = int(max_full_tokens)
        self.store = RecentStore(int(store_mb) * MB)
        self.cache = cache if isinstance(cache, SafeCache) else SafeCache(cache or make_backend(None))
        self._lock = threading.Lock()
        self.sequences = SequenceMemory()
        self.predicted = ByteLRU(32 * MB)  # (cache key, top_k) -> the API's predictions
        self.ablated = ByteLRU(16 * MB)  # (cache key, heads, top_k) -> a knock-out's answer
        self.write_inputs = ByteLRU(64 * MB)  # cache key -> (contexts [L, T, H*d], final_inv_rms [T]) for writes
        self.answers = Answers(self._lock, self.sequences)
        self._models: dict[str, LoadedModel] = {}
        self._batchers: dict[str, MicroBatcher] = {}
        for manifest in discover(self.models_dir):
            m = LoadedModel(manifest, device, self.threads, max_tokens, spinning, verify, self.max_full_tokens)
            self._models[m.id] = m
            cell_bytes = 0 if m.from_qk else manifest.layers * manifest.heads * 4  # T×T outputs per padded cell
            self._batchers[m.id] = MicroBatcher(m.run_batch, self._lock, max_batch, max_bytes=int(batch_mb) * MB,
                                                cell_bytes=cell_bytes, row_bytes=m.row_bytes)
            log.info("model %s: provider=%s threads=%d spinning=%s layers=%d heads=%d max_tokens=%d loaded in %.1fs",
                     m.id, m.provider, m.threads, spinning, manifest.layers, manifest.heads, m.max_tokens, m.load_seconds)
            if warmup:
                done = self._batchers[m.id].run(tokenize(m.tokenizer, WARMUP_TEXT, m.special_ids)[0])
                if m.views is not None:
                    m.views.summarize(done.output)
        self.default_model = DEFAULT_MODEL if DEFAULT_MODEL in self._models else next(iter(self._models))

    def model_ids(self) -> list[str]:
        return list(self._models)

    def models(self) -> list[dict]:
        """Summaries of the loaded models (the body of GET /v1/models)."""
        return [dict(m.summary(), default=(m.id == self.default_model)) for m in self._models.values()]

    def causal(self, model: str) -> bool:
        """Whether `model` (a loaded id) is causal, from its manifest."""
        return self._model(model).manifest.causal

    def heads_profile(self, model: str) -> dict:
        """The model's `heads_profile.json` written by `make export`; ServiceError 404 when absent."""
        m = self._model(model)
        path = m.manifest.path / PROFILE_FILE
        try:
            return orjson.loads(path.read_bytes())
        except FileNotFoundError:
            raise errors.ServiceError(404, "no_profile", f"Model {m.id!r} has no head profile; re-run `make export`.") from None
        except orjson.JSONDecodeError:
            raise errors.ServiceError(404, "no_profile", f"Model {m.id!r} has an unreadable head profile.") from None

    def model_id(self, model: str | None) -> str:
        """The loaded id `model` names (the default for None); ServiceError 400/404 otherwise."""
        return self._model(model).id

    def _model(self, model: str | None) -> LoadedModel:
        if model is None:
            return self._models[self.default_model]
        if not isinstance(model, str):
            raise errors.ServiceError(400, "invalid_type", "Field 'model' must be a string.")
        try:
            return self._models[model]
        except KeyError:
            raise errors.unknown_model(model, self.model_ids()) from None

    def attention(self, text: str, model: str | None = None, weighting: str | None = None, *,
                  predictions: bool = False, top_k: int = preds.DEFAULT_TOP_K, raw: bool = False) -> AttentionResult:
        """Attentions of every layer and head for `text`; raises ServiceError for bad input and, above
        `max_full_tokens` tokens, 422 full_detail_too_large (use `attention_grid` and `head`).
        weighting="value_norm" gives each row α_ij·‖f(x_j)‖ renormalised (service/analysis/weighting.py).
        predictions=True (models with an LM head) adds each token's next-token predictions (top_k of them);
        raw=True encodes the text as it is (see `compute`)."""
        weighting = self.check_weighting(model, weighting)
        res = self.compute(text, model, full=True, predictions=predictions, top_k=top_k, raw=raw)
        if weighting == "attention":
            return res
        return dataclasses.replace(res, attentions=shown(res.attentions, res.value_norms, weighting),
                                   weighting=weighting)

    def attention_grid(self, text: str, model: str | None = None, weighting: str | None = None,
                       hide_first: bool = False, *, predictions: bool = False, top_k: int = preds.DEFAULT_TOP_K,
                       raw: bool = False) -> GridResult:
        """Per-head thumbnails [L, H, t, t] (max-pooled, t = min(T, 32), after the weighting; with
        `hide_first` after hiding token 0) and heads_stats (always of the raw weights), up to max_tokens."""
        weighting = self.check_weighting(model, weighting)
        res = self.compute(text, model, predictions=predictions, top_k=top_k, raw=raw)
        grid, cells = self.grid(res, weighting, hide_first)
        return GridResult(res.model, res.tokens, grid, cells, res.layers, res.heads, self.stats(res), res.timing_ms,
                          res.cached, res.value_norms, weighting, res.predictions, res.text)

    def grid(self, res: AttentionResult, weighting: str, hide_first: bool = False) -> tuple[np.ndarray, list[list[int]]]:
        """Thumbnails [L, H, t, t] and cells of a computed result (analysis/weighting.py's `pooled`; for a
        from_qk model the kept ones, or the kernel's under value-norm weighting or hide_first)."""
        views = self._model(res.model).views
        if views is None:
            return pooled(res.attentions, res.value_norms, weighting, hide_first)
        if weighting == "attention" and not hide_first:
            return views.grid(_arrays(res), weighting, hide_first)
        with self._lock:
            return views.grid(_arrays(res), weighting, hide_first)

    def stats(self, res: AttentionResult) -> dict:
        """The API's heads_stats of a computed result (of the raw weights)."""
        m = self._model(res.model)
        if m.views is not None:
            return m.views.stats(_arrays(res))
        return heads_stats(res.attentions, m.manifest.causal, res.value_norms)

    def head(self, text: str, model: str | None, layer: object, head: object, *, qk: object = False,
             weighting: str | None = None, predictions: bool = False, top_k: int = preds.DEFAULT_TOP_K,
             raw: bool = False, writes: object = False, query: object = None) -> HeadResult:
        """One head's full float32 [T, T] matrix and value norms [T]; with qk=True also its queries, keys
        (of the kv head it reads) and scores before the softmax; with writes=True what it writes into the
        vocabulary at token `query` (service/runtime/writes.py). 400/422 for a layer or head the model does not
        have, 422 for a bad `qk` or `weighting` or q/k asked of a model without them."""
        m = self._model(model)
        self.check_head(m.id, layer, head)
        writes = preds.check_flag("writes", writes)
        if writes and not (m.predictions and m.predictions.has_writes):
            raise writes_mod.no_writes(m.id, "it has no LM head on the lean graph" if m.predictions is None
                                       else "a post-norm family, or exported before writes; re-run `make export`")
        if not isinstance(qk, bool):
            raise errors.ServiceError(422, "invalid_qk", "Field 'qk' must be true or false.")
        if qk and not m.manifest.qk:
            raise qk_unavailable(m.id, m.manifest.qk_reason)
        weighting = self.check_weighting(m.id, weighting)
        res = self.compute(text, m.id, need_qk=qk, predictions=predictions, top_k=top_k, raw=raw)
        vn = None if res.value_norms is None else res.value_norms[layer, head]
        if m.views is None:
            att = to_float32(res.attentions[layer, head])
        else:
            with self._lock:
                att = m.views.head(_arrays(res), layer, head)
        out = HeadResult(res.model, layer, head, res.tokens, shown(att, vn, weighting),
                         res.timing_ms, res.cached, vn, weighting, predictions=res.predictions, text=res.text)
        if writes:
            q = writes_mod.check_query(query, len(res.tokens))
            out = dataclasses.replace(out, writes=self._writes(m, text, raw, res.tokens, layer, head, q))
        if not qk:
            return out
        kv, scale = m.manifest.kv_head(head), m.manifest.scale(layer)
        q = to_float32(res.queries[layer, head])
        k = to_float32(res.keys[layer, kv])
        return dataclasses.replace(out, queries=q, keys=k, scores=qk_scores(q, k, scale, m.manifest.causal),
                                   kv_head=kv, scale=scale)

    def _writes(self, m: LoadedModel, text: str, raw: bool, tokens: list[dict], layer: int, head: int,
                query: int | list[int]) -> dict | list[dict]:
        """What (layer, head) writes at `query`; the text's contexts and final-norm scales are kept."""
        key = cache_key(f"{m.id}:raw" if raw else m.id, m.manifest.onnx_sha256, text)
        kept = self.write_inputs.get(key)
        if kept is None:
            ids = [t["id"] for t in tokens]
            with self._lock:
                arrays = m.run_contexts(ids)
                inv_rms = m.predictions.run(arrays, ids, 1)["final_inv_rms"]
            kept = (arrays["contexts"], inv_rms)
            self.write_inputs.put(key, kept, arrays["contexts"].nbytes + inv_rms.nbytes)
        with self._lock:
            return writes_mod.head_writes(m, kept[0], kept[1], layer, head, query)

    def lm_head(self, model: str | None) -> bool:
        """Whether `model` predicts next tokens and generates (manifest lm_head, its graphs loaded)."""
        return self._model(model).decoder is not None

    def check_predictions(self, model: str | None, predictions: object, top_k: object) -> tuple[bool, int]:
        """(predictions, top_k) of a request; 400/422 naming `predictions` or `top_k`, 422 no_lm_head for a
        model without an LM head."""
        m = self._model(model)
        want = preds.check_flag("predictions", predictions)
        k = preds.check_top_k(top_k, m.predictions.max_top_k if m.predictions else preds.MAX_TOP_K)
        if want and m.predictions is None:
            raise no_lm_head(m.id)
        return want, k

    def generate(self, text: str, model: str | None = None, *, stream: bool = False, **params):
        """The final answer (a dict, see service/runtime/answers.py) to `text`, or with stream=True the iterator of
        ("token", {"id", "text", "logprob"}) events then ("done", answer). Parameters: max_new_tokens
        (1..256, default 64), chat (default: the model's template when it has one), temperature (0 =
        greedy .. 2), top_p (0 < p <= 1), seed (int or None), ablate ([[layer, head], ...] knocked out).
        Every bad input raises ServiceError first."""
        events = self.generate_stream(text, model, **params)
        return events if stream else final(events)

    def generate_stream(self, text: str, model: str | None = None, *, max_new_tokens: object = None,
                        chat: object = None, temperature: object = None, top_p: object = None,
                        seed: object = None, ablate: object = None):
        """The events of `generate(..., stream=True)`; closing the iterator stops generating. `ablate`:
        [[layer, head], ...] knocked out while generating."""
        m = self._model(model)
        if m.decoder is None:
            raise no_lm_head(m.id)
        params = check_params(max_new_tokens, chat, temperature, top_p, seed)
        if ablate is not None:
            if m.ablation_kind is None:
                raise ablation.no_ablation(m.id, m.ablation_reason)
            pairs = ablation.check_heads(ablate, m.manifest.layers, m.manifest.heads, "ablate")
            params = dataclasses.replace(params, ablate=tuple(pairs))
        return self.answers.start(m, check_text(text, self.max_chars), params)

    def ablate(self, text: str, model: str | None, heads: object, *, top_k: object = preds.DEFAULT_TOP_K,
               raw: bool = False) -> dict:
        """The text run again with `heads` ([[layer, head], ...]) knocked out, compared with the clean run
        (service/runtime/ablation.py): for a causal LM `baseline` and `ablated` predictions and per token `delta`;
        otherwise per token `cosine` of the final hidden states and `sentence_cosine`. Kept per (text,
        heads, top_k). ServiceError for bad input, 422 no_ablation for a model that cannot."""
        t0 = time.perf_counter()
        m = self._model(model)
        if m.ablation_kind is None:
            raise ablation.no_ablation(m.id, m.ablation_reason)
        pairs = ablation.check_heads(heads, m.manifest.layers, m.manifest.heads)
        lm = m.ablation_kind == "predictions"
        k = preds.check_top_k(top_k, m.predictions.max_top_k) if lm else None
        raw = preds.check_flag("raw", raw)
        text = check_text(text, self.max_chars)
        key = (cache_key(f"{m.id}:raw" if raw else m.id, m.manifest.onnx_sha256, text), tuple(pairs), k)
        kept = self.ablated.get(key)
        if kept is not None:
            return {**kept, "timing_ms": {"baseline": 0.0, "ablated": 0.0,
                                          "total": (time.perf_counter() - t0) * 1000}, "cached": True}
        mask = ablation.head_mask(pairs, m.manifest.layers, m.manifest.heads)
        t1 = time.perf_counter()
        if lm:
            base = self.compute(text, m.id, predictions=True, top_k=k, raw=raw)
            tokens, baseline = base.tokens, base.predictions
            ids = [t["id"] for t in tokens]
            t2 = time.perf_counter()
            with self._lock:
                out = m.predictions.run(m.run_masked(ids, mask), ids, k)
            ablated = preds.entries(m.text_of, ids, out)
            body = {"baseline": baseline, "ablated": ablated, "delta": ablation.deltas(baseline, ablated)}
        else:
            ids, tokens = self._encode(m, text, raw)
            if len(ids) > m.max_tokens:
                raise errors.too_many_tokens(len(ids), m.max_tokens, m.id)
            feeds = m.feeds(ids)
            with self._lock:
                clean = m.hidden.run(feeds, None)
            t2 = time.perf_counter()
            with self._lock:
                gone = m.hidden.run(feeds, mask)
            body = {"cosine": [float(c) for c in ablation.cosines(clean, gone)],
                    "sentence_cosine": float(ablation.cosines(clean.mean(0, keepdims=True), gone.mean(0, keepdims=True))[0])}
        t3 = time.perf_counter()
        answer = {"model": m.id, "heads": [list(p) for p in pairs], "tokens": tokens, "kind": m.ablation_kind, **body}
        self.ablated.put(key, answer, len(orjson.dumps(answer)))
        return {**answer, "timing_ms": {"baseline": (t2 - t1) * 1000, "ablated": (t3 - t2) * 1000,
                                        "total": (t3 - t0) * 1000}, "cached": False}

    def check_weighting(self, model: str | None, weighting: object) -> str:
        """"attention" or "value_norm"; ServiceError 422 otherwise, or for value_norm on a model without q/k."""
        man = self._model(model).manifest
        return check_weighting(weighting, man.qk, man.qk_reason, man.id)

    def check_head(self, model: str, layer: object, head: object) -> None:
        """ServiceError 400 (not an integer) or 422 (out of range) for a layer/head `model` does not have."""
        man = self._model(model).manifest
        for what, value, count in (("layer", layer, man.layers), ("head", head, man.heads)):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < count:
                raise errors.bad_index(what, value, count, man.id)

    def compute(self, text: str, model: str | None = None, *, full: bool = False, need_qk: bool = False,
                predictions: bool = False, top_k: object = preds.DEFAULT_TOP_K, raw: bool = False) -> AttentionResult:
        """The attentions [L, H, T, T] of `text` (with value norms, queries and keys for qk models) from
        the recent-results store, the shared cache or the model.

        float32 up to `max_full_tokens` tokens, float16 above; `full=True` refuses texts above that bound;
        `need_qk` treats a stored result without queries and keys as a miss. `predictions` adds the
        next-token predictions (kept per text and top_k; a stored result without the LM head's inputs is
        run again). `raw`: the text is encoded as it is, no BOS added, special token strings parsed; a
        text this engine generated gets exactly its generated ids.
        """
        t0 = time.perf_counter()
        m = self._model(model)
        predictions, top_k = self.check_predictions(m.id, predictions, top_k)
        raw = preds.check_flag("raw", raw)
        text = check_text(text, self.max_chars)
        key = cache_key(f"{m.id}:raw" if raw else m.id, m.manifest.onnx_sha256, text)
        pred = self.predicted.get((key, top_k)) if predictions else None
        hit = self.store.get(key)
        if hit is None:
            hit = self.cache.get(key)
            if hit is not None:
                self.store.put_result(key, *hit)
        needed = set(m.kinds if need_qk else m.view_kinds)
        if predictions and pred is None:
            needed |= set(m.extra_names)
        if hit is not None and set(hit[1]) >= needed:
            tokens, arrays = hit
            if full and len(tokens) > self.max_full_tokens:
                raise errors.full_too_large(len(tokens), self.max_full_tokens)
            timing = {"tokenize": 0.0, "queue": 0.0, "inference": 0.0}
            if predictions:
                pred, timing["predictions"] = self._predictions(m, key, top_k, tokens, arrays, pred)
            timing["total"] = (time.perf_counter() - t0) * 1000
            return self._result(m, tokens, arrays, timing, True, 0, pred, text, full)
        ids, tokens = self._encode(m, text, raw)
        t1 = time.perf_counter()
        if len(ids) > m.max_tokens:
            raise errors.too_many_tokens(len(ids), m.max_tokens, m.id)
        if full and len(ids) > self.max_full_tokens:
            raise errors.full_too_large(len(ids), self.max_full_tokens)
        self.store.make_room(m.result_bytes(len(ids)))  # free what this result will push out before the run
        long = len(ids) >= LOG_TOKENS
        if long:
            log.info("model %s: running %d tokens through %d layers ...", m.id, len(ids), m.manifest.layers)
        done = self._batchers[m.id].run(ids, extra=predictions)
        timing = {"tokenize": (t1 - t0) * 1000, "queue": done.queue_ms, "inference": done.inference_ms}
        if m.views is not None:
            t2 = time.perf_counter()
            with self._lock:
                done.output.update(m.views.summarize(done.output))
            timing["summary"] = (time.perf_counter() - t2) * 1000
        if long:
            log.info("model %s: %d tokens: forward %.1f s (waited %.1f s), summary %.1f s", m.id, len(ids),
                     done.inference_ms / 1000, done.queue_ms / 1000, timing.get("summary", 0.0) / 1000)
        self.store.put_result(key, tokens, done.output)
        shared = m.view_kinds if m.views is not None else SHARED_KINDS
        self.cache.set(key, tokens, {kind: done.output[kind] for kind in shared if kind in done.output})
        if predictions:
            pred, timing["predictions"] = self._predictions(m, key, top_k, tokens, done.output, pred)
        timing["total"] = (time.perf_counter() - t0) * 1000
        return self._result(m, tokens, done.output, timing, False, done.batch_size, pred, text, full)

    def _encode(self, m: LoadedModel, text: str, raw: bool) -> tuple[list[int], list[dict]]:
        if not raw:
            return tokenize(m.tokenizer, text, m.special_ids)
        ids = self.sequences.get((m.id, text))
        if ids is not None:
            return list(ids), tokens_from_ids(m.tokenizer, ids, m.special_ids)[1]
        return tokenize(m.tokenizer, text, m.special_ids, add_special_tokens=False)

    def _predictions(self, m: LoadedModel, key: str, top_k: int, tokens: list[dict], arrays: dict,
                     kept: list | None) -> tuple[list, float]:
        """(the API's predictions, ms spent) from the kept ones or predictions.onnx on the stored inputs."""
        if kept is not None:
            return kept, 0.0
        t0 = time.perf_counter()
        ids = [t["id"] for t in tokens]
        with self._lock:
            out = m.predictions.run(arrays, ids, top_k)
        entries = preds.entries(m.text_of, ids, out)
        self.predicted.put((key, top_k), entries, 80 * len(ids) * (top_k + 1))
        return entries, (time.perf_counter() - t0) * 1000

    def _result(self, m: LoadedModel, tokens: list[dict], arrays: dict[str, np.ndarray], timing: dict, cached: bool,
                batch_size: int, predictions: list | None = None, text: str | None = None,
                full: bool = False) -> AttentionResult:
        """The result of `arrays`; `full` for a from_qk model: every head's weights computed from q/k."""
        att = arrays.get("attentions")
        summary = None
        if m.views is not None:
            summary = {kind: arrays[kind] for kind in SUMMARY_KINDS}
            if full:
                t0 = time.perf_counter()
                with self._lock:
                    att = m.views.full(arrays)
                timing["weights"] = (time.perf_counter() - t0) * 1000
                timing["total"] += timing["weights"]
        return AttentionResult(m.id, tokens, att, m.manifest.layers, m.manifest.heads, timing, cached, batch_size,
                               causal=m.manifest.causal, value_norms=arrays.get("value_norms"),
                               queries=arrays.get("queries"), keys=arrays.get("keys"), predictions=predictions,
                               text=text, summary=summary)


def _arrays(res: AttentionResult) -> dict[str, np.ndarray]:
    """What service/runtime/qk_views.py reads, from a from_qk model's result."""
    return {"queries": res.queries, "keys": res.keys, "value_norms": res.value_norms, **(res.summary or {})}
