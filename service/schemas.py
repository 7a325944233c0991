"""The API's request and response bodies as pydantic models: the one source /openapi.json is built from.

The handlers in service/api.py build plain dicts (fast for large attention arrays); the API tests
validate every response they receive against the served /openapi.json, so a field added, removed
or renamed on one side only fails a test. `extra="forbid"` makes each object closed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .head_analysis import SCORES, thresholds_doc


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Closed):
    code: str = Field(description="stable machine-readable code, e.g. text_too_long")
    message: str = Field(description="one human sentence")


class Error(Closed):
    """Every error answer, whatever the status."""

    error: ErrorDetail


class AttentionRequest(Closed):
    text: str = Field(min_length=1, description="Not blank; no NUL/control characters except tab and newlines.")
    model: str | None = Field(None, description="A loaded model id; default: the default model.")
    format: Literal["float16", "json"] = "float16"


class Token(Closed):
    text: str = Field(description="input[start:end], or the token name for specials without a span")
    id: int
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    special: bool


class Attentions(Closed):
    dtype: Literal["float16", "float32"]
    shape: Annotated[list[int], Field(min_length=4, max_length=4,
                                      description="[layers, heads, T, T]; row = query token, column = key token")]
    encoding: Literal["base64", "json"]
    byte_order: Literal["little"] | None = Field(None, description="float16 only")
    data: str | list[list[list[list[float]]]] = Field(
        description="base64 of little-endian float16 C-order bytes (float16), or nested lists [L][H][T][T] "
                    "of float32 values (json)")


Grid = list[list[float]] | None  # [L][H]; null when the text is too short to show the pattern
PerQuery = list[list[list[float]]]  # [L][H][T]
Tags = list[list[list[str]]]  # [L][H] lists of tag names


class Scores(Closed):
    previous: Grid
    first: Grid
    self: Grid
    next: Grid
    entropy: Grid


assert tuple(Scores.model_fields) == SCORES  # one list of per-text scores


class HeadsStats(Closed):
    scores: Scores
    max_weight: PerQuery
    argmax: Annotated[list[list[list[int]]], Field(description="[L][H][T] key index of each query's max")]
    tags: Tags
    thresholds: dict[str, str]


class Timing(Closed):
    tokenize: float = Field(description="ms tokenising (0 when cached)")
    queue: float = Field(description="ms waiting for the model (0 when cached)")
    inference: float = Field(description="ms of the onnxruntime run this request shared (0 when cached)")
    total: float = Field(description="ms in the engine, cache lookup included")
    encode: float = Field(description="ms encoding the response")


class AttentionResponse(Closed):
    model: str
    tokens: list[Token]
    layers: int
    heads: int
    attentions: Attentions
    heads_stats: HeadsStats = Field(description=(
        "service/head_analysis.py: per-head pattern scores (means over the query rows that can show them; "
        "causal models skip row 0), per-query max weight and argmax key, and tags by these thresholds: "
        + "; ".join(f"{tag}: {rule}" for tag, rule in thresholds_doc().items())))
    timing_ms: Timing
    cached: bool


class OnnxSummary(Closed):
    sha256: str
    bytes: int | None
    opset: int | None


class ModelSummary(Closed):
    """A loaded model: the manifest's summary fields (make export), how it runs, and `default`."""

    id: str
    display_name: str
    causal: bool
    layers: int
    heads: int
    max_tokens: int = Field(description="min(--max-tokens, the manifest's max_tokens)")
    onnx: OnnxSummary
    provider: str = Field(description="onnxruntime execution provider, e.g. CPUExecutionProvider")
    threads: int = Field(description="onnxruntime intra-op threads")
    default: bool
    architecture: str | None = None
    model_type: str | None = None
    kv_heads: int | None = None
    special_tokens: dict[str, int] | None = None
    weights: dict[str, float] | None = None
    parity: dict[str, Any] | None = None
    heads_profile: dict[str, Any] | None = None
    source: dict[str, Any] | None = None
    exporter: dict[str, Any] | None = None
    exported_at: str | None = None


class ModelList(Closed):
    default: str
    models: list[ModelSummary]


class Repeat(Closed):
    length: int
    seed: int
    tokens: int


class HeadsProfile(Closed):
    """heads_profile.json from make export: mean scores over probe texts plus induction/duplicate-token."""

    probe_texts: list[str]
    repeat: Repeat
    scores: dict[str, Grid] = Field(description="[L][H] per score; null where the model cannot show it (next on causal models)")
    tags: Tags
    tag_counts: dict[str, int]
    thresholds: dict[str, str]


class Health(Closed):
    status: Literal["ok"]
    version: str


class CacheState(Closed):
    backend: str
    available: bool
    errors: int


class QueueState(Closed):
    limit: int
    in_flight: int


class Ready(Closed):
    status: Literal["ready"]
    models: list[str]
    default: str
    cache: CacheState
    queue: QueueState


COMPONENTS = (Error, AttentionRequest, AttentionResponse, ModelList, HeadsProfile, Health, Ready)
