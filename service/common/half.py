"""Fast float32 ↔ float16 conversions (numpy's own are slow where attention weights live).

float32 → float16 by onnxruntime's Cast kernel.
Texts above `max_full_tokens` keep their attentions, queries and keys as float16. numpy converts
float32 to float16 in scalar code, with a slow path for results in float16's subnormal range (below
6.1e-5: 18 % of a 512-token SmolLM2 text's attention weights): measured 0.9–1.2 s for the 70.8 M
weights of one such text on this 2-core box, against 10–35 ms for onnxruntime's vectorised Cast,
bit for bit the same result (round to nearest even, both). One tiny Cast session per process,
built on first use; InferenceSession.run is thread-safe.

float16 → float32 through a 65536-entry table (exact: every float16 is a float32): numpy's conversion
also takes a slow path for subnormals (measured 8 ms vs 1.6 ms per 512-token SmolLM2 layer).
"""

from __future__ import annotations

import threading

import numpy as np

_lock = threading.Lock()
_session = None  # onnxruntime.InferenceSession, built on first use


def _cast_model() -> bytes:
    """A graph of one Cast node: float32 tensor of any shape in, float16 out."""
    from onnx import TensorProto, helper  # imported on first use: service.client decodes without onnx

    node = helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT16)
    graph = helper.make_graph([node], "to_float16", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT16, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8).SerializeToString()


def _cast_session():
    global _session
    with _lock:
        if _session is None:
            import onnxruntime as ort  # on first use: `import service.client` stays light

            from ..runtime.providers import session_options

            # the service's own options; one thread: the cast is memory-bound, one already runs at memory speed
            _session = ort.InferenceSession(_cast_model(), session_options(1), providers=["CPUExecutionProvider"])
        return _session


def to_float16(arr: np.ndarray) -> np.ndarray:
    """A float16 copy of `arr` (any shape; float32 or anything numpy reads as float32)."""
    x = np.ascontiguousarray(arr, dtype=np.float32)
    if x.size == 0:
        return x.astype(np.float16)
    return _cast_session().run(None, {"x": x})[0]


_FLOAT16_TABLE = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)


def to_float32(arr: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """A float32 copy of `arr` (a new array, or written into `out`: callers may write to it)."""
    if arr.dtype == np.float16:  # mode="clip" never clips (every uint16 is an index) but writes `out` unbuffered
        return np.take(_FLOAT16_TABLE, np.ascontiguousarray(arr).view(np.uint16), out=out, mode="clip")
    if out is None:
        return np.array(arr, dtype=np.float32)
    np.copyto(out, arr)
    return out
