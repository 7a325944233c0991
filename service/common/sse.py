"""Server-sent events for POST /v1/generate with `Accept: text/event-stream`.

`EventStream` is the response body: one `event: token` frame per new token and a final `event: done`
whose data is the answer, each `data:` one line of JSON. waitress calls `close()` when the response
ends or the client goes away (a write to a closed connection); closing stops the generation between
two steps and runs `on_close(finished)` exactly once, even when no frame was ever sent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import orjson

MIMETYPE = "text/event-stream"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def frame(event: str, data: dict) -> bytes:
    return b"event: " + event.encode("ascii") + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def parse(lines: Iterator[str]) -> Iterator[tuple[str, dict]]:
    """(event, data) pairs from an SSE text stream (the client's side of `frame`)."""
    event, data = "message", []
    for line in lines:
        if line == "":
            if data:
                yield event, orjson.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
    if data:
        yield event, orjson.loads("\n".join(data))


class EventStream:
    """An iterable response body over (kind, data) events, closable once."""

    def __init__(self, events: Iterator[tuple[str, dict]], on_close: Callable[[bool], None]):
        self._events = events
        self._on_close = on_close
        self._finished = False
        self._closed = False
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[bytes]:
        for kind, data in self._events:
            yield frame(kind, data)
        self._finished = True

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        close = getattr(self._events, "close", None)
        if close is not None:
            close()
        self._on_close(self._finished)
