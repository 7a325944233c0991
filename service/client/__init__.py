"""The client: a small Python client for the service's HTTP API (used by the dashboard), answering with the
same result types as the engine (service.common.result). Imports service.common, requests and numpy
only: importable without onnxruntime."""

from __future__ import annotations

from urllib.parse import quote

import orjson
import requests

from ..common import sse
from ..common.encoding import decode
from ..common.errors import ServiceError, ServiceUnavailable
from ..common.result import AttentionResult, GridResult, HeadResult

DEFAULT_TOP_K = 5


class ServiceClient:
    """`ServiceClient("http://127.0.0.1:8000")`: `.models()`, `.attention(text, model)`,
    `.attention_grid(text, model)`, `.head(text, model, layer, head)`, `.heads_profile(model)`, `.health()`,
    `.generate(text, model, stream=False, **params)` (`.generate_stream` for the events),
    `.ablate(text, model, heads)`; `predictions=`, `top_k=` and `raw=` on the attention calls, as on the engine.

    4xx/5xx answers raise ServiceError with the server's code and message; an unreachable or
    timed-out service raises ServiceUnavailable (503, "service_unavailable") naming the URL.
    """

    def __init__(self, base_url: str, timeout: float = 10.0, token: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._causal: dict[str, bool] = {}  # model id -> causal, from /v1/models
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"

    def _send(self, method: str, path: str, **kw) -> requests.Response:
        url = self.base_url + path
        try:
            return self._session.request(method, url, timeout=self.timeout, **kw)
        except requests.Timeout:
            raise ServiceUnavailable(f"The attention service at {url} did not answer within {self.timeout}s.") from None
        except requests.RequestException as exc:
            raise ServiceUnavailable(
                f"Cannot reach the attention service at {url} ({type(exc).__name__}); is `headgaze service` running?"
            ) from None

    def _request(self, method: str, path: str, **kw) -> dict:
        resp = self._send(method, path, **kw)
        return self._body(resp, self.base_url + path)

    @staticmethod
    def _body(resp: requests.Response, url: str) -> dict:
        try:
            body = orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            body = None
        if resp.status_code >= 400:
            err = body.get("error") if isinstance(body, dict) else None
            if isinstance(err, dict):
                code, message = str(err.get("code")), str(err.get("message"))
            else:
                code, message = "http_error", f"HTTP {resp.status_code} from {url}: {resp.text[:200]}"
            headers = {"Retry-After": resp.headers["Retry-After"]} if "Retry-After" in resp.headers else None
            if resp.status_code == 503:
                raise ServiceUnavailable(message, code=code, headers=headers)
            raise ServiceError(resp.status_code, code, message, headers)
        if not isinstance(body, dict):
            raise ServiceError(502, "bad_response", f"The service at {url} sent a response that is not a JSON object.")
        return body

    def health(self) -> dict:
        return self._request("GET", "/healthz")

    def ready(self) -> dict:
        return self._request("GET", "/readyz")

    def models(self) -> list[dict]:
        models = self._request("GET", "/v1/models")["models"]
        self._causal.update({m["id"]: bool(m["causal"]) for m in models if "causal" in m})
        return models

    def causal(self, model: str) -> bool | None:
        """Whether `model` is causal, from the service's model list (fetched once; None if unknown)."""
        if model not in self._causal:
            try:
                self.models()
            except ServiceError:
                return None
        return self._causal.get(model)

    def heads_profile(self, model: str) -> dict:
        """The model's per-head profile (`GET /v1/models/<id>/heads`, the export's heads_profile.json)."""
        return self._request("GET", f"/v1/models/{quote(model, safe='')}/heads")

    def _post(self, path: str, payload: dict) -> dict:
        return self._request("POST", path, data=orjson.dumps(payload), headers={"Content-Type": "application/json"})

    @staticmethod
    def _payload(text: str, model: str | None, **extra) -> dict:
        return {"text": text, **({} if model is None else {"model": model}), **extra}

    @staticmethod
    def _weighting(weighting: str | None) -> dict:
        return {} if weighting is None else {"weighting": weighting}

    @staticmethod
    def _extras(predictions: bool, top_k: int, raw: bool) -> dict:
        out = {"predictions": True, "top_k": top_k} if predictions else {}
        return {**out, "raw": True} if raw else out

    def attention(self, text: str, model: str | None = None, weighting: str | None = None, *,
                  predictions: bool = False, top_k: int = DEFAULT_TOP_K, raw: bool = False) -> AttentionResult:
        """Every head's full matrix (texts up to the service's --max-full-tokens); weighting="value_norm"
        for α_ij·‖f(x_j)‖ renormalised; predictions=True adds each token's next-token predictions (top_k);
        raw=True encodes the text as it is (a generated `text`: exactly its ids)."""
        body = self._post("/v1/attention", self._payload(text, model, **self._weighting(weighting),
                                                         **self._extras(predictions, top_k, raw)))
        return AttentionResult(
            model=body["model"], tokens=body["tokens"], attentions=decode(body["attentions"]),
            layers=int(body["layers"]), heads=int(body["heads"]), timing_ms=dict(body.get("timing_ms", {})),
            cached=bool(body.get("cached")),
            causal=body["causal"] if "causal" in body else self.causal(body["model"]),
            heads_stats=body.get("heads_stats"), value_norms=_optional(body.get("value_norms")),
            weighting=body.get("weighting", "attention"), predictions=body.get("predictions"), text=text,
        )

    def attention_grid(self, text: str, model: str | None = None, weighting: str | None = None,
                       hide_first: bool = False, *, predictions: bool = False, top_k: int = DEFAULT_TOP_K,
                       raw: bool = False) -> GridResult:
        """Per-head max-pooled thumbnails float32 [L, H, t, t] with their token `cells` (weighted by the value
        norms with weighting="value_norm"; with `hide_first` pooled after hiding token 0), and heads_stats."""
        extra = {"hide_first": True} if hide_first else {}
        body = self._post("/v1/attention", self._payload(text, model, detail="grid", **extra,
                                                         **self._weighting(weighting),
                                                         **self._extras(predictions, top_k, raw)))
        return GridResult(
            model=body["model"], tokens=body["tokens"], grid=decode(body["grid"]), cells=body["grid"]["cells"],
            layers=int(body["layers"]), heads=int(body["heads"]), heads_stats=body["heads_stats"],
            timing_ms=dict(body["timing_ms"]), cached=bool(body["cached"]),
            value_norms=_optional(body.get("value_norms")), weighting=body.get("weighting", "attention"),
            predictions=body.get("predictions"), text=text,
        )

    def head(self, text: str, model: str | None, layer: int, head: int, *, qk: bool = False,
             weighting: str | None = None, predictions: bool = False, top_k: int = DEFAULT_TOP_K,
             raw: bool = False, writes: bool = False, query: int | None = None) -> HeadResult:
        """One head's full float32 [T, T] matrix and value norms [T]; with qk=True also its queries, keys
        and scores before the softmax (-inf where masked); with writes=True what it writes into the
        vocabulary at token `query` (`.writes`: {"query", "promoted", "suppressed"})."""
        extra = {"qk": True} if qk else {}
        if writes:
            extra.update(writes=True, query=query)
        body = self._post("/v1/attention/head", self._payload(text, model, layer=layer, head=head, **extra,
                                                              **self._weighting(weighting),
                                                              **self._extras(predictions, top_k, raw)))
        return HeadResult(
            model=body["model"], layer=int(body["layer"]), head=int(body["head"]), tokens=body["tokens"],
            attention=decode(body["attention"]), timing_ms=dict(body["timing_ms"]), cached=bool(body["cached"]),
            value_norms=_optional(body.get("value_norms")), weighting=body.get("weighting", "attention"),
            queries=_optional(body.get("queries")), keys=_optional(body.get("keys")),
            scores=_optional(body.get("scores")), kv_head=body.get("kv_head"), scale=body.get("scale"),
            predictions=body.get("predictions"), text=text, writes=body.get("writes"),
        )

    def ablate(self, text: str, model: str | None, heads: list, *, top_k: int = DEFAULT_TOP_K,
               raw: bool = False) -> dict:
        """POST /v1/ablate: `text` with `heads` ([[layer, head], ...]) knocked out, compared with the clean run
        (the API's answer: baseline/ablated/delta for a causal LM, cosine/sentence_cosine otherwise)."""
        return self._post("/v1/ablate", self._payload(text, model, heads=heads, top_k=top_k, **({"raw": True} if raw else {})))

    def generate(self, text: str, model: str | None = None, *, stream: bool = False, **params):
        """POST /v1/generate: the final answer (a dict), or with stream=True an iterator of ("token",
        {"id", "text", "logprob"}) events then ("done", answer), read as they arrive. Parameters as the
        API's: max_new_tokens, chat, temperature, top_p, seed."""
        if stream:
            return self.generate_stream(text, model, **params)
        return self._post("/v1/generate", self._payload(text, model, **params))

    def generate_stream(self, text: str, model: str | None = None, **params):
        """The events of generate(stream=True). Closing the iterator (or leaving it unfinished and dropping
        it) closes the connection, and the service stops generating. 4xx raise before the first event."""
        path = "/v1/generate"
        resp = self._send("POST", path, data=orjson.dumps(self._payload(text, model, **params)), stream=True,
                          headers={"Content-Type": "application/json", "Accept": sse.MIMETYPE})
        if resp.status_code >= 400 or not resp.headers.get("Content-Type", "").startswith(sse.MIMETYPE):
            try:
                self._body(resp, self.base_url + path)
            finally:
                resp.close()
            raise ServiceError(502, "bad_response", f"The service at {self.base_url + path} did not stream events.")
        return _events(resp)

    def close(self) -> None:
        self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _events(resp: requests.Response):
    """(event, data) pairs of an SSE response; the connection is closed when the iterator ends or is closed."""
    try:
        yield from sse.parse(resp.iter_lines(decode_unicode=True))
    except requests.RequestException:
        raise ServiceUnavailable("The attention service closed the event stream before it ended.") from None
    finally:
        resp.close()


def _optional(obj: dict | None):
    """decode(obj) (float16 on the wire: masked scores arrive as -inf), or None for a null field."""
    return None if obj is None else decode(obj)
