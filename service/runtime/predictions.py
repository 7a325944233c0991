"""Next-token predictions at every position: the export's predictions.onnx (the last layer's o_proj and
MLP, final norm, LM head, log-softmax and top-k) fed by model.onnx's `last_context` / `last_residual`.

model.onnx fetches those two outputs only when predictions are asked for, so the vocabulary
projection costs nothing otherwise. `PredictionHead.run` gives the arrays; `entries` turns them into
the API's `predictions`: per token {"next": {"id", "text", "logprob", "rank"} | null (last token),
"top": [{"id", "text", "logprob"}, ...]} sorted by log-prob, a token's text being the decode of
that one id (special tokens kept).
"""

from __future__ import annotations

import threading

import numpy as np
from tokenizers import Tokenizer

from ..common import errors
from .memory import run_options
from .providers import make_session

MAX_TOP_K = 20
DEFAULT_TOP_K = 5
INPUTS = ("last_context", "last_residual")  # model.onnx outputs the predictions graph reads
OUTPUTS = ("next_logprob", "next_rank", "top_logprobs", "top_ids")


def check_top_k(value: object, max_top_k: int = MAX_TOP_K) -> int:
    """`top_k` of a request: an integer 1..max_top_k (default 5); 400 for another type, 422 out of range."""
    if value is None:
        return DEFAULT_TOP_K
    if not isinstance(value, int) or isinstance(value, bool):
        raise errors.ServiceError(400, "invalid_type", "Field 'top_k' must be an integer.")
    if not 1 <= value <= max_top_k:
        raise errors.ServiceError(422, "invalid_top_k", f"Field 'top_k' must be from 1 to {max_top_k}, got {value}.")
    return value


def check_flag(name: str, value: object) -> bool:
    """An optional boolean request field (`predictions`, `raw`): 400 naming it for another type."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise errors.ServiceError(400, "invalid_type", f"Field {name!r} must be true or false.")
    return value


class TokenTexts:
    """The decode of single ids, kept (a vocabulary is at most a few hundred thousand short strings)."""

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer
        self._texts: dict[int, str] = {}
        self._lock = threading.Lock()

    def __call__(self, tid: int) -> str:
        text = self._texts.get(tid)
        if text is None:
            text = self.tokenizer.decode([tid], skip_special_tokens=False)
            with self._lock:
                self._texts[tid] = text
        return text

    def entry(self, tid: int, logprob: float) -> dict:
        return {"id": int(tid), "text": self(int(tid)), "logprob": float(logprob)}


WRITES_INPUTS = ("head_context", "head_index", "inv_rms", "writes_k")
WRITES_OUTPUTS = ("promoted_scores", "promoted_ids", "suppressed_scores", "suppressed_ids")


def _width(session, name: str) -> int:
    shape = next(i.shape for i in session.get_inputs() if i.name == name)
    return int(shape[-1])


def idle_writes(head_dim: int) -> dict[str, np.ndarray]:
    """The writes inputs of predictions.onnx fed empty (no query): the predictions run alone."""
    return {"head_context": np.zeros((0, head_dim), np.float32), "head_index": np.zeros(1, np.int64),
            "inv_rms": np.zeros(0, np.float32), "writes_k": np.ones(1, np.int64)}


def idle_predictions(context_width: int, hidden: int) -> dict[str, np.ndarray]:
    """The predictions inputs fed empty (no token): the writes run alone."""
    return {"last_context": np.zeros((1, 0, context_width), np.float32),
            "last_residual": np.zeros((1, 0, hidden), np.float32),
            "input_ids": np.zeros((1, 0), np.int64), "top_k": np.ones(1, np.int64)}


class PredictionHead:
    """predictions.onnx, loaded beside model.onnx for models with an LM head: the next-token predictions
    and, where the export has it, what a head writes (direct logit attribution, `writes`)."""

    def __init__(self, onnx_file: str, device: str, threads: int, spinning: bool, max_top_k: int = MAX_TOP_K):
        self.session = make_session(onnx_file, device, threads, spinning)
        names = {i.name for i in self.session.get_inputs()}
        missing = sorted({*INPUTS, "input_ids", "top_k"} - names)
        if missing:
            raise errors.ConfigError(f"{onnx_file}: missing inputs {missing}; re-run `make export`")
        self.max_top_k = int(max_top_k)
        self.has_writes = set(WRITES_INPUTS) <= names
        self.context_width = _width(self.session, "last_context")
        self.hidden = _width(self.session, "last_residual")
        self.head_dim = _width(self.session, "head_context") if self.has_writes else 0
        outputs = {o.name for o in self.session.get_outputs()}
        self.outputs = [*OUTPUTS, *(["final_inv_rms"] if "final_inv_rms" in outputs else [])]

    def run(self, arrays: dict[str, np.ndarray], ids: list[int], top_k: int) -> dict[str, np.ndarray]:
        """{"next_logprob" [T], "next_rank" [T], "top_logprobs" [T, K], "top_ids" [T, K], "final_inv_rms" [T]}
        for one text, from its "last_context" [T, H*d] and "last_residual" [T, D]."""
        feeds = {name: np.ascontiguousarray(arrays[name], dtype=np.float32)[None] for name in INPUTS}
        feeds["input_ids"] = np.asarray(ids, dtype=np.int64)[None]
        feeds["top_k"] = np.asarray([top_k], dtype=np.int64)
        if self.has_writes:
            feeds.update(idle_writes(self.head_dim))
        outs = self.session.run(self.outputs, feeds, run_options())
        return {name: out[0] for name, out in zip(self.outputs, outs, strict=True)}

    def writes(self, head_context: np.ndarray, head_index: int, inv_rms: np.ndarray, k: int) -> dict[str, np.ndarray]:
        """What one head writes at N queries: its context rows [N, d], its index (layer * heads + head) and
        the clean run's final_inv_rms at those queries [N]; {"promoted_scores" [N, k], ...}."""
        feeds = {"head_context": np.ascontiguousarray(head_context, dtype=np.float32),
                 "head_index": np.asarray([head_index], np.int64),
                 "inv_rms": np.ascontiguousarray(inv_rms, dtype=np.float32),
                 "writes_k": np.asarray([k], np.int64), **idle_predictions(self.context_width, self.hidden)}
        outs = self.session.run(list(WRITES_OUTPUTS), feeds, run_options())
        return dict(zip(WRITES_OUTPUTS, outs, strict=True))


def entries(texts: TokenTexts, ids: list[int], pred: dict[str, np.ndarray]) -> list[dict]:
    """The API's `predictions`, one entry per token."""
    nxt, top_lp, top_ids = pred["next_logprob"], pred["top_logprobs"], pred["top_ids"]
    out = []
    for t in range(len(ids)):
        order = np.argsort(-top_lp[t], kind="stable")  # the graph sorts already; stay sorted whatever it does
        out.append({
            "next": {**texts.entry(ids[t + 1], nxt[t]), "rank": int(pred["next_rank"][t])} if t + 1 < len(ids) else None,
            "top": [texts.entry(top_ids[t, k], top_lp[t, k]) for k in order],
        })
    return out


def nbytes(pred: dict[str, np.ndarray]) -> int:
    return sum(a.nbytes for a in pred.values())
