"""A small helper over onnx.helper: named nodes and initializers appended in order, one graph.

Used by lean_graph.py (the lean attention graph) and by the bench's floor graph, so that both
write ONNX the same way: float32 initializers taken from the model's own weights, opset 23 plus
onnxruntime's com.microsoft contrib domain.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 23  # Attention-23 (qk_matmul_output_mode) and RotaryEmbedding-23
CONTRIB = "com.microsoft"  # SkipSimplifiedLayerNormalization
IR_VERSION = 10  # what onnxruntime 1.31 reads for opset 23
EXTERNAL_DATA_BYTES = 1_500_000_000  # above this the weights go to model.onnx.data (protobuf's 2 GB limit)


class GraphBuilder:
    """Collects nodes, initializers, inputs and outputs; `op()` returns its output names."""

    def __init__(self, name: str):
        self.name = name
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._count = 0
        self._consts: dict[tuple, str] = {}

    def weight(self, name: str, array) -> str:
        """A float32 (or given integer) initializer from a numpy array or torch tensor."""
        if hasattr(array, "detach"):
            array = array.detach().float().cpu().numpy()
        array = np.ascontiguousarray(array)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def ints(self, *values: int) -> str:
        """A shared int64 1-D constant (axes, shapes, split sizes)."""
        key = ("i64", values)
        if key not in self._consts:
            self._consts[key] = self.weight(
                f"const.i64.{len(self._consts)}", np.array(values, dtype=np.int64)
            )
        return self._consts[key]

    def scalar(self, value: float) -> str:
        """A shared float32 scalar constant."""
        key = ("f32", float(value))
        if key not in self._consts:
            self._consts[key] = self.weight(
                f"const.f32.{len(self._consts)}", np.array(value, dtype=np.float32)
            )
        return self._consts[key]

    def op(
        self,
        op_type: str,
        inputs: list[str],
        n_out: int = 1,
        *,
        domain: str = "",
        name: str = "",
        outputs: list[str] | None = None,
        **attrs,
    ) -> str | list[str]:
        self._count += 1
        base = name or f"{op_type}_{self._count}"
        outs = outputs or [f"{base}.out{i}" if n_out > 1 else f"{base}.out" for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=base, domain=domain, **attrs))
        return outs[0] if len(outs) == 1 else outs

    def add_input(self, name: str, elem_type: int, shape: list) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, elem_type, shape))
        return name

    def add_output(self, name: str, shape: list, elem_type: int = TensorProto.FLOAT) -> None:
        self.outputs.append(helper.make_tensor_value_info(name, elem_type, shape))

    def model(self) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.initializers)
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(CONTRIB, 1)],
            producer_name="headgaze",
        )
        model.ir_version = IR_VERSION
        return model

    def save(self, path) -> None:
        model = self.model()
        size = sum(t.ByteSize() for t in self.initializers)
        if size > EXTERNAL_DATA_BYTES:
            onnx.save_model(
                model,
                str(path),
                save_as_external_data=True,
                all_tensors_to_one_file=True,
                location=f"{path.name}.data",
                size_threshold=1024,
            )
        else:
            onnx.save_model(model, str(path))
