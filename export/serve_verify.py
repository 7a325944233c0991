"""Prove the served graph (export/serve_graph.py: no attentions outputs) gives what the full one does.

On every probe text and the long text, the served graph's queries, keys and value norms, through
the service's own attention kernel (service/runtime/attention_kernel.py), must give:
- each layer's weights within SOFTMAX_ATOL of the full graph's `attentions.{i}`;
- thumbnails within SOFTMAX_ATOL of max-pooling those attentions (service/analysis/grid.py);
- the head statistics' row values within SOFTMAX_ATOL (Σ p·log p within PLOGP_ATOL: the kernel takes
  it as Σ p·s − max s + log max p), and the same tags on every head.
The served graph's outputs must equal the full graph's within SOFTMAX_ATOL. A failure names the
layer, the probe and what differed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from headgaze.service.analysis.grid import max_pool
from headgaze.service.analysis.head_analysis import heads_stats, row_values, stats_from_rows
from headgaze.service.runtime.attention_kernel import AttentionKernel
from headgaze.service.runtime.batching import pad_batch
from headgaze.service.runtime.providers import default_threads

from .errors import VerificationFailed
from .qk_verify import SOFTMAX_ATOL

PLOGP_ATOL = 1e-4  # Σ_j p·log p over up to T keys, each term exact to float32


def _session(path: Path):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _feeds(session, ids: list[int]) -> dict[str, np.ndarray]:
    return pad_batch([ids], [i.name for i in session.get_inputs()])


def verify_served(
    full: Path, served: Path, texts: list[list[int]], layers: int, scales: list[float], causal: bool
) -> dict:
    """Compare `served` with `full` on `texts` (token id lists); returns manifest["parity"]["served"]."""
    full_s, served_s = _session(full), _session(served)
    served_names = [o.name for o in served_s.get_outputs()]
    if any(name.startswith("attentions.") for name in served_names):
        raise VerificationFailed(f"{served.name} still has attentions outputs")
    kernel = AttentionKernel(causal, default_threads())
    worst = dict.fromkeys(("outputs", "weights", "thumbnails", "rows", "plogp"), 0.0)
    tokens = []
    for ids in texts:
        text = f"{len(ids)}-token text"
        tokens.append(len(ids))
        att_names = [f"attentions.{i}" for i in range(layers)]
        full_out = dict(
            zip(
                served_names + att_names,
                full_s.run(served_names + att_names, _feeds(full_s, ids)),
                strict=True,
            )
        )
        got = dict(zip(served_names, served_s.run(served_names, _feeds(served_s, ids)), strict=True))
        for name in served_names:
            _check(
                worst,
                "outputs",
                np.abs(got[name].astype(np.float64) - full_out[name]),
                f"output {name}",
                text,
            )
        att = np.concatenate([full_out.pop(name) for name in att_names])
        del full_out
        thumbs, rows, argmax = [], [], []
        for layer in range(layers):
            q, k = got[f"queries.{layer}"][0], got[f"keys.{layer}"][0]
            _check(
                worst,
                "weights",
                np.abs(kernel.probs(q, k, scales[layer]) - att[layer]),
                f"layer {layer}: |weights from q/k - attentions|",
                text,
            )
            th, r, am = kernel.summary(q, k, scales[layer])
            thumbs.append(th), rows.append(r), argmax.append(am)
        pooled, _ = max_pool(att)
        _check(
            worst, "thumbnails", np.abs(np.stack(thumbs) - pooled), "|thumbnails - pooled attentions|", text
        )
        rows, want = np.stack(rows), row_values(att)
        _check(worst, "rows", np.abs(np.delete(rows - want, 4, axis=-1)), "|row values - attentions'|", text)
        _check(
            worst, "plogp", np.abs(rows[..., 4] - want[..., 4]), "|Σ p·log p - attentions'|", text, PLOGP_ATOL
        )
        norms = (
            np.concatenate([got[f"value_norms.{i}"] for i in range(layers)])
            if "value_norms.0" in got
            else None
        )
        served_tags = stats_from_rows(rows, np.stack(argmax), causal, norms)["tags"]
        full_tags = heads_stats(att, causal, norms)["tags"]
        if served_tags != full_tags:
            diff = next(
                (layer, head)
                for layer in range(layers)
                for head in range(len(full_tags[layer]))
                if served_tags[layer][head] != full_tags[layer][head]
            )
            raise VerificationFailed(
                f"layer {diff[0]} head {diff[1]} on the {text}: tags from q/k "
                f"{served_tags[diff[0]][diff[1]]} != {full_tags[diff[0]][diff[1]]}"
            )
        del att
    return {f"max_{name}_diff": value for name, value in worst.items()} | {
        "atol": SOFTMAX_ATOL,
        "plogp_atol": PLOGP_ATOL,
        "tokens": tokens,
        "tags_equal": True,
    }


def _check(worst: dict, key: str, err: np.ndarray, what: str, text: str, tol: float = SOFTMAX_ATOL) -> None:
    value = float(np.nanmax(err)) if err.size else 0.0
    if not value <= tol:  # also catches NaN
        raise VerificationFailed(f"served graph on the {text}: {what} = {value:.3g} > {tol:g}")
    worst[key] = max(worst[key], value)
