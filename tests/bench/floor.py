"""The weight-read floor: reading every weight matrix of a model once and nothing else.

- `floor_graph`: one MatMul per input width over a graph's own MatMul weights concatenated, fed
  [1, T, width] activations — the least any run of the model costs on this box;
- `layered_floor_graph`: the same matrices as separate MatMuls, one per matrix (graph_bench.py);
- `Floor`: SmolLM2's floor at 12 tokens as a session that a bench times beside its own steps.
  Its fastest run is the box's speed, measured in the same run as what a speed goal is about, so
  that a goal can be a ratio to it (tests/bench/goals.py): two boxes of one kind differ ~2.5x here
  (39.8 ms on one, 14-15 ms on another). The fastest, not the median: other load on the box slows
  the floor's two threads more than it slows a page's one, and a reference that grows with the load
  would let a loaded box pass goals that an idle one of the same speed misses.
"""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from headgaze.export.onnx_builder import GraphBuilder
from headgaze.service.runtime.providers import default_threads, make_session

MODEL = "smollm2-135m"  # the box's speed is SmolLM2's floor at TOKENS tokens, whatever model a bench runs
TOKENS = 12
WARMUP = 3


def weight_matrices(onnx_file: Path) -> list[np.ndarray]:
    """A graph's 2-D MatMul weights in node order (not the per-head value-norm factors, [KV, H/KV, d, d])."""
    model = onnx.load(str(onnx_file))
    weights = {t.name: t for t in model.graph.initializer}
    found = []
    for node in model.graph.node:
        if node.op_type == "MatMul" and node.input[1] in weights:
            w = numpy_helper.to_array(weights[node.input[1]])
            if w.ndim == 2:
                found.append(w)
    return found


def floor_graph(mats: list[np.ndarray], out: Path) -> Path:
    """One MatMul per input width over the weight matrices, concatenated by columns."""
    by_width: dict[int, list[np.ndarray]] = defaultdict(list)
    for w in mats:
        by_width[w.shape[0]].append(w)
    g = GraphBuilder("headgaze_floor")
    for width, group in sorted(by_width.items()):
        x = g.add_input(f"x{width}", onnx.TensorProto.FLOAT, [1, "sequence_length", width])
        g.op("MatMul", [x, g.weight(f"w{width}", np.concatenate(group, axis=1))], outputs=[f"y{width}"])
        g.add_output(f"y{width}", [1, "sequence_length", sum(m.shape[1] for m in group)])
    g.save(out)
    return out


def layered_floor_graph(mats: list[np.ndarray], out: Path) -> Path:
    """The same weight matrices as separate MatMuls, one per matrix in the graph's order, nothing else:
    what running the model layer by layer costs in MatMuls alone."""
    g = GraphBuilder("headgaze_layered_floor")
    inputs: dict[int, str] = {}
    for j, w in enumerate(mats):
        width = w.shape[0]
        if width not in inputs:
            inputs[width] = g.add_input(f"x{width}", onnx.TensorProto.FLOAT, [1, "sequence_length", width])
        g.op("MatMul", [inputs[width], g.weight(f"w{j}", w)], outputs=[f"y{j}"])
        g.add_output(f"y{j}", [1, "sequence_length", w.shape[1]])
    g.save(out)
    return out


def random_feeds(session, tokens: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """[1, tokens, width] random activations for every input of a floor session."""
    return {
        i.name: rng.standard_normal((1, tokens, i.shape[2]), dtype=np.float32) for i in session.get_inputs()
    }


class Floor:
    """SmolLM2's floor session at 12 tokens (the service's session options): `sample()` times it a few
    times beside a bench's own steps, `best_ms()` is the fastest run since `clear()`."""

    def __init__(self, models_dir: str | Path, threads: int | None = None):
        onnx_file = Path(models_dir) / MODEL / "model.onnx"
        if not onnx_file.is_file():
            raise SystemExit(
                f"the speed goals are ratios to {MODEL}'s weight-read floor: {onnx_file} is "
                "missing (make export)"
            )
        self._dir = tempfile.TemporaryDirectory(prefix="headgaze-floor-")
        path = floor_graph(weight_matrices(onnx_file), Path(self._dir.name) / "floor.onnx")
        self.session = make_session(str(path), "cpu", threads or default_threads())
        self.feeds = random_feeds(self.session, TOKENS, np.random.default_rng(0))
        self.times: list[float] = []
        self.sample(WARMUP)
        self.clear()

    def run(self) -> float:
        """One run, ms."""
        start = time.perf_counter()
        self.session.run(None, self.feeds)
        return (time.perf_counter() - start) * 1000

    def sample(self, n: int = 3) -> None:
        self.times += [self.run() for _ in range(n)]

    def best_ms(self) -> float:
        return min(self.times)

    def label(self) -> str:
        """The reference's name in a goals table."""
        return f"floor (best of {len(self.times)})"

    def clear(self) -> None:
        self.times = []

    def close(self) -> None:
        self._dir.cleanup()
