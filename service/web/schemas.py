"""The API's request and response bodies as pydantic models: the one source /openapi.json is built from.

The handlers in service/web/api.py build plain dicts (fast for large attention arrays); the API tests
validate every response they receive against the served /openapi.json, so a field added, removed
or renamed on one side only fails a test. `extra="forbid"` makes each object closed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..analysis.head_analysis import SCORES, thresholds_doc


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


WEIGHTING = Field("attention", description=(
    "attention: the softmax weights α_ij; value_norm: each row α_ij·‖f(x_j)‖ renormalised to sum to 1, "
    "with ‖f(x_j)‖ = ‖v_j W_O^h‖ the head's value norm of key j (Kobayashi et al. 2020); thumbnails are "
    "max-pooled after weighting. heads_stats always use the raw weights. 422 invalid_weighting for another "
    "value, 422 qk_unavailable for value_norm on a model exported without q/k"))


PREDICTIONS = Field(False, description=(
    "true: also send `predictions`, each token's next-token predictions (models with an LM head; 422 no_lm_head "
    "otherwise). Computed by the export's predictions.onnx from the last layer; kept per text and top_k"))
TOP_K = Field(5, ge=1, le=20, description="how many most likely next tokens per position (with predictions); "
                                          "400 invalid_type when not an integer, 422 invalid_top_k out of range")
RAW = Field(False, description=(
    "true: encode the text as it is: no BOS added, special token strings (<|im_start|>) parsed as their tokens. "
    "For a `text` POST /v1/generate returned, the exact ids it was generated as (remembered by the service)"))


class AttentionRequest(Closed):
    text: str = TEXT
    model: str | None = MODEL
    format: Literal["float16", "json"] = "float16"
    detail: Literal["full", "grid"] = Field("full", description=(
        "full: every head's T×T matrix in `attentions` (texts up to --max-full-tokens tokens; longer ones "
        "get 422 full_detail_too_large); grid: per-head max-pooled thumbnails in `grid` instead (up to the "
        "model's max_tokens)"))
    weighting: Literal["attention", "value_norm"] = WEIGHTING
    hide_first: bool = Field(False, description=(
        "detail=grid only: pool the thumbnails after removing the weight on token 0 and renormalising each "
        "query row over the other keys (a row with nothing left is zeros); heads_stats keep the raw weights"))
    predictions: bool = PREDICTIONS
    top_k: int = TOP_K
    raw: bool = RAW


class HeadRequest(Closed):
    text: str = TEXT
    model: str | None = MODEL
    layer: int = Field(ge=0, description="0 .. layers-1 of the model")
    head: int = Field(ge=0, description="0 .. heads-1 of the model")
    format: Literal["float16", "json"] = "float16"
    qk: bool = Field(False, description=(
        "true: also send the head's queries, keys (of the kv head it reads) and scores before the softmax; "
        "422 invalid_qk when not a boolean, 422 qk_unavailable for a model exported without q/k"))
    weighting: Literal["attention", "value_norm"] = WEIGHTING
    predictions: bool = PREDICTIONS
    top_k: int = TOP_K
    raw: bool = RAW
    writes: bool = Field(False, description=(
        "true: also send what the head writes into the vocabulary at token `query` (direct logit attribution; "
        "causal LMs on the lean graph, else 422 no_writes)"))
    query: int | list[int] | None = Field(None, description=(
        "the token index the writes are for, or a list of 1 to 64 of them (required with writes)"))


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


class ValueNorms(Encoded):
    """‖v_j W_O^h‖ per layer, head and token j: what token j passes on through that head."""

    shape: Annotated[list[int], Field(min_length=3, max_length=3, description="[layers, heads, T]")]
    data: str | list[list[list[float]]] = _data("L][H][T")


class HeadVector(Encoded):
    shape: Annotated[list[int], Field(min_length=1, max_length=1, description="[T]")]
    data: str | list[float] = _data("T")


class HeadVectors(Encoded):
    shape: Annotated[list[int], Field(min_length=2, max_length=2, description="[T, head_dim]; row = token")]
    data: str | list[list[float]] = _data("T][head_dim")


class HeadScores(Encoded):
    """q_i·k_j·scale before the softmax; masked entries (a causal model's keys after the query, j > i)
    are -inf in float16 and null with format=json. softmax of a row gives the head's attention row."""

    shape: Annotated[list[int], _shape("T, T")]
    data: str | list[list[float | None]] = _data("T][T")


Grid = list[list[float]] | None  # [L][H]; null when the text is too short to show the pattern
PerQuery = list[list[list[float]]]  # [L][H][T]
Tags = list[list[list[str]]]  # [L][H] lists of tag names


class Scores(Closed):
    previous: Grid
    first: Grid
    self: Grid
    next: Grid
    entropy: Grid
    first_norm: Grid = Field(description=(
        "mean over query rows of n_0 / median(n_j, the row's other visible keys), n = value norms; null "
        "without value norms"))
    sink: Grid = Field(description="mean over query rows of A[i, 0] × that ratio; null without value norms")


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
    predictions: float | None = Field(None, description="ms of predictions.onnx (0 when kept); only with predictions")
    summary: float | None = Field(None, description="ms computing the thumbnails and head-statistics rows from the "
                                  "queries and keys after the run (attention_source queries_keys, model runs only)")
    weights: float | None = Field(None, description="ms computing every head's weights from the queries and keys "
                                  "(attention_source queries_keys, detail=full only)")


class TokenGuess(Closed):
    """One token id with its text (the decode of that id alone, special tokens kept) and log-probability."""

    id: int
    text: str
    logprob: float = Field(description="natural log of the model's probability")


class NextToken(TokenGuess):
    """The token that really follows, with how the model ranked it."""

    rank: int = Field(ge=1, description="1 + how many tokens the model found more likely (1: its top choice)")


class Prediction(Closed):
    """What the model predicts after token t (from tokens 0..t)."""

    next: NextToken | None = Field(description="the actual next token t+1, its log-prob and rank; null for the last token")
    top: list[TokenGuess] = Field(description="the top_k most likely next tokens, sorted by log-prob (highest first)")


PREDICTION_LIST = Field(None, description="one per token; only when predictions were asked for")


class AttentionResponse(Closed):
    """detail=full"""

    model: str
    tokens: list[Token]
    layers: int
    heads: int
    attentions: Attentions
    value_norms: ValueNorms | None = Field(description=(
        "[L, H, T] ‖v_j W_O^h‖ in the same encoding as the weights; null for a model exported without q/k "
        "(GET /v1/models gives qk false and qk_reason)"))
    weighting: Literal["attention", "value_norm"]
    heads_stats: HeadsStats = Field(description=(
        "service/analysis/head_analysis.py: per-head pattern scores (means over the query rows that can show them; "
        "causal models skip row 0), per-query max weight and argmax key, and tags by these thresholds: "
        + "; ".join(f"{tag}: {rule}" for tag, rule in thresholds_doc().items())))
    timing_ms: Timing
    cached: bool
    predictions: list[Prediction] | None = PREDICTION_LIST


class AttentionGridResponse(Closed):
    """detail=grid: per-head thumbnails instead of the full attentions"""

    model: str
    tokens: list[Token]
    layers: int
    heads: int
    grid: GridArray
    value_norms: ValueNorms | None = Field(description=(
        "[L, H, T] ‖v_j W_O^h‖ in the same encoding as the weights; null for a model exported without q/k "
        "(GET /v1/models gives qk false and qk_reason)"))
    weighting: Literal["attention", "value_norm"]
    heads_stats: HeadsStats
    timing_ms: Timing
    cached: bool
    predictions: list[Prediction] | None = PREDICTION_LIST


class WrittenToken(Closed):
    id: int
    text: str
    score: float = Field(description="the head's raw, uncentred logit contribution to this token at the query")


class Writes(Closed):
    """What the head's output at `query` pushes up and down in the vocabulary: its output vector through the
    final norm (at that position's scale in the clean run) and the LM head."""

    query: int
    promoted: list[WrittenToken] = Field(description="the 10 largest contributions, largest first")
    suppressed: list[WrittenToken] = Field(description="the 10 smallest (most negative), smallest first")


class HeadResponse(Closed):
    """One head's full T×T matrix"""

    model: str
    layer: int
    head: int
    tokens: list[Token]
    weighting: Literal["attention", "value_norm"]
    attention: HeadMatrix
    value_norms: HeadVector | None = Field(description="[T] this head's value norms; null without q/k")
    queries: HeadVectors | None = Field(description="[T, d] as the attention used them (after rotary embedding); "
                                                    "null unless qk was asked for")
    keys: HeadVectors | None = Field(description="[T, d] of kv_head; null unless qk was asked for")
    scores: HeadScores | None = Field(description="null unless qk was asked for")
    kv_head: int | None = Field(description="the key/value head this query head reads: head // (heads / kv_heads)")
    scale: float | None = Field(description="the layer's attention scale in the scores")
    timing_ms: Timing
    cached: bool
    predictions: list[Prediction] | None = PREDICTION_LIST
    writes: Writes | list[Writes] | None = Field(None, description="only with writes=true; a list for a list of queries")


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
    qk: bool = Field(description="the model was exported with queries, keys and value norms")
    qk_reason: str | None = Field(description="why not, when qk is false")
    onnx: OnnxSummary
    provider: str = Field(description="onnxruntime execution provider, e.g. CPUExecutionProvider")
    attention_source: Literal["attentions", "queries_keys"] = Field(
        "attentions", description="where the weights come from: the graph's attentions outputs, or softmax(q·kᵀ·scale "
        "+ mask) of its queries and keys, computed by the service (no T×T matrix kept)")
    threads: int = Field(description="onnxruntime intra-op threads")
    default: bool
    lm_head: bool = Field(False, description="predicts next tokens (predictions) and generates (POST /v1/generate)")
    chat_template: bool = Field(False, description="has a chat template: /v1/generate's chat defaults to true")
    eos_token_ids: list[int] = Field([], description="generation stops on any of these ids")
    add_bos: bool | None = Field(None, description="whether a plain (not raw) text starts with the BOS token")
    max_top_k: int | None = Field(None, description="the largest top_k for predictions; null without an LM head")
    writes: bool = Field(False, description="says what a head writes into the vocabulary (writes on the head endpoint)")
    head_mask: bool = Field(False, description="its graphs take head_mask: heads can be knocked out")
    ablation: Literal["predictions", "hidden"] | None = Field(None, description=(
        "what POST /v1/ablate compares: next-token predictions (LM head) or final hidden states; null: none"))
    ablation_reason: str | None = Field(None, description="why not, when ablation is null")
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


class FirstTokenSummary(Closed):
    """On one text: first-token heads (first > 0.6) and in how many the first token's value norm n_0 is
    below the median of the other tokens'; median ratios n_0 / median(others)."""

    text: str
    tokens: int
    heads: int
    first_token_heads: int
    below_median: int
    median_ratio_first_token_heads: float | None
    median_ratio_other_heads: float | None


class HeadsProfile(Closed):
    """heads_profile.json from make export: mean scores over probe texts plus induction/duplicate-token."""

    probe_texts: list[str]
    repeat: Repeat
    scores: dict[str, Grid] = Field(description="[L][H] per score; null where the model cannot show it (next on causal models)")
    tags: Tags
    tag_counts: dict[str, int]
    thresholds: dict[str, str]
    first_token: FirstTokenSummary | None = Field(None, description="null for models without value norms")


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


class GenerateRequest(Closed):
    text: str = TEXT
    model: str | None = MODEL
    max_new_tokens: int = Field(64, ge=1, le=256, description="most new tokens; 422 invalid_max_new_tokens outside")
    chat: bool | None = Field(None, description=(
        "render the model's chat template around the text (one user message, generation prompt added); default: "
        "true where the model has a template; true without one is 422 no_chat_template. false: the plain text, "
        "encoded as /v1/attention encodes it"))
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="0: greedy (argmax); otherwise sampling from "
                                                               "softmax(logprobs / temperature)")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="sampling only: the smallest set of most likely tokens "
                                                          "whose probability reaches top_p")
    seed: int | None = Field(None, ge=0, le=2 ** 63 - 1, description=(
        "sampling only: numpy Generator seed; a seeded (or greedy) request is answered from the cache when repeated"))
    ablate: list[Annotated[list[int], Field(min_length=2, max_length=2)]] | None = Field(None, description=(
        "[layer, head] pairs knocked out while generating (as POST /v1/ablate's heads)"))


HEAD_PAIRS = Field(description="[layer, head] pairs to knock out: 1 to layers·heads distinct pairs of integers "
                               "in range (anything else is invalid_heads, naming the pair)")


class AblateRequest(Closed):
    text: str = TEXT
    model: str | None = MODEL
    heads: list[Annotated[list[int], Field(min_length=2, max_length=2)]] = HEAD_PAIRS
    top_k: int = TOP_K
    raw: bool = Field(False, description="encode the text as it is (a generated `text`: exactly its ids)")


class AblateTiming(Closed):
    baseline: float = Field(description="ms of the clean run (0 when it was kept)")
    ablated: float = Field(description="ms of the run with the heads knocked out")
    total: float


class AblateResponse(Closed):
    """The text with heads knocked out (zero ablation: their context set to 0 before the output
    projection), compared with the clean run. A causal LM answers `baseline`, `ablated` and `delta`;
    a model without an LM head answers `cosine` and `sentence_cosine`."""

    model: str
    heads: list[list[int]] = Field(description="the knocked-out pairs, sorted")
    kind: Literal["predictions", "hidden"] = Field(description="what was compared")
    tokens: list[Token]
    baseline: list[Prediction] | None = Field(None, description="predictions of the clean run (top_k per token)")
    ablated: list[Prediction] | None = Field(None, description="predictions with the heads knocked out")
    delta: list[float | None] | None = Field(None, description=(
        "per token: ablated minus baseline log-prob of the actual next token (nats; negative: the heads helped "
        "predict it); null for the last token"))
    cosine: list[float] | None = Field(None, description="per token: cosine of the final hidden state, clean vs "
                                                         "ablated (models without an LM head)")
    sentence_cosine: float | None = Field(None, description="cosine of the mean-pooled sentence embeddings")
    timing_ms: AblateTiming
    cached: bool


class GenerateTiming(Closed):
    first_token: float = Field(description="ms from the request to the first new token (prompt and prefill)")
    per_token: float = Field(description="mean ms per later token (0 for a one-token answer)")
    total: float


class GenerateResponse(Closed):
    """The final answer (also the `done` event's data when streamed)."""

    model: str
    text: str = Field(description="the whole sequence as the model saw it: template + prompt + answer (the decode "
                                  "of every id, special tokens kept). POST it to /v1/attention with raw=true to see "
                                  "the answer's attention on exactly these ids")
    chat: bool = Field(description="the chat template was used")
    ablate: list[list[int]] = Field([], description="the heads knocked out while generating")
    prompt_span: Annotated[list[int], Field(min_length=2, max_length=2)] | None = Field(
        description="[start, end) of the request's text inside `text`; null where it cannot be found")
    prompt_tokens: int = Field(description="tokens before the answer")
    answer_start: int = Field(description="index in `tokens` of the first generated token (= prompt_tokens)")
    tokens: list[Token] = Field(description="every token, as /v1/attention gives them; offsets into `text`")
    stop_reason: Literal["eos", "max_new_tokens", "max_tokens"] = Field(description=(
        "eos: the model produced an end-of-sequence id (the answer's last token); max_new_tokens; max_tokens: "
        "the sequence reached the model's max_tokens (GET /v1/models)"))
    timing_ms: GenerateTiming
    cached: bool


COMPONENTS = (Error, AttentionRequest, AttentionResponse, AttentionGridResponse, HeadRequest, HeadResponse,
              GenerateRequest, GenerateResponse, TokenGuess, AblateRequest, AblateResponse, ModelList, HeadsProfile,
              Health, Ready)
