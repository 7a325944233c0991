"""The OpenAPI 3.1 document served at /openapi.json, generated from the pydantic models in service/schemas.py.

Only the per-deployment values (the loaded model ids, --max-chars) are filled in at request time.
"""

from __future__ import annotations

from functools import cache

from pydantic.json_schema import models_json_schema

from . import __version__
from .schemas import (
    AttentionRequest,
    AttentionResponse,
    Error,
    HeadsProfile,
    Health,
    ModelList,
    Ready,
)

REF = "#/components/schemas/{model}"
UNAUTHORIZED = "Missing or wrong bearer token"


@cache
def _schemas() -> dict:
    models = [(AttentionRequest, "validation")] + [
        (m, "serialization") for m in (AttentionResponse, Error, ModelList, HeadsProfile, Health, Ready)]
    _, defs = models_json_schema(models, ref_template=REF)
    return defs["$defs"]


def _json(desc: str, model: type | None = None) -> dict:
    schema = {"$ref": REF.format(model=(model or Error).__name__)}
    return {"description": desc, "content": {"application/json": {"schema": schema}}}


def _errors(**by_status: str) -> dict:
    return {status.lstrip("_"): _json(desc) for status, desc in by_status.items()}


def openapi_document(model_ids: list[str], max_chars: int) -> dict:
    schemas = {name: dict(schema) for name, schema in _schemas().items()}
    request = schemas["AttentionRequest"] = {**schemas["AttentionRequest"]}
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
                "summary": "Attentions for one text",
                "parameters": [{"name": "format", "in": "query", "required": False,
                                "schema": {"type": "string", "enum": ["float16", "json"]}}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": REF.format(model="AttentionRequest")}}}},
                "responses": {
                    "200": _json("Attentions", AttentionResponse),
                    **_errors(_400="Invalid JSON or UTF-8, wrong types, unknown fields or format",
                              _401=UNAUTHORIZED, _404="Unknown model",
                              _413="Body larger than the limit (body_too_large), chunked or not",
                              _415="Content type is not application/json",
                              _422="Empty text, text too long, too many tokens, or control characters",
                              _503="Queue full (overloaded, with Retry-After)"),
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
