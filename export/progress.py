"""Stage progress for the export: one line per stage with the seconds it took."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


class StageClock:
    """Prints `[id] stage ... done in N.Ns` lines and remembers each stage's duration."""

    def __init__(self, label: str, stream=None):
        self.label = label
        self.stream = stream or sys.stderr
        self.seconds: dict[str, float] = {}
        self._start = time.perf_counter()

    def say(self, message: str) -> None:
        elapsed = time.perf_counter() - self._start
        print(f"[{self.label} +{elapsed:6.1f}s] {message}", file=self.stream, flush=True)

    @contextmanager
    def stage(self, name: str, what: str) -> Iterator[None]:
        self.say(f"{name}: {what} ...")
        t0 = time.perf_counter()
        yield
        took = time.perf_counter() - t0
        self.seconds[name] = round(took, 2)
        self.say(f"{name}: done in {took:.1f}s")

    @property
    def total(self) -> float:
        return round(time.perf_counter() - self._start, 2)
