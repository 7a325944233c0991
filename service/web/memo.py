"""A small thread-safe LRU of pre-serialised JSON fragments, bounded by bytes.

The API keeps each text's `heads_stats` here, so a cached repeat does not recompute them
(a few ms for short texts, hundreds of ms at 128 tokens).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import orjson

from ..runtime.store import ByteLRU


class FragmentMemo(ByteLRU):
    def __init__(self, max_bytes: int = 32 << 20):
        super().__init__(max_bytes)

    def get_or_make(self, key: Hashable, make: Callable[[], object]) -> orjson.Fragment:
        """The serialised value for `key`, computing and keeping `make()` on a miss."""
        data = self.get(key)
        if data is None:
            data = orjson.dumps(make(), option=orjson.OPT_SERIALIZE_NUMPY)
            self.put(key, data, len(data))
        return orjson.Fragment(data)
