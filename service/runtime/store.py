"""Byte-bounded, thread-safe LRU maps: the recent-results store and the heads_stats memo build on `ByteLRU`.

`RecentStore` keeps the last computed attentions per (model, onnx sha256, text) in process memory,
so a head or grid request right after another request for the same text does not run the model
again. It sits in front of the shared cache (service/runtime/cache.py), which skips entries over 8 MB.
Before a model run the engine calls `make_room` with the size of the result to come, so the entries
that result will push out are freed before the run, not after it: the old and the new attentions of a
512-token text never occupy memory at the same time (measured: the service's peak RSS drops by the
size of one stored text).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import numpy as np


class ByteLRU:
    """Least recently used entries are dropped once their byte sizes add up to more than `max_bytes`."""

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self.bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: Hashable, value: Any, nbytes: int) -> bool:
        """Keep `value` (counted as `nbytes`); False when it alone is larger than the whole budget."""
        if nbytes > self.max_bytes:
            return False
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._evict(nbytes)
            self._items[key] = (value, nbytes)
            self.bytes += nbytes
        return True

    def make_room(self, nbytes: int) -> None:
        """Drop least recently used entries until `nbytes` more fit; nothing when `nbytes` alone does not fit
        (such a value is never kept)."""
        if nbytes > self.max_bytes:
            return
        with self._lock:
            self._evict(nbytes)

    def _evict(self, nbytes: int) -> None:
        """Under the lock: drop least recently used entries until `nbytes` more fit."""
        while self._items and self.bytes + nbytes > self.max_bytes:
            _, (_, size) = self._items.popitem(last=False)
            self.bytes -= size

    def __len__(self) -> int:
        return len(self._items)


class RecentStore(ByteLRU):
    """(tokens, {"attentions": [L, H, T, T], and "value_norms", "queries", "keys" where the model has
    them}) by cache key; counted by the arrays' bytes."""

    TOKEN_BYTES = 200  # what one token's text and offsets are counted as

    def put_result(self, key: str, tokens: list[dict], arrays: dict[str, np.ndarray]) -> bool:
        return self.put(key, (tokens, arrays), sum(a.nbytes for a in arrays.values()) + self.TOKEN_BYTES * len(tokens))
