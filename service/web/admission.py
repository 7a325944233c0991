"""Queue limit: at most one request running plus `queue_limit` waiting; the rest get 503 + Retry-After."""

from __future__ import annotations

import threading
from contextlib import contextmanager

from ..common.errors import ServiceUnavailable


class Admission:
    def __init__(self, queue_limit: int, retry_after: int = 1):
        if queue_limit < 0:
            raise ValueError("queue_limit must be >= 0")
        self.queue_limit = queue_limit
        self.retry_after = retry_after
        self.in_flight = 0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Take a place, or raise ServiceUnavailable ("overloaded", Retry-After) when the queue is full."""
        with self._lock:
            if self.in_flight > self.queue_limit:
                raise ServiceUnavailable(
                    f"The service is busy ({self.in_flight} requests in progress, queue limit "
                    f"{self.queue_limit}); retry in {self.retry_after}s.",
                    code="overloaded", headers={"Retry-After": str(self.retry_after)},
                )
            self.in_flight += 1

    def release(self) -> None:
        with self._lock:
            self.in_flight -= 1

    @contextmanager
    def slot(self):
        self.acquire()
        try:
            yield
        finally:
            self.release()
