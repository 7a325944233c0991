"""Attention array encodings for the wire: compact float16 base64 (default) or nested float32 lists (format=json)."""

from __future__ import annotations

import base64

import numpy as np

from .errors import ServiceError
from .half import to_float16, to_float32

FORMATS = ("float16", "json")


def check_format(fmt: object) -> str:
    if fmt is None or fmt == "":
        return "float16"
    if fmt not in FORMATS:
        raise ServiceError(400, "invalid_format", f"Unknown format {str(fmt)[:40]!r}; use one of: {', '.join(FORMATS)}.")
    return fmt  # type: ignore[return-value]


def encode(att: np.ndarray, fmt: str) -> dict:
    """`{"dtype", "shape", "data"}`; float16 data is base64 of little-endian C-order bytes."""
    shape = list(att.shape)
    if fmt == "json":
        # orjson serialises the float32 ndarray itself (OPT_SERIALIZE_NUMPY) as nested lists
        return {"dtype": "float32", "shape": shape, "encoding": "json", "data": np.ascontiguousarray(att, "<f4")}
    half = att if att.dtype == np.float16 else to_float16(att)
    data = base64.b64encode(np.ascontiguousarray(half, dtype="<f2").tobytes()).decode("ascii")
    return {"dtype": "float16", "shape": shape, "encoding": "base64", "byte_order": "little", "data": data}


def decode(obj: dict) -> np.ndarray:
    """Inverse of `encode` (after JSON parsing): always a float32 array of the given shape."""
    shape = tuple(int(s) for s in obj["shape"])
    if obj.get("dtype") == "float16":
        raw = base64.b64decode(obj["data"])
        return to_float32(np.frombuffer(raw, dtype="<f2")).reshape(shape)
    return np.asarray(obj["data"], dtype=np.float32).reshape(shape)
