"""A small thread-safe LRU of pre-serialised JSON fragments, bounded by bytes.

The API keeps each text's `heads_stats` here, so a cached repeat does not recompute them
(a few ms for short texts, hundreds of ms at 128 tokens).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import orjson


class FragmentMemo:
    def __init__(self, max_bytes: int = 32 << 20):
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get_or_make(self, key: Hashable, make: Callable[[], object]) -> orjson.Fragment:
        """The serialised value for `key`, computing and keeping `make()` on a miss."""
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
                return orjson.Fragment(data)
        data = orjson.dumps(make(), option=orjson.OPT_SERIALIZE_NUMPY)
        if len(data) <= self.max_bytes:
            with self._lock:
                if key not in self._items:
                    self._items[key] = data
                    self._bytes += len(data)
                    while self._bytes > self.max_bytes:
                        _, old = self._items.popitem(last=False)
                        self._bytes -= len(old)
        return orjson.Fragment(data)

    def __len__(self) -> int:
        return len(self._items)
