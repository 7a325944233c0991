"""The page's Generate: ``POST <prefix>_headgaze/generate`` streams the backend's answer as
server-sent events, for answer_view.js to show token by token.

Body ``{"text", "model", "chat" (bool), "max_new_tokens" (optional)}``; the text is what the user
typed, so the page's character limit applies to it. The backend (the service's client or the
in-process engine) validates the rest and refuses bad input before the first event: that becomes a
JSON 4xx ``{"error": {"code", "message"}}`` here. Then one ``token`` event per new token and a
``done`` event with the answer (service/runtime/answers.py), or an ``error`` event if the backend fails
mid-way. When the page stops (Stop, another Generate, leaving) its connection closes; waitress then
closes this response, which closes the backend's stream, and the service stops generating.
"""

from __future__ import annotations

import orjson
from flask import Response, request

from headgaze.service.common import sse

from .data import AttentionData, DashboardError, translate, validate_text

ROUTE = "_headgaze/generate"
MAX_NEW_TOKENS = 64  # the page's answers: long enough for a short reply, quick on a CPU


def _error(status: int, code: str, message: str) -> Response:
    return Response(orjson.dumps({"error": {"code": code, "message": message}}), status=status,
                    mimetype="application/json")


def parse_body(body: object, max_chars: int) -> dict:
    """The generate request's fields, checked; DashboardError naming the bad one."""
    if not isinstance(body, dict):
        raise DashboardError("invalid_body", "The body must be a JSON object.")
    text = validate_text(body.get("text"), max_chars)
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise DashboardError("invalid_model", "Field 'model' must be a string.")
    chat = body.get("chat")
    if chat is not None and not isinstance(chat, bool):
        raise DashboardError("invalid_chat", "Field 'chat' must be true or false.")
    new = body.get("max_new_tokens", MAX_NEW_TOKENS)
    if not isinstance(new, int) or isinstance(new, bool):
        raise DashboardError("invalid_max_new_tokens", "Field 'max_new_tokens' must be an integer.")
    return {"text": text, "model": model, "chat": chat, "max_new_tokens": new}


def frames(events):
    """SSE frames of the backend's events; a failure after the first one is an ``error`` event. Closing
    this generator (waitress does when the page's connection is gone) closes the backend's stream."""
    try:
        for kind, data in events:
            yield sse.frame(kind, data)
    except Exception as exc:  # noqa: BLE001 - the stream has started: say it in the stream
        err = translate(exc)
        yield sse.frame("error", {"error": {"code": err.code, "message": err.message}})
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()


def install_generate_route(app, data: AttentionData) -> None:
    """Serve the generate stream under the app's routes prefix."""
    routes = app.config.routes_pathname_prefix

    def generate():
        try:
            body = parse_body(request.get_json(silent=True), data.max_chars)
            events = data.generate_stream(**body)
        except DashboardError as exc:
            return _error(503 if exc.code == "service_unavailable" else 422, exc.code, exc.message)
        return Response(frames(events), mimetype=sse.MIMETYPE, headers=sse.HEADERS)

    app.server.add_url_rule(f"{routes}{ROUTE}", endpoint=f"headgaze_generate_{routes}", view_func=generate,
                            methods=["POST"])
