"""The served model.onnx of a model exported with q/k: no T×T output.

Verification (export/verify.py, qk_verify.py, batch_verify.py) and the head profile run on the graph
as exported, whose `attentions.{i}` outputs PyTorch's are compared with. A model with q/k never
needs them at serve time: any head's weights, the thumbnails and the head statistics come from its
queries and keys (service/runtime/attention_kernel.py), so the served graph drops them, and with
them the fused Attention node's probabilities output. Declared, that output alone makes onnxruntime
1.31 take the path that materialises every layer's weights and keeps them to the end of the run —
measured on SmolLM2 at 2,048 tokens: 14.8 s and 6.1 GB peak with it (even unfetched), 5.7 s and
1.5 GB without; at 512 tokens 1,275 → 1,004 MiB.

`strip_attentions` writes the served graph beside the full one (external data files, if any, stay
shared); export/serve_verify.py proves it equal to the full graph before it replaces model.onnx.
"""

from __future__ import annotations

from pathlib import Path

import onnx

SERVED = "model.served.onnx"


def strip_attentions(full: Path, served: Path) -> list[str]:
    """Write `served`: `full` without attentions.{i} outputs; returns the names removed."""
    model = onnx.load(str(full), load_external_data=False)  # external data stays where it is, shared
    graph = model.graph
    gone = [o.name for o in graph.output if o.name.startswith("attentions.")]
    keep = [o for o in graph.output if o.name not in gone]
    del graph.output[:]
    graph.output.extend(keep)
    consumed = {name for node in graph.node for name in node.input}
    for node in graph.node:
        if (
            node.op_type == "Attention"
            and len(node.output) == 4
            and node.output[3] in gone
            and node.output[3] not in consumed
        ):
            del node.output[3]  # the probabilities output, and the attribute that asked for them
            attrs = [a for a in node.attribute if a.name != "qk_matmul_output_mode"]
            del node.attribute[:]
            node.attribute.extend(attrs)
    onnx.save(model, str(served))
    return gone


def restore_attentions(served: Path, out: Path, layers: list[int]) -> list[str]:
    """Write `out`: `served` with `attentions.{i}` outputs again for `layers` (what tests compare the
    weights computed from q/k with at lengths where every layer's would not fit). The lean graph's
    Attention nodes (in layer order) get their probabilities output back; a generic graph's weights
    are still an intermediate tensor of that name. Returns the output names added."""
    from onnx import TensorProto, helper

    model = onnx.load(str(served), load_external_data=False)
    graph = model.graph
    produced = {name for node in graph.node for name in node.output}
    fused = [node for node in graph.node if node.op_type == "Attention"]
    added = []
    for layer in layers:
        name = f"attentions.{layer}"
        if name not in produced:
            node = fused[layer]
            while len(node.output) < 3:
                node.output.append("")
            node.output.append(name)
            node.attribute.append(helper.make_attribute("qk_matmul_output_mode", 3))
        graph.output.append(
            helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", "heads", "rows", "keys"])
        )
        added.append(name)
    onnx.save(model, str(out))
    return added
