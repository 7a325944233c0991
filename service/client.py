"""A small Python client for the service's HTTP API (used by the dashboard); same AttentionResult as the engine."""

from __future__ import annotations

from urllib.parse import quote

import orjson
import requests

from .encoding import decode
from .errors import ServiceError, ServiceUnavailable
from .result import AttentionResult, GridResult, HeadResult


class ServiceClient:
    """`ServiceClient("http://127.0.0.1:8000")`: `.models()`, `.attention(text, model)`,
    `.attention_grid(text, model)`, `.head(text, model, layer, head)`, `.heads_profile(model)`, `.health()`.

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

    def _request(self, method: str, path: str, **kw) -> dict:
        url = self.base_url + path
        try:
            resp = self._session.request(method, url, timeout=self.timeout, **kw)
        except requests.Timeout:
            raise ServiceUnavailable(f"The attention service at {url} did not answer within {self.timeout}s.") from None
        except requests.RequestException as exc:
            raise ServiceUnavailable(
                f"Cannot reach the attention service at {url} ({type(exc).__name__}); is `python -m service` running?"
            ) from None
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

    def attention(self, text: str, model: str | None = None, weighting: str | None = None) -> AttentionResult:
        """Every head's full matrix (texts up to the service's --max-full-tokens); weighting="value_norm"
        for α_ij·‖f(x_j)‖ renormalised."""
        body = self._post("/v1/attention", self._payload(text, model, **self._weighting(weighting)))
        return AttentionResult(
            model=body["model"], tokens=body["tokens"], attentions=decode(body["attentions"]),
            layers=int(body["layers"]), heads=int(body["heads"]), timing_ms=dict(body.get("timing_ms", {})),
            cached=bool(body.get("cached")),
            causal=body["causal"] if "causal" in body else self.causal(body["model"]),
            heads_stats=body.get("heads_stats"), value_norms=_optional(body.get("value_norms")),
            weighting=body.get("weighting", "attention"),
        )

    def attention_grid(self, text: str, model: str | None = None, weighting: str | None = None,
                       hide_first: bool = False) -> GridResult:
        """Per-head max-pooled thumbnails float32 [L, H, t, t] with their token `cells` (weighted by the value
        norms with weighting="value_norm"; with `hide_first` pooled after hiding token 0), and heads_stats."""
        extra = {"hide_first": True} if hide_first else {}
        body = self._post("/v1/attention", self._payload(text, model, detail="grid", **extra,
                                                         **self._weighting(weighting)))
        return GridResult(
            model=body["model"], tokens=body["tokens"], grid=decode(body["grid"]), cells=body["grid"]["cells"],
            layers=int(body["layers"]), heads=int(body["heads"]), heads_stats=body["heads_stats"],
            timing_ms=dict(body["timing_ms"]), cached=bool(body["cached"]),
            value_norms=_optional(body.get("value_norms")), weighting=body.get("weighting", "attention"),
        )

    def head(self, text: str, model: str | None, layer: int, head: int, *, qk: bool = False,
             weighting: str | None = None) -> HeadResult:
        """One head's full float32 [T, T] matrix and value norms [T]; with qk=True also its queries, keys
        and scores before the softmax (-inf where masked)."""
        extra = {"qk": True} if qk else {}
        body = self._post("/v1/attention/head", self._payload(text, model, layer=layer, head=head, **extra,
                                                              **self._weighting(weighting)))
        return HeadResult(
            model=body["model"], layer=int(body["layer"]), head=int(body["head"]), tokens=body["tokens"],
            attention=decode(body["attention"]), timing_ms=dict(body["timing_ms"]), cached=bool(body["cached"]),
            value_norms=_optional(body.get("value_norms")), weighting=body.get("weighting", "attention"),
            queries=_optional(body.get("queries")), keys=_optional(body.get("keys")),
            scores=_optional(body.get("scores")), kv_head=body.get("kv_head"), scale=body.get("scale"),
        )

    def close(self) -> None:
        self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _optional(obj: dict | None):
    """decode(obj) (float16 on the wire: masked scores arrive as -inf), or None for a null field."""
    return None if obj is None else decode(obj)
