"""Prove what the model says right: predictions.onnx and decoder.onnx vs PyTorch eager.

- Predictions, per probe text: model.onnx's `last_context`/`last_residual` through predictions.onnx
  give, at every position, the top-k log-probabilities within `atol` of PyTorch's
  log_softmax(logits) at the same ids, the actual next token's log-probability within `atol` and its
  rank (up to tokens within `atol` of it), and
  the same top-1 id wherever PyTorch's top-2 margin exceeds `atol`.
- Generation, on GENERATION_PROBES: greedy tokens from decoder.onnx (prefill, then one token per
  step through the KV cache) equal transformers' `generate(do_sample=False)` for NEW_TOKENS tokens,
  both ignoring EOS (so that all NEW_TOKENS are compared).
Any failure raises VerificationFailed naming the probe and position.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from headgaze.service.runtime.batching import pad_batch
from headgaze.service.runtime.predictions import PredictionHead
from headgaze.service.runtime.providers import default_threads

from .errors import VerificationFailed

GENERATION_PROBES = (
    "The capital of France is",
    "def fibonacci(n):",
    "Once upon a time, a fluffy blue monster",
)
NEW_TOKENS = 32
TOP_K = 20


def _session(path: Path):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def torch_logprobs(reference, ids: list[int]) -> np.ndarray:
    """PyTorch eager log_softmax(logits) [T, V] in float64."""
    import torch

    with torch.no_grad():
        logits = reference(torch.tensor([ids])).logits[0]
    return torch.log_softmax(logits.double(), -1).numpy()


def verify_predictions(model_path: Path, predictions_path: Path, tokenizer, reference, texts,
                       atol: float) -> dict:  # fmt: skip
    """The parity report of predictions.onnx (manifest parity.predictions)."""
    model, head = _session(model_path), PredictionHead(str(predictions_path), "cpu", default_threads(), False)
    names = [i.name for i in model.get_inputs()]
    worst_lp = worst_next = 0.0
    compared = 0
    for text in texts:
        ids = tokenizer.encode(text).ids
        context, residual = model.run(["last_context", "last_residual"], pad_batch([ids], names))
        out = head.run({"last_context": context[0], "last_residual": residual[0]}, ids, TOP_K)  # as served
        nxt, rank, top_lp, top_ids = (
            out[n][None] for n in ("next_logprob", "next_rank", "top_logprobs", "top_ids")
        )
        want = torch_logprobs(reference, ids)
        got_top = top_lp[0].astype(np.float64)
        diff = float(np.abs(got_top - np.take_along_axis(want, top_ids[0], -1)).max())
        ranked = -np.sort(-want, axis=-1)[:, :TOP_K]
        diff = max(diff, float(np.abs(got_top - ranked).max()))  # the top-k values are the real top k
        if not diff <= atol:
            raise VerificationFailed(f"predictions on probe {text!r}: top-{TOP_K} log-probs differ from "
                                     f"PyTorch by {diff:.3g} > {atol:g}")  # fmt: skip
        for t in range(len(ids)):
            if ranked[t, 0] - ranked[t, 1] > atol and int(top_ids[0, t, 0]) != int(np.argmax(want[t])):
                raise VerificationFailed(f"predictions on probe {text!r}, position {t}: top-1 id "
                                         f"{int(top_ids[0, t, 0])}, PyTorch says {int(np.argmax(want[t]))}")  # fmt: skip
        if len(ids) > 1:
            nd = float(np.abs(nxt[0, :-1] - want[np.arange(len(ids) - 1), ids[1:]]).max())
            if not nd <= atol:
                raise VerificationFailed(f"predictions on probe {text!r}: next-token log-prob differs by "
                                         f"{nd:.3g} > {atol:g}")  # fmt: skip
            worst_next = max(worst_next, nd)
            for t in range(len(ids) - 1):  # the rank, up to tokens within atol of the next one (ties)
                lp = want[t, ids[t + 1]]
                low, high = int((want[t] > lp + atol).sum()) + 1, int((want[t] > lp - atol).sum()) + 1
                if not low <= int(rank[0, t]) <= high:
                    raise VerificationFailed(f"predictions on probe {text!r}, position {t}: the next token's rank "
                                             f"is {int(rank[0, t])}, PyTorch ranks it {low}..{high}")  # fmt: skip
        worst_lp = max(worst_lp, diff)
        compared += len(ids)
    return {"tolerance": atol, "top_k": TOP_K, "max_abs_diff_top": worst_lp, "max_abs_diff_next": worst_next,
            "probes": len(texts), "positions": compared}  # fmt: skip


def greedy_onnx(
    decoder, ids: list[int], new_tokens: int, layers: int, kv_heads: int, head_dim: int
) -> list[int]:
    """Greedy ids from decoder.onnx: the prompt in one run, then one token per run."""
    past = {f"past_{kind}.{i}": np.zeros((1, kv_heads, 0, head_dim), np.float32)
            for i in range(layers) for kind in ("key", "value")}  # fmt: skip
    present = [name.replace("past_", "present_") for name in past]
    out, new, done = list(ids), list(ids), 0
    for _ in range(new_tokens):
        feeds = {"input_ids": np.array([new], np.int64), "attention_mask": np.ones((1, done + len(new)), np.int64),
                 "position_ids": np.arange(done, done + len(new), dtype=np.int64)[None], **past}  # fmt: skip
        logprobs, *cache = decoder.run(["logprobs", *present], feeds)
        done += len(new)
        past = dict(zip(past, cache, strict=True))
        new = [int(np.argmax(logprobs.reshape(-1, logprobs.shape[-1])[-1]))]
        out += new
    return out


def verify_generation(
    decoder_path: Path,
    tokenizer,
    reference,
    geometry: dict,
    texts=GENERATION_PROBES,
    new_tokens: int = NEW_TOKENS,
    atol: float = 1e-4,
) -> dict:
    """decoder.onnx's greedy ids equal transformers' generate(do_sample=False) (manifest parity.generation).

    Where the two first differ, PyTorch's log-probs of both choices must be within `atol` (a tie that
    float rounding may break either way, seen only on random weights): the probe counts as a tie
    there; any other difference fails."""
    import torch

    decoder = _session(decoder_path)
    ties = []
    for text in texts:
        ids = tokenizer.encode(text).ids
        got = greedy_onnx(
            decoder, ids, new_tokens, geometry["layers"], geometry["kv_heads"], geometry["head_dim"]
        )
        with torch.no_grad():
            want = reference.generate(
                torch.tensor([ids]),
                attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                do_sample=False,
                max_new_tokens=new_tokens,
                eos_token_id=None,
                pad_token_id=0,
            )[0].tolist()
        if got == want:
            continue
        at = next(
            (i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), min(len(got), len(want))
        )
        if at >= min(len(got), len(want)):
            raise VerificationFailed(f"generation on probe {text!r}: {len(got) - len(ids)} new tokens from onnx, "
                                     f"{len(want) - len(ids)} from transformers")  # fmt: skip
        lp = torch_logprobs(reference, want[:at])[-1]
        if abs(lp[got[at]] - lp[want[at]]) > atol:
            raise VerificationFailed(
                f"generation on probe {text!r}: new token {at - len(ids)} is {got[at]}, transformers' greedy "
                f"generate gives {want[at]} (log-probs {lp[got[at]]:.5f} vs {lp[want[at]]:.5f})"
            )
        ties.append({"probe": text, "new_token": at - len(ids)})
    return {"probes": list(texts), "new_tokens": new_tokens, "equal": not ties, "ties": ties}
