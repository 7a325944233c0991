"""Prove the exported graph right: onnxruntime vs PyTorch eager on fixed probe texts.

Checks, per probe text: the tokenizer.json we ship gives the same ids as transformers' tokenizer;
every attention matches PyTorch eager within `atol`; every row sums to 1 within `atol`; causal
models have exact zeros above the diagonal. Any failure names the layer, head and text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from headgaze.service.runtime.batching import pad_batch

from .errors import VerificationFailed

PROBE_TEXTS = (
    "a",  # one character
    "The quick brown fox jumps over the lazy dog, again",  # 50 characters
    "Wait... what?! (Yes); no -- maybe: 'ok'.",  # punctuation
    "Call 555-0199 at 10:45, pay $3.50 or 12%.",  # digits
    "Ça coûte déjà trop, naïve façade à Zürich.",  # accented letters
    "I love 🍕 and 🐈‍⬛ 🎉!",  # emoji, incl. a ZWJ sequence
    "fluffy blue monster",  # the dashboard's example
)
DEFAULT_ATOL = 1e-4


@dataclass(frozen=True)
class ProbeReport:
    text: str
    tokens: int
    max_abs_diff: float
    max_row_sum_error: float
    max_above_diagonal: float | None  # causal models only

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def reference_attentions(model, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    import torch

    with torch.no_grad():
        out = model(**{k: torch.from_numpy(v) for k, v in feeds.items()}, output_attentions=True)
    return [a.numpy() for a in out.attentions]


def _worst(diff: np.ndarray) -> tuple[int, int]:
    layer, head = np.unravel_index(
        np.argmax(diff.reshape(diff.shape[0], diff.shape[1], -1).max(-1)), diff.shape[:2]
    )
    return int(layer), int(head)


def check_probe(text, ids, onnx_out, torch_out, causal: bool, atol: float) -> ProbeReport:
    """Compare one probe's attentions [L][1,H,T,T]; raise VerificationFailed naming what is wrong."""
    got = np.stack([a[0] for a in onnx_out])  # [L,H,T,T]
    want = np.stack([a[0] for a in torch_out])
    if got.shape != want.shape:
        raise VerificationFailed(f"probe {text!r}: onnx attentions {got.shape} but torch gives {want.shape}")
    diff = np.abs(got.astype(np.float64) - want)
    max_diff = float(diff.max())
    if not max_diff <= atol:  # also catches NaN
        layer, head = _worst(diff)
        raise VerificationFailed(
            f"layer {layer} head {head} on probe {text!r}: max |onnx - torch| = {max_diff:.3g} > {atol:g}"
        )
    row_error = np.abs(got.sum(-1, dtype=np.float64) - 1.0)
    max_row_error = float(row_error.max())
    if not max_row_error <= atol:
        layer, head = _worst(row_error[..., None])
        raise VerificationFailed(
            f"layer {layer} head {head} on probe {text!r}: a row sums to 1 ± {max_row_error:.3g} (> {atol:g})"
        )
    above = None
    if causal:
        upper = np.triu(np.ones(got.shape[-2:], dtype=bool), k=1)
        above_diag = np.abs(got) * upper
        above = float(above_diag.max()) if len(ids) > 1 else 0.0
        if above != 0.0:
            layer, head = _worst(above_diag)
            raise VerificationFailed(
                f"layer {layer} head {head} on probe {text!r}: causal model attends to a later token "
                f"(weight {above:.3g} above the diagonal)"
            )
    return ProbeReport(text, len(ids), max_diff, max_row_error, above)


def verify_export(
    onnx_path: Path,
    tokenizer_path: Path,
    reference,
    hf_tokenizer,
    causal: bool,
    layers: int,
    heads: int,
    atol: float = DEFAULT_ATOL,
    texts=PROBE_TEXTS,
) -> dict:
    """Run every probe through onnxruntime and PyTorch; returns the parity report for the manifest."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    input_names = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    expected = [f"attentions.{i}" for i in range(layers)]
    if outputs[:layers] != expected:  # queries/keys/value_norms may follow (qk_verify.py checks them)
        raise VerificationFailed(
            f"onnx outputs are {outputs[:3]}… ({len(outputs)}), expected attentions.0..{layers - 1}"
        )
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    probes = []
    for text in texts:
        ids = tokenizer.encode(text).ids
        want_ids = hf_tokenizer(text)["input_ids"]
        if ids != want_ids:
            raise VerificationFailed(
                f"probe {text!r}: tokenizer.json gives {ids}, transformers gives {want_ids}"
            )
        feeds = pad_batch([ids], input_names)  # the feeds the service builds
        onnx_out = session.run(expected, feeds)
        if onnx_out[0].shape != (1, heads, len(ids), len(ids)):
            raise VerificationFailed(f"probe {text!r}: attentions.0 has shape {onnx_out[0].shape}")
        probes.append(check_probe(text, ids, onnx_out, reference_attentions(reference, feeds), causal, atol))
    return {
        "tolerance": atol,
        "max_abs_diff": max(p.max_abs_diff for p in probes),
        "max_row_sum_error": max(p.max_row_sum_error for p in probes),
        "probes": [p.as_dict() for p in probes],
    }
