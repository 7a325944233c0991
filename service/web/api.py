"""The HTTP API (Flask app factory): /v1/attention, /v1/attention/head, /v1/generate (JSON or server-sent
events), /v1/ablate (knock heads out), /v1/models, /healthz, /readyz, /metrics, /openapi.json."""

from __future__ import annotations

import hmac
import logging
import time

import orjson
from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .. import __version__
from ..analysis.weighting import shown
from ..common import sse
from ..common.encoding import check_format, encode
from ..common.errors import ServiceError, ServiceUnavailable
from ..runtime.answers import final
from ..runtime.engine import Engine
from .admission import Admission
from .http_server import MAX_BODY_BYTES, too_large_message
from .memo import FragmentMemo
from .metrics import Metrics
from .openapi import openapi_document

log = logging.getLogger("headgaze.service")

PREDICTION_FIELDS = ("predictions", "top_k", "raw")
ATTENTION_FIELDS = ("text", "model", "format", "detail", "weighting", "hide_first", *PREDICTION_FIELDS)
HEAD_FIELDS = ("text", "model", "layer", "head", "format", "qk", "weighting", *PREDICTION_FIELDS, "writes", "query")
GENERATE_FIELDS = ("text", "model", "max_new_tokens", "chat", "temperature", "top_p", "seed", "ablate")
ABLATE_FIELDS = ("text", "model", "heads", "top_k", "raw")
DETAILS = ("full", "grid")
JSON_OPTS = orjson.OPT_SERIALIZE_NUMPY
PUBLIC_PATHS = {"/healthz"}


def _json(obj, status: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(obj, option=JSON_OPTS), status=status, headers=headers,
                    mimetype="application/json")


def _error(exc: ServiceError) -> Response:
    return _json(exc.to_dict(), exc.status, exc.headers)


def _parse_body(fields: tuple[str, ...] = ATTENTION_FIELDS, required: tuple[str, ...] = ("text",)) -> dict:
    """The request's JSON object with only `fields` and all of `required`; ServiceError 415/400/413 for
    wrong type, bad UTF-8, bad JSON or a huge body."""
    if request.mimetype != "application/json":
        raise ServiceError(415, "unsupported_media_type",
                           f"Send the body as application/json, not {request.mimetype or 'no content type'!r}.")
    raw = request.get_data(cache=False)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ServiceError(400, "invalid_utf8", f"The body is not valid UTF-8 (byte {exc.start}).") from None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ServiceError(400, "invalid_json", f"The body is not valid JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise ServiceError(400, "invalid_json", "The body must be a JSON object like {\"text\": \"...\"}.")
    extra = sorted(set(body) - set(fields))
    if extra:
        shown = ", ".join(repr(k[:40]) for k in extra[:5])
        raise ServiceError(400, "unknown_field", f"Unknown field(s) {shown}; allowed: {', '.join(fields)}.")
    missing = [name for name in required if name not in body]
    if missing:
        raise ServiceError(400, "missing_field", f"Field {missing[0]!r} is required.")
    return body


def _finished(out: dict, res, predictions: bool, t0: float) -> dict:
    """An attention or head answer's common tail: the predictions when asked for, the timing (with the
    encoding since `t0`) and whether it was cached."""
    if predictions:
        out["predictions"] = res.predictions
    out["timing_ms"] = dict(res.timing_ms, encode=(time.perf_counter() - t0) * 1000)
    out["cached"] = res.cached
    return out


def _check_hide_first(value: object, detail: str) -> bool:
    if value is None or value is False:
        return False
    if value is not True:
        raise ServiceError(400, "invalid_type", "Field 'hide_first' must be a boolean.")
    if detail != "grid":
        raise ServiceError(400, "invalid_hide_first", "Field 'hide_first' applies to detail=grid only.")
    return True


def _check_detail(detail: object) -> str:
    if detail is None:
        return "full"
    if detail not in DETAILS:
        raise ServiceError(400, "invalid_detail", f"Unknown detail {str(detail)[:40]!r}; use one of: full, grid.")
    return detail  # type: ignore[return-value]


def create_app(engine: Engine, *, api_token: str | None = None, queue_limit: int = 8,
               max_body_bytes: int = MAX_BODY_BYTES, cache_desc: str = "simple") -> Flask:
    app = Flask("headgaze-service")
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    metrics = Metrics(cache_errors=lambda: engine.cache.errors, store_bytes=lambda: engine.store.bytes)
    admission = Admission(queue_limit)
    stats_memo = FragmentMemo()
    app.extensions["headgaze"] = {"engine": engine, "metrics": metrics, "admission": admission}
    engine.answers.on_token = lambda model: metrics.generated_tokens.labels(model).inc()

    @app.before_request
    def _start():
        g.t0 = time.perf_counter()
        if api_token and request.path not in PUBLIC_PATHS:
            header = request.headers.get("Authorization", "")
            scheme, _, given = header.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), api_token.encode()):
                raise ServiceError(401, "unauthorized", "A valid 'Authorization: Bearer <token>' header is required.",
                                   {"WWW-Authenticate": 'Bearer realm="headgaze"'})

    @app.after_request
    def _count(resp: Response):
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.requests.labels(endpoint, request.method, str(resp.status_code)).inc()
        elapsed = time.perf_counter() - g.get("t0", time.perf_counter())
        metrics.latency.labels(endpoint).observe(elapsed)
        resp.headers["Server-Timing"] = f"app;dur={elapsed * 1000:.3f}"
        return resp

    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError):
        return _error(exc)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc):
        return _error(ServiceError(413, "body_too_large", too_large_message(max_body_bytes)))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = (exc.name or "http_error").lower().replace(" ", "_")
        resp = _error(ServiceError(exc.code or 500, code, exc.description or exc.name))
        if exc.code == 405 and exc.valid_methods:
            resp.headers["Allow"] = ", ".join(exc.valid_methods)
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error(ServiceError(500, "internal_error", "The service failed unexpectedly; see its log."))

    def enter() -> None:
        """Take a place in the queue (503 overloaded when full)."""
        try:
            admission.acquire()
        except ServiceUnavailable:
            metrics.rejected.inc()
            raise
        metrics.in_flight.inc()

    def leave() -> None:
        metrics.in_flight.dec()
        admission.release()

    def admitted(run):
        """`run()` inside the queue limit (503 overloaded when full), counting model runs and cache use."""
        enter()
        try:
            res = run()
        finally:
            leave()
        (metrics.cache_hits if res.cached else metrics.cache_misses).labels(res.model).inc()
        if not res.cached:
            metrics.model_runs.labels(res.model).inc()
            metrics.inference.labels(res.model).observe(res.timing_ms["inference"] / 1000)
            metrics.batch_size.labels(res.model).observe(getattr(res, "batch_size", 1))
        return res

    @app.post("/v1/attention")
    def attention():
        body = _parse_body()
        fmt = check_format(request.args.get("format", body.get("format")))
        detail = _check_detail(request.args.get("detail", body.get("detail")))
        hide_first = _check_hide_first(body.get("hide_first"), detail)
        text, model = body["text"], body.get("model")
        weighting = engine.check_weighting(model, request.args.get("weighting", body.get("weighting")))
        want, top_k = engine.check_predictions(model, body.get("predictions"), body.get("top_k"))
        res = admitted(lambda: engine.compute(text, model, full=detail == "full", predictions=want, top_k=top_k,
                                              raw=body.get("raw")))
        t = time.perf_counter()
        out = {"model": res.model, "tokens": res.tokens, "layers": res.layers, "heads": res.heads,
               "weighting": weighting}
        if detail == "full":
            out["attentions"] = encode(shown(res.attentions, res.value_norms, weighting), fmt)
        else:
            grid, cells = engine.grid(res, weighting, hide_first)
            out["grid"] = {**encode(grid, fmt), "pool": "max", "cells": cells}
        out["value_norms"] = None if res.value_norms is None else encode(res.value_norms, fmt)
        out["heads_stats"] = stats_memo.get_or_make((res.model, text, body.get("raw") is True),
                                                    lambda: engine.stats(res))
        return _json(_finished(out, res, want, t))

    @app.post("/v1/attention/head")
    def attention_head():
        body = _parse_body(HEAD_FIELDS, ("text", "layer", "head"))
        fmt = check_format(request.args.get("format", body.get("format")))
        model = engine.model_id(body.get("model"))
        weighting = request.args.get("weighting", body.get("weighting"))
        want, top_k = engine.check_predictions(model, body.get("predictions"), body.get("top_k"))
        res = admitted(lambda: engine.head(body["text"], model, body["layer"], body["head"],
                                           qk=body.get("qk", False), weighting=weighting, predictions=want,
                                           top_k=top_k, raw=body.get("raw"), writes=body.get("writes"),
                                           query=body.get("query")))
        t = time.perf_counter()
        out = {"model": res.model, "layer": res.layer, "head": res.head, "tokens": res.tokens,
               "weighting": res.weighting, "attention": encode(res.attention, fmt)}
        for name in ("value_norms", "queries", "keys", "scores"):
            value = getattr(res, name)
            out[name] = None if value is None else encode(value, fmt)
        out["kv_head"], out["scale"] = res.kv_head, res.scale
        if res.writes is not None:
            out["writes"] = res.writes
        return _json(_finished(out, res, want, t))

    @app.post("/v1/generate")
    def generate():
        body = _parse_body(GENERATE_FIELDS)
        model = engine.model_id(body.get("model"))
        params = {name: body.get(name) for name in GENERATE_FIELDS[2:]}
        stream = request.accept_mimetypes[sse.MIMETYPE] > request.accept_mimetypes["application/json"]
        enter()
        try:
            events = engine.generate_stream(body["text"], model, **params)
        except BaseException:
            leave()
            raise
        metrics.generate_requests.labels(model, str(stream).lower()).inc()

        def finish(finished: bool) -> None:
            leave()
            if not finished:
                metrics.generate_cancelled.labels(model).inc()

        if stream:
            return Response(sse.EventStream(events, finish), mimetype=sse.MIMETYPE, headers=sse.HEADERS)
        try:
            answer = final(events)
        finally:
            finish(True)
        return _json(answer)

    @app.post("/v1/ablate")
    def ablate():
        body = _parse_body(ABLATE_FIELDS, ("text", "heads"))
        model = engine.model_id(body.get("model"))
        enter()
        try:
            out = engine.ablate(body["text"], model, body["heads"], top_k=body.get("top_k"), raw=body.get("raw"))
        finally:
            leave()
        metrics.ablations.labels(model, str(out["cached"]).lower()).inc()
        return _json(out)

    @app.get("/v1/models")
    def models():
        return _json({"default": engine.default_model, "models": engine.models()})

    @app.get("/v1/models/<model_id>/heads")
    def heads(model_id: str):
        return _json(engine.heads_profile(model_id))

    @app.get("/healthz")
    def healthz():
        return _json({"status": "ok", "version": __version__})

    @app.get("/readyz")
    def readyz():
        return _json({"status": "ready", "models": engine.model_ids(), "default": engine.default_model,
                      "cache": {"backend": cache_desc, "available": engine.cache.available(),
                                "errors": engine.cache.errors},
                      "queue": {"limit": admission.queue_limit, "in_flight": admission.in_flight}})

    @app.get("/metrics")
    def prom():
        data, ctype = metrics.render()
        return Response(data, headers={"Content-Type": ctype})

    @app.get("/openapi.json")
    def openapi():
        return _json(openapi_document(engine.model_ids(), engine.max_chars))

    return app
