"""waitress, with the errors waitress answers itself (oversize body, malformed request) as JSON too.

waitress refuses some requests before the Flask app sees them: a body over its
``max_request_body_size`` (Content-Length or chunked), a broken chunked encoding, headers too large.
Its default answer is plain text; `JsonErrorTask` gives the same ``{"error": {"code", "message"}}``
document the API uses. The body limit is the app's (`MAX_BODY_BYTES`); waitress's own limit is a
backstop above it (`BACKSTOP_BYTES`: bodies up to there are read whole, so a client still sending
sees the answer), and every oversize body gets the one answer ``413 body_too_large``.
"""

from __future__ import annotations

import orjson
from waitress import create_server
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.task import ErrorTask

MAX_BODY_BYTES = 64 * 1024
BACKSTOP_BYTES = 1 << 20  # waitress reads bodies up to here, so the app answers and the client reads it


def too_large_message(limit: int = MAX_BODY_BYTES) -> str:
    return f"The request body is larger than {limit} bytes."


class JsonErrorTask(ErrorTask):
    """waitress's error response as the API's JSON error document."""

    def execute(self):
        e = self.request.error
        if e.code == 413:
            code, message = "body_too_large", too_large_message(self.channel.server.headgaze_body_limit)
        else:
            code, message = e.reason.lower().replace(" ", "_"), f"{e.reason}: {e.body}."
        body = orjson.dumps({"error": {"code": code, "message": message}})
        self.status = f"{e.code} {e.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class JsonErrorChannel(HTTPChannel):
    error_task_class = JsonErrorTask


def waitress_body_limit(max_body_bytes: int = MAX_BODY_BYTES) -> int:
    """waitress's own max_request_body_size: well above the app's limit (raw bytes, chunk framing included)."""
    return max(BACKSTOP_BYTES, 2 * max_body_bytes + 1)


def make_server(app, *, max_body_bytes: int = MAX_BODY_BYTES, **options):
    """A waitress server for `app` whose own error answers are JSON; call ``.run()``."""
    server = create_server(app, max_request_body_size=waitress_body_limit(max_body_bytes), **options)
    listeners = [server] if isinstance(server, BaseWSGIServer) else [
        s for s in server.map.values() if isinstance(s, BaseWSGIServer)]
    for listener in listeners:
        listener.channel_class = JsonErrorChannel
        listener.headgaze_body_limit = max_body_bytes
    return server
