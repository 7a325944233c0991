"""Two more proofs every export passes: batching changes nothing, and the longest text runs right.

- **batch**: the probe texts right-padded into ONE batch (exactly as the service's micro-batcher
  feeds them) give, cropped, the attentions of the same texts run one by one (within BATCH_ATOL:
  matrix products over a different number of rows may round differently, nothing more);
- **long text**: a text of the service's longest supported length (LONGEST_TEXT_TOKENS, or the
  model's own limit when lower) matches PyTorch eager within `atol`, rows sum to 1, and a causal
  model has exact zeros above the diagonal. Checked layer by layer to keep memory flat.
A failure names the layer and head.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from headgaze.service.runtime.batching import crop, pad_batch

from .errors import VerificationFailed

LONGEST_TEXT_TOKENS = 512  # the service's default --max-tokens (service/runtime/engine.py DEFAULT_MAX_TOKENS)
BATCH_ATOL = 1e-5
LONG_TEXT = (
    "Attention heads read earlier tokens. Some look one step back, some at the first token, and a few "
    "copy what followed an earlier copy of the current token. Numbers like 3.14, 2026 and 555-0199, "
    "names like Zürich and façade, and punctuation (yes; no -- maybe!) all become tokens. "
)


def _session(onnx_path: Path):
    import onnxruntime as ort

    return ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])


def verify_batching(onnx_path: Path, tokenizer, texts, layers: int) -> dict:
    """Right-padded batch of `texts` vs each text alone; returns manifest["parity"]["batch"]."""
    session = _session(onnx_path)
    input_names = [i.name for i in session.get_inputs()]
    names = [f"attentions.{i}" for i in range(layers)]
    batch = [tokenizer.encode(text).ids for text in texts]
    together = crop(session.run(names, pad_batch(batch, input_names)), [len(ids) for ids in batch])
    worst = 0.0
    for text, ids, got in zip(texts, batch, together, strict=True):
        alone = np.stack([a[0] for a in session.run(names, pad_batch([ids], input_names))])
        diff = np.abs(got.astype(np.float64) - alone)
        if not diff.max() <= BATCH_ATOL:
            layer, head = np.unravel_index(
                np.argmax(diff.reshape(layers, diff.shape[1], -1).max(-1)), diff.shape[:2]
            )
            raise VerificationFailed(
                f"layer {layer} head {head} on probe {text!r}: in a right-padded batch of {len(batch)} the "
                f"attentions differ from the text run alone by {diff.max():.3g} > {BATCH_ATOL:g}"
            )
        worst = max(worst, float(diff.max()))
    return {"texts": len(texts), "width": max(len(ids) for ids in batch), "max_abs_diff": worst,
            "tolerance": BATCH_ATOL}  # fmt: skip


def long_ids(tokenizer, tokens: int) -> list[int]:
    """Exactly `tokens` ids of English prose (LONG_TEXT repeated, cut)."""
    text = LONG_TEXT
    while len(tokenizer.encode(text).ids) < tokens:
        text += LONG_TEXT
    return tokenizer.encode(text).ids[:tokens]


def verify_long_text(onnx_path: Path, reference, tokenizer, layers: int, max_tokens: int, causal: bool,
                     atol: float) -> dict:  # fmt: skip
    """The longest supported text vs PyTorch eager; returns manifest["parity"]["long_text"]."""
    from .verify import reference_attentions

    tokens = min(LONGEST_TEXT_TOKENS, max_tokens)
    session = _session(onnx_path)
    feeds = pad_batch([long_ids(tokenizer, tokens)], [i.name for i in session.get_inputs()])
    got = session.run([f"attentions.{i}" for i in range(layers)], feeds)
    want = reference_attentions(reference, feeds)
    upper = np.triu(np.ones((tokens, tokens), dtype=bool), k=1)
    worst = worst_row = 0.0
    for layer in range(layers):
        g, w = got[layer][0], want[layer][0]
        checks = (
            ("max |onnx - torch|", np.abs(g.astype(np.float64) - w).max(-1), atol),
            ("a row sums to 1 ±", np.abs(g.sum(-1, dtype=np.float64) - 1.0), atol),
            (
                "weight above the diagonal (causal)",
                (np.abs(g) * upper).max(-1) if causal else np.zeros(1),
                0.0,
            ),
        )
        for what, err, tol in checks:
            if not err.max() <= tol:
                head = int(np.unravel_index(np.argmax(err), err.shape)[0]) if err.ndim > 1 else 0
                raise VerificationFailed(
                    f"layer {layer} head {head} on a {tokens}-token text: {what} {err.max():.3g}"
                )
        worst = max(worst, float(checks[0][1].max()))
        worst_row = max(worst_row, float(checks[1][1].max()))
        got[layer] = want[layer] = None  # free as we go
    return {"tokens": tokens, "max_abs_diff": worst, "max_row_sum_error": worst_row}
