"""Result cache built on flask-caching backends: in-process (default), filesystem or Redis.

A failing backend (Redis down, disk full) is logged and bypassed: the request is still answered.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from contextlib import nullcontext
from typing import Any
from urllib.parse import urlparse

import numpy as np

from ..common.errors import ConfigError
from .cache_codec import BytesSerializer, CorruptEntry, pack, unpack

log = logging.getLogger("headgaze.service")


def cache_key(model_id: str, onnx_sha256: str, text: str) -> str:
    """Stable, backend-safe key: model id + onnx sha256 + sha256 of the text."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"hg2:{model_id}:{onnx_sha256[:16]}:{digest}"


def make_backend(url: str | None, timeout: int = 3600, threshold: int = 256):
    """Build a flask-caching backend from a URL.

    ``None``/``""``/``simple`` → in-process SimpleCache; ``none`` → NullCache (caching off);
    ``filesystem:///path`` or ``file:///path`` → FileSystemCache; ``redis://…``/``rediss://…``/``unix://…`` → RedisCache.
    """
    backend = _backend(url, timeout, threshold)
    backend.serializer = BytesSerializer()  # entries are cache_codec bytes: nothing is ever unpickled
    return backend


def check_cache_url(url: str | None) -> str:
    """The backend kind a cache URL names (simple, none, filesystem, redis); ConfigError when it names none."""
    if not url or url == "simple":
        return "simple"
    if url == "none":
        return "none"
    parsed = urlparse(url)
    if parsed.scheme in ("filesystem", "file"):
        if not parsed.path:
            raise ConfigError(f"cache URL {url!r}: give a directory, e.g. filesystem:///var/cache/headgaze")
        return "filesystem"
    if parsed.scheme in ("redis", "rediss", "unix"):
        return "redis"
    raise ConfigError(
        f"unsupported cache URL {url!r}: use simple, none, filesystem:///dir or redis://host:port/db"
    )


def _backend(url: str | None, timeout: int, threshold: int):
    from flask_caching.backends import FileSystemCache, NullCache, RedisCache, SimpleCache

    kind = check_cache_url(url)
    if kind == "simple":
        return SimpleCache(threshold=threshold, default_timeout=timeout)
    if kind == "none":
        return NullCache()
    if kind == "filesystem":
        return FileSystemCache(urlparse(url).path, threshold=threshold, default_timeout=timeout)
    import redis

    client = redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return RedisCache(host=client, default_timeout=timeout, key_prefix="headgaze:")


def describe(url: str | None) -> str:
    """The cache URL without credentials, for logs."""
    if not url:
        return "simple"
    p = urlparse(url)
    if p.password:
        return url.replace(f":{p.password}@", ":***@")
    return url


class SafeCache:
    """Wraps a backend: errors are logged (at most every 30 s) and turn into misses / skipped writes.

    After an error the backend is skipped for `cooldown` seconds so a dead Redis does not add latency
    to every request.
    """

    def __init__(self, backend: Any, max_item_bytes: int = 8 << 20, cooldown: float = 5.0):
        self.backend = backend
        self.max_item_bytes = max_item_bytes
        self.cooldown = cooldown
        self.errors = 0
        self._down_until = 0.0
        self._last_log = 0.0
        self._lock = threading.Lock()
        # cachelib's SimpleCache is a plain dict whose pruning iterates it: serialise access across
        # waitress threads. Network/disk backends do their own locking.
        from flask_caching.backends import SimpleCache

        self._op_lock = threading.Lock() if isinstance(backend, SimpleCache) else nullcontext()

    def _failed(self, op: str, exc: Exception) -> None:
        now = time.monotonic()
        with self._lock:
            self.errors += 1
            self._down_until = now + self.cooldown
            if now - self._last_log > 30:
                self._last_log = now
                log.warning("cache %s failed, bypassing cache for %.0fs: %s: %s",
                            op, self.cooldown, type(exc).__name__, exc)

    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def get(self, key: str) -> tuple[list[dict], dict[str, np.ndarray]] | None:
        """(tokens, arrays) for `key`, or None on a miss, a failing backend or a malformed entry."""
        if not self.available():
            return None
        try:
            with self._op_lock:
                blob = self.backend.get(key)
        except Exception as exc:  # noqa: BLE001 - any backend failure is a miss
            self._failed("get", exc)
            return None
        if blob is None:
            return None
        try:
            return unpack(blob)
        except CorruptEntry as exc:
            self._failed("decode", exc)
            return None

    def set(self, key: str, tokens: list[dict], arrays: dict[str, np.ndarray]) -> bool:
        """Keep `arrays` (attentions and, where the model has them, value norms, queries, keys) under `key`."""
        if sum(a.size for a in arrays.values()) * 4 > self.max_item_bytes or not self.available():  # float32
            return False
        try:
            blob = pack(tokens, arrays)
            with self._op_lock:
                return bool(self.backend.set(key, blob))
        except Exception as exc:  # noqa: BLE001 - any backend failure skips the write
            self._failed("set", exc)
            return False
