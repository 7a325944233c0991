"""Pickle-free cache entries: tokens as JSON and the arrays (attentions, and where the model has them
value norms, queries and keys; a from_qk model's queries, keys, value norms and summary instead of
attentions) as raw little-endian float32 bytes (int32 for the argmax keys).

flask-caching's backends pickle by default, and unpickling what a shared Redis or a cache folder
hands back would let anyone who can write there run code in every replica. Entries are instead
`HG2` + header length + orjson header {tokens, arrays: [[name, shape, dtype], ...]} + the arrays'
bytes in that order; the backends get a
serializer that passes those bytes through and refuses anything else. A malformed entry is a miss.
"""

from __future__ import annotations

import struct
from typing import IO, Any

import numpy as np
import orjson
from cachelib.serializers import BaseSerializer

MAGIC = b"HG2"
NAMES = ("attentions", "value_norms", "queries", "keys", "thumbs", "rows", "argmax")
DTYPE = np.dtype("<f4")
DTYPES = {"<f4": DTYPE, "<i4": np.dtype("<i4")}  # what an array may be stored as
_HEADER_LEN = struct.Struct("<I")


class CorruptEntry(ValueError):
    """A cache value that is not a well-formed headgaze entry."""


def pack(tokens: list[dict], arrays: dict[str, np.ndarray]) -> bytes:
    """One entry for `arrays` (which must hold "attentions" or "queries"); integer arrays stay int32."""
    kinds = {name: "<i4" if np.issubdtype(a.dtype, np.integer) else "<f4" for name, a in arrays.items()}
    header = orjson.dumps({"tokens": tokens, "arrays": [[name, list(a.shape), kinds[name]] for name, a in arrays.items()]})
    body = b"".join(np.ascontiguousarray(a, dtype=DTYPES[kinds[name]]).tobytes() for name, a in arrays.items())
    return MAGIC + _HEADER_LEN.pack(len(header)) + header + body


def unpack(blob: bytes) -> tuple[list[dict], dict[str, np.ndarray]]:
    if not isinstance(blob, bytes | bytearray) or not blob.startswith(MAGIC):
        raise CorruptEntry("not a headgaze cache entry")
    start = len(MAGIC) + _HEADER_LEN.size
    (size,) = _HEADER_LEN.unpack_from(blob, len(MAGIC))
    try:
        header = orjson.loads(blob[start:start + size])
        tokens = header["tokens"]
        shapes = {str(entry[0]): tuple(int(n) for n in entry[1]) for entry in header["arrays"]}
        dtypes = {str(entry[0]): DTYPES[entry[2] if len(entry) > 2 else "<f4"] for entry in header["arrays"]}
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise CorruptEntry(f"bad header: {exc}") from None
    body = memoryview(blob)[start + size:]
    counts = {name: int(np.prod(shape)) for name, shape in shapes.items()}
    main = len(shapes.get("attentions", ())) == 4 or len(shapes.get("queries", ())) == 4
    if (not isinstance(tokens, list) or not main or not set(shapes) <= set(NAMES)
            or body.nbytes != sum(counts[name] * dtypes[name].itemsize for name in shapes)):
        raise CorruptEntry("shape and data size disagree")
    arrays, offset = {}, 0
    for name, shape in shapes.items():
        arrays[name] = np.frombuffer(body, dtype=dtypes[name], count=counts[name], offset=offset).reshape(shape)
        offset += counts[name] * dtypes[name].itemsize
    return tokens, arrays


class BytesSerializer(BaseSerializer):
    """cachelib serializer that never pickles: entries pass through as bytes, and the integers the
    filesystem backend keeps (its file count) are stored as ASCII. Anything else reads as a miss."""

    INT = b"i:"

    def dumps(self, value: Any, protocol: int | None = None) -> bytes:
        if type(value) is int:
            return self.INT + str(value).encode("ascii")
        if not isinstance(value, bytes):
            raise TypeError(f"cache values must be bytes, got {type(value).__name__}")
        return value

    def loads(self, bvalue: bytes | None) -> bytes | int | None:
        if bvalue is None or bvalue.startswith(MAGIC):
            return bvalue
        if bvalue.startswith(self.INT) and bvalue[len(self.INT):].isdigit():
            return int(bvalue[len(self.INT):])
        return None  # e.g. a pickle written by someone else: ignored, never loaded

    def dump(self, value: Any, f: IO[bytes], protocol: int | None = None) -> None:
        f.write(self.dumps(value))

    def load(self, f: IO[bytes]) -> bytes | int | None:
        return self.loads(f.read())
