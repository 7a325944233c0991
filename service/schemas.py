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


TEXT = Field(min_length=1, description="Not blank; no NUL/control characters except tab and newlines.")
MODEL = Field(None, description="A loaded model id; default: the default model.")


class AttentionRequest(Closed):
    text: str = TEXT
    model: str | None = MODEL
    format: Literal["float16", "json"] = "float16"
    detail: Literal["full", "grid"] = Field("full", description=(
        "full: every head's T×T matrix in `attentions` (texts up to --max-full-tokens tokens; longer ones "
        "get 422 full_detail_too_large); grid: per-head max-pooled thumbnails in `grid` instead (up to the "
        "model's max_tokens)"))
    hide_first: bool = Field(False, description=(
        "detail=grid only: pool the thumbnails after removing the weight on token 0 and renormalising each "
        "query row over the other keys (a row with nothing left is zeros); heads_stats keep the raw weights"))


class HeadRequest(Closed):
    text: str = TEXT
    model: str | None = MODEL
    layer: int = Field(ge=0, description="0 .. layers-1 of the model")
    head: int = Field(ge=0, description="0 .. heads-1 of the model")
    format: Literal["float16", "json"] = "float16"


class Token(Closed):
    text: str = Field(description="input[start:end], or the token name for specials without a span")
    id: int
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    special: bool


class Encoded(Closed):
    dtype: Literal["float16", "float32"]
    encoding: Literal["base64", "json"]
    byte_order: Literal["little"] | None = Field(None, description="float16 only")


def _shape(dims: str) -> Any:
    return Field(min_length=len(dims.split(",")), max_length=len(dims.split(",")),
                 description=f"[{dims}]; row = query token, column = key token")


def _data(dims: str) -> Any:
    return Field(description="base64 of little-endian float16 C-order bytes (float16), or nested lists "
                             f"[{dims}] of float32 values (json)")


Matrix4 = str | list[list[list[list[float]]]]


class Attentions(Encoded):
    shape: Annotated[list[int], _shape("layers, heads, T, T")]
    data: Matrix4 = _data("L][H][T][T")


class GridArray(Encoded):
    shape: Annotated[list[int], _shape("layers, heads, t, t")]
    data: Matrix4 = _data("L][H][t][t")
    pool: Literal["max"] = Field(description="each value is the max over its block of query × key tokens")
    cells: list[Annotated[list[int], Field(min_length=2, max_length=2)]] = Field(
        description="t = min(T, 32) blocks [start, end) of token indices, the same for queries and keys")


class HeadMatrix(Encoded):
    shape: Annotated[list[int], _shape("T, T")]
    data: str | list[list[float]] = _data("T][T")


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
    """detail=full"""

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


class AttentionGridResponse(Closed):
    """detail=grid: per-head thumbnails instead of the full attentions"""

    model: str
    tokens: list[Token]
    layers: int
    heads: int
    grid: GridArray
    heads_stats: HeadsStats
    timing_ms: Timing
    cached: bool


class HeadResponse(Closed):
    """One head's full T×T matrix"""

    model: str
    layer: int
    head: int
    tokens: list[Token]
    attention: HeadMatrix
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


COMPONENTS = (Error, AttentionRequest, AttentionResponse, AttentionGridResponse, HeadRequest, HeadResponse,
              ModelList, HeadsProfile, Health, Ready)
