"""Free loopback ports and a WSGI app served by waitress from a daemon thread."""

from __future__ import annotations

import socket
import threading


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    """Serve a WSGI app with waitress on a free port in a daemon thread; `url`, `close()`."""

    def __init__(self, wsgi_app, threads: int = 6, **waitress_options):
        from waitress import create_server

        self.server = create_server(wsgi_app, host="127.0.0.1", port=0, threads=threads, **waitress_options)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self._closing = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            self.server.run()
        except (OSError, ValueError):  # select() on the socket close() just shut: the way waitress stops
            if not self._closing:
                raise

    def close(self) -> None:
        self._closing = True
        self.server.close()
        self.thread.join(5)

    def __enter__(self) -> ServerThread:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
