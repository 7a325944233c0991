"""The hand-kept OpenAPI 3.0 document served at /openapi.json; tests check it against the real behaviour."""

from __future__ import annotations

from . import __version__
from .head_analysis import thresholds_doc


def _error(desc: str) -> dict:
    return {"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def openapi_document(model_ids: list[str], max_chars: int) -> dict:
    token = {
        "type": "object", "required": ["text", "id", "start", "end", "special"],
        "properties": {
            "text": {"type": "string", "description": "input[start:end], or the token name for specials without a span"},
            "id": {"type": "integer"}, "start": {"type": "integer", "minimum": 0},
            "end": {"type": "integer", "minimum": 0}, "special": {"type": "boolean"},
        },
    }
    grid = {"type": "array", "items": {"type": "array", "items": {"type": "number"}}, "nullable": True,
            "description": "[L][H]; null when the text is too short to show the pattern"}
    per_query = {"type": "array", "description": "[L][H][T]",
                 "items": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "headgaze attention service", "version": __version__,
                 "description": "Attention weights of every layer and head for a short text."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "Only when HEADGAZE_API_TOKEN is set; /healthz is exempt."}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "AttentionRequest": {
                    "type": "object", "required": ["text"], "additionalProperties": False,
                    "properties": {
                        "text": {"type": "string", "minLength": 1, "maxLength": max_chars,
                                 "description": "Not blank; no NUL/control characters except tab and newlines."},
                        "model": {"type": "string", "enum": model_ids, "description": "Default: the default model."},
                        "format": {"type": "string", "enum": ["float16", "json"], "default": "float16"},
                    },
                },
                "Token": token,
                "Attentions": {
                    "type": "object", "required": ["dtype", "shape", "data"],
                    "properties": {
                        "dtype": {"type": "string", "enum": ["float16", "float32"]},
                        "shape": {"type": "array", "items": {"type": "integer"}, "minItems": 4, "maxItems": 4,
                                  "description": "[layers, heads, T, T]; row = query token, column = key token"},
                        "encoding": {"type": "string", "enum": ["base64", "json"]},
                        "byte_order": {"type": "string", "enum": ["little"]},
                        "data": {"description": "base64 of little-endian float16 C-order bytes (float16), "
                                                "or nested lists [L][H][T][T] of float32 values (json)"},
                    },
                },
                "AttentionResponse": {
                    "type": "object",
                    "required": ["model", "tokens", "layers", "heads", "attentions", "heads_stats", "timing_ms", "cached"],
                    "properties": {
                        "model": {"type": "string"}, "tokens": {"type": "array", "items": {"$ref": "#/components/schemas/Token"}},
                        "layers": {"type": "integer"}, "heads": {"type": "integer"},
                        "attentions": {"$ref": "#/components/schemas/Attentions"},
                        "heads_stats": {
                            "type": "object", "required": ["scores", "max_weight", "argmax", "tags", "thresholds"],
                            "description": "service/head_analysis.py: per-head pattern scores (means over the query "
                                           "rows that can show them; causal models skip row 0), per-query max weight "
                                           "and argmax key, and tags by these thresholds: "
                                           + "; ".join(f"{tag}: {rule}" for tag, rule in thresholds_doc().items()),
                            "properties": {
                                "scores": {"type": "object", "properties": {
                                    k: grid for k in ("previous", "first", "self", "next", "entropy")}},
                                "max_weight": per_query, "argmax": per_query,
                                "tags": {"type": "array", "description": "[L][H] lists of tag names",
                                         "items": {"type": "array", "items": {"type": "array",
                                                                              "items": {"type": "string"}}}},
                                "thresholds": {"type": "object", "additionalProperties": {"type": "string"}},
                            },
                        },
                        "timing_ms": {"type": "object", "additionalProperties": {"type": "number"},
                                      "description": "tokenize, inference, total (engine) and encode"},
                        "cached": {"type": "boolean"},
                    },
                },
            },
        },
        "security": [{}, {"bearer": []}],
        "paths": {
            "/v1/attention": {"post": {
                "summary": "Attentions for one text",
                "parameters": [{"name": "format", "in": "query", "required": False,
                                "schema": {"type": "string", "enum": ["float16", "json"]}}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/AttentionRequest"}}}},
                "responses": {
                    "200": {"description": "Attentions", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/AttentionResponse"}}}},
                    "400": _error("Invalid JSON or UTF-8, wrong types, unknown fields or format"),
                    "401": _error("Missing or wrong bearer token"),
                    "404": _error("Unknown model"),
                    "413": _error("Body too large"),
                    "415": _error("Content type is not application/json"),
                    "422": _error("Empty text, text too long, too many tokens, or control characters"),
                    "503": _error("Queue full (with Retry-After)"),
                },
            }},
            "/v1/models": {"get": {"summary": "Loaded models with their manifest summaries",
                                   "responses": {"200": {"description": "{default, models: [...]}"},
                                                 "401": _error("Missing or wrong bearer token")}}},
            "/v1/models/{model_id}/heads": {"get": {
                "summary": "The model's head profile (heads_profile.json from make export): mean scores over "
                           "probe texts, induction/duplicate-token scores, tags and tag counts",
                "parameters": [{"name": "model_id", "in": "path", "required": True,
                                "schema": {"type": "string", "enum": model_ids}}],
                "responses": {"200": {"description": "{probe_texts, repeat, scores, tags, tag_counts, thresholds}"},
                              "401": _error("Missing or wrong bearer token"),
                              "404": _error("Unknown model (unknown_model) or no profile exported (no_profile)")}}},
            "/healthz": {"get": {"summary": "Liveness (never needs a token)", "security": [],
                                 "responses": {"200": {"description": "ok"}}}},
            "/readyz": {"get": {"summary": "Readiness: models loaded, cache state, queue",
                                "responses": {"200": {"description": "ready"},
                                              "401": _error("Missing or wrong bearer token")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics (text format)",
                                 "responses": {"200": {"description": "text/plain; version=0.0.4"},
                                               "401": _error("Missing or wrong bearer token")}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3"}}}},
        },
    }
