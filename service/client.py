"""A small Python client for the service's HTTP API (used by the dashboard); same AttentionResult as the engine."""

from __future__ import annotations

from urllib.parse import quote

import orjson
import requests

from .encoding import decode
from .errors import ServiceError, ServiceUnavailable
from .result import AttentionResult


class ServiceClient:
    """`ServiceClient("http://127.0.0.1:8000")`: `.models()`, `.attention(text, model)`,
    `.heads_profile(model)`, `.health()`.

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

    def attention(self, text: str, model: str | None = None) -> AttentionResult:
        payload = {"text": text} if model is None else {"text": text, "model": model}
        body = self._request("POST", "/v1/attention", data=orjson.dumps(payload),
                             headers={"Content-Type": "application/json"})
        att = decode(body["attentions"])
        return AttentionResult(
            model=body["model"], tokens=body["tokens"], attentions=att, layers=int(body["layers"]),
            heads=int(body["heads"]), timing_ms=dict(body.get("timing_ms", {})), cached=bool(body.get("cached")),
            causal=body["causal"] if "causal" in body else self.causal(body["model"]),
            heads_stats=body.get("heads_stats"),
        )

    def close(self) -> None:
        self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
