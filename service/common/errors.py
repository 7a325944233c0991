"""The service's error type: every bad input becomes a ServiceError with an HTTP status, a code and a sentence."""

from __future__ import annotations


class ServiceError(Exception):
    """A client-visible failure: `status` (HTTP), `code` (stable machine string), `message` (human sentence)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = int(status)
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r}, message={self.message!r})"


class ServiceUnavailable(ServiceError):
    """The service cannot be reached, timed out, or is overloaded (503)."""

    def __init__(self, message: str, code: str = "service_unavailable", headers: dict[str, str] | None = None):
        super().__init__(503, code, message, headers)


class ConfigError(Exception):
    """A start-up configuration problem (bad models dir, cuda asked for where there is none, ...)."""


def empty_text() -> ServiceError:
    return ServiceError(422, "empty_text", "The text is empty or contains only whitespace.")


def text_too_long(length: int, limit: int) -> ServiceError:
    return ServiceError(
        422, "text_too_long", f"The text has {length} characters; the maximum is {limit}."
    )


def too_many_tokens(count: int, limit: int, model: str) -> ServiceError:
    return ServiceError(
        422, "too_many_tokens", f"The text makes {count} tokens; model {model!r} allows at most {limit}."
    )


def unknown_model(model: str, known: list[str]) -> ServiceError:
    shown = model if len(model) <= 80 else model[:77] + "..."
    return ServiceError(
        404, "unknown_model", f"Unknown model {shown!r}; available models: {', '.join(known) or 'none'}."
    )


def invalid_characters(what: str) -> ServiceError:
    return ServiceError(422, "invalid_characters", f"The text contains {what}, which cannot be analysed.")


def full_too_large(count: int, limit: int) -> ServiceError:
    return ServiceError(
        422, "full_detail_too_large",
        f"The text makes {count} tokens; full attentions are sent for at most {limit} tokens. "
        "Ask for \"detail\": \"grid\" (per-head thumbnails) and POST /v1/attention/head for one head's matrix.")


def bad_index(what: str, value: object, count: int, model: str) -> ServiceError:
    if not isinstance(value, int) or isinstance(value, bool):
        return ServiceError(400, "invalid_type", f"Field {what!r} must be an integer.")
    return ServiceError(422, f"invalid_{what}",
                        f"{what.capitalize()} {value} does not exist; model {model!r} has {what}s 0 to {count - 1}.")
