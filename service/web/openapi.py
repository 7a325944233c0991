"""The OpenAPI 3.1 document served at /openapi.json, generated from the pydantic models in service/web/schemas.py.

Only the per-deployment values (the loaded model ids, --max-chars) are filled in at request time.
"""

from __future__ import annotations

from functools import cache

from pydantic.json_schema import models_json_schema

from .. import __version__
from .schemas import (
    AblateRequest,
    AblateResponse,
    AttentionGridResponse,
    AttentionRequest,
    AttentionResponse,
    Error,
    GenerateRequest,
    GenerateResponse,
    HeadRequest,
    HeadResponse,
    HeadsProfile,
    Health,
    ModelList,
    Ready,
    TokenGuess,
)

REF = "#/components/schemas/{model}"
UNAUTHORIZED = "Missing or wrong bearer token"


@cache
def _schemas() -> dict:
    models = [(m, "validation") for m in (AttentionRequest, HeadRequest, GenerateRequest, AblateRequest)] + [
        (m, "serialization") for m in (AttentionResponse, AttentionGridResponse, HeadResponse, GenerateResponse,
                                       AblateResponse, TokenGuess, Error, ModelList, HeadsProfile, Health, Ready)]
    _, defs = models_json_schema(models, ref_template=REF)
    return defs["$defs"]


def _json(desc: str, *models: type) -> dict:
    refs = [{"$ref": REF.format(model=m.__name__)} for m in models or (Error,)]
    schema = refs[0] if len(refs) == 1 else {"oneOf": refs}
    return {"description": desc, "content": {"application/json": {"schema": schema}}}


def _body(model: type) -> dict:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}}


FORMAT_PARAM = {"name": "format", "in": "query", "required": False,
                "schema": {"type": "string", "enum": ["float16", "json"]}}
COMMON_ERRORS = {"_401": UNAUTHORIZED, "_404": "Unknown model",
                 "_413": "Body larger than the limit (body_too_large), chunked or not",
                 "_415": "Content type is not application/json",
                 "_503": "Queue full (overloaded, with Retry-After)"}


def _errors(**by_status: str) -> dict:
    return {status.lstrip("_"): _json(desc) for status, desc in by_status.items()}


def openapi_document(model_ids: list[str], max_chars: int) -> dict:
    schemas = {name: dict(schema) for name, schema in _schemas().items()}
    for name in ("AttentionRequest", "HeadRequest", "GenerateRequest", "AblateRequest"):
        request = schemas[name] = {**schemas[name]}
        props = request["properties"] = dict(request["properties"])
        props["text"] = {**props["text"], "maxLength": max_chars}
        props["model"] = {**props["model"], "anyOf": [{"type": "string", "enum": model_ids}, {"type": "null"}]}
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": "headgaze attention service", "version": __version__,
                 "description": "Attention weights of every layer and head for a short text. "
                                "Every error is JSON: {\"error\": {\"code\", \"message\"}}."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "Only when HEADGAZE_API_TOKEN is set; /healthz is exempt."}},
            "schemas": schemas,
        },
        "security": [{}, {"bearer": []}],
        "paths": {
            "/v1/attention": {"post": {
                "summary": "Attentions for one text: every head's full matrix (detail=full) or per-head thumbnails "
                           "(detail=grid)",
                "parameters": [FORMAT_PARAM, {"name": "detail", "in": "query", "required": False,
                                              "schema": {"type": "string", "enum": ["full", "grid"]}}],
                "requestBody": _body(AttentionRequest),
                "responses": {
                    "200": _json("Attentions (detail=full) or thumbnails (detail=grid)",
                                 AttentionResponse, AttentionGridResponse),
                    **_errors(_400="Invalid JSON or UTF-8, wrong types (top_k, predictions, raw), unknown fields, "
                                   "format or detail",
                              _422="Empty text, text too long, too many tokens, control characters, more tokens "
                                   "than --max-full-tokens with detail=full (full_detail_too_large), top_k out of "
                                   "range (invalid_top_k), predictions of a model without an LM head (no_lm_head)",
                              **COMMON_ERRORS),
                },
            }},
            "/v1/attention/head": {"post": {
                "summary": "One head's full T×T attention matrix (from the recent-results store when the text "
                           "was just computed)",
                "parameters": [FORMAT_PARAM],
                "requestBody": _body(HeadRequest),
                "responses": {
                    "200": _json("The head's matrix", HeadResponse),
                    **_errors(_400="Invalid JSON or UTF-8, wrong types (layer/head not integers), missing or "
                                   "unknown fields, format",
                              _422="Empty text, text too long, too many tokens, control characters, a layer/head "
                                   "the model does not have (invalid_layer, invalid_head), invalid_top_k, no_lm_head, "
                                   "a query outside the text (invalid_query), writes of a model without them (no_writes)",
                              **COMMON_ERRORS),
                },
            }},
            "/v1/generate": {"post": {
                "summary": "Generate an answer to the text (models with an LM head): JSON once, or with "
                           "`Accept: text/event-stream` server-sent events: `event: token` per new token (data "
                           "TokenGuess: id, text, logprob) and a final `event: done` (data GenerateResponse). "
                           "Closing the stream stops the generation.",
                "requestBody": _body(GenerateRequest),
                "responses": {
                    "200": {"description": "The answer (application/json) or its events (text/event-stream)",
                            "content": {"application/json": {"schema": {"$ref": REF.format(model="GenerateResponse")}},
                                        "text/event-stream": {"schema": {"type": "string"}}}},
                    **_errors(_400="Invalid JSON or UTF-8, wrong types (max_new_tokens, chat, temperature, top_p, "
                                   "seed, ablate), missing or unknown fields",
                              _422="Empty text, text too long, control characters, a prompt with no room left "
                                   "under max_tokens (too_many_tokens), max_new_tokens/temperature/top_p/seed out of "
                                   "range, no_lm_head (an encoder), no_chat_template",
                              **COMMON_ERRORS),
                },
            }},
            "/v1/ablate": {"post": {
                "summary": "Knock heads out (zero their context before the output projection) and compare with "
                           "the clean run: next-token predictions and per-token delta (causal LMs), or the cosine "
                           "of the final hidden states (models without an LM head)",
                "requestBody": _body(AblateRequest),
                "responses": {
                    "200": _json("The comparison", AblateResponse),
                    **_errors(_400="Invalid JSON or UTF-8, wrong types (heads not a list of integer pairs: "
                                   "invalid_heads; top_k, raw), missing or unknown fields",
                              _422="Empty text, text too long, too many tokens, control characters, heads out of "
                                   "range, duplicate or empty (invalid_heads), invalid_top_k, a model that cannot "
                                   "knock heads out (no_ablation)",
                              **COMMON_ERRORS),
                },
            }},
            "/v1/models": {"get": {"summary": "Loaded models with their manifest summaries",
                                   "responses": {"200": _json("{default, models: [...]}", ModelList),
                                                 **_errors(_401=UNAUTHORIZED)}}},
            "/v1/models/{model_id}/heads": {"get": {
                "summary": "The model's head profile (heads_profile.json from make export): mean scores over "
                           "probe texts, induction/duplicate-token scores, tags and tag counts",
                "parameters": [{"name": "model_id", "in": "path", "required": True,
                                "schema": {"type": "string", "enum": model_ids}}],
                "responses": {"200": _json("The head profile", HeadsProfile),
                              **_errors(_401=UNAUTHORIZED,
                                        _404="Unknown model (unknown_model) or no profile exported (no_profile)")}}},
            "/healthz": {"get": {"summary": "Liveness (never needs a token)", "security": [],
                                 "responses": {"200": _json("ok", Health)}}},
            "/readyz": {"get": {"summary": "Readiness: models loaded, cache state, queue",
                                "responses": {"200": _json("ready", Ready), **_errors(_401=UNAUTHORIZED)}}},
            "/metrics": {"get": {"summary": "Prometheus metrics",
                                 "responses": {"200": {"description": "Prometheus text format 0.0.4",
                                                       "content": {"text/plain": {"schema": {"type": "string"}}}},
                                               **_errors(_401=UNAUTHORIZED)}}},
            "/openapi.json": {"get": {"summary": "This document",
                                      "responses": {"200": {"description": "OpenAPI 3.1", "content": {
                                          "application/json": {"schema": {"type": "object"}}}},
                                          **_errors(_401=UNAUTHORIZED)}}},
        },
    }
