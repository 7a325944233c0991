"""Generating an answer with the export's decoder.onnx (a KV-cache graph): prefill the prompt once,
then one step per new token, each step reading the weights once.

`Decoder.steps(ids, params, max_tokens, eos_ids, lock)` yields (id, logprob) per new token and stops
on an end-of-sequence id (that token is yielded, and is the answer's last), after
`max_new_tokens`, or when the sequence reaches `max_tokens`; closing the iterator stops it between
steps. `logprob` is the model's log-probability of the token (before temperature and top_p).
Temperature 0 is greedy (argmax); otherwise softmax(logprobs / temperature), cut to the smallest
set of most likely tokens whose mass reaches top_p, sampled with numpy's Generator(seed).
`check_params` validates a request's parameters, naming the bad field.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from ..common import errors
from .memory import run_options
from .providers import make_session
from .store import ByteLRU

MAX_NEW_TOKENS = 256
PREFIX_CACHE_BYTES = 16 << 20  # KV caches of chat template heads (SmolLM2's: ~1 MB each)
DEFAULT_MAX_NEW_TOKENS = 64
MAX_TEMPERATURE = 2.0
MAX_SEED = 2 ** 63 - 1
STOP_REASONS = ("eos", "max_new_tokens", "max_tokens")


@dataclass(frozen=True)
class GenerateParams:
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    chat: bool | None = None  # None: the model's template when it has one
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    ablate: tuple[tuple[int, int], ...] = ()  # heads knocked out while generating (service/runtime/ablation.py)

    @property
    def deterministic(self) -> bool:
        """Greedy or seeded: the same request gives the same answer (so it may be cached)."""
        return self.temperature == 0.0 or self.seed is not None

    def key(self) -> tuple:
        return (self.max_new_tokens, self.chat, self.temperature, self.top_p if self.temperature else 1.0,
                self.seed if self.temperature else None, self.ablate)


def _number(name: str, value: object) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise errors.ServiceError(400, "invalid_type", f"Field {name!r} must be a number.")
    return float(value)


def check_params(max_new_tokens: object = None, chat: object = None, temperature: object = None,
                 top_p: object = None, seed: object = None) -> GenerateParams:
    """The request's generation parameters, defaults filled in; ServiceError 400 (wrong type) or 422
    (out of range) naming the field."""
    if max_new_tokens is None:
        max_new_tokens = DEFAULT_MAX_NEW_TOKENS
    if not isinstance(max_new_tokens, int) or isinstance(max_new_tokens, bool):
        raise errors.ServiceError(400, "invalid_type", "Field 'max_new_tokens' must be an integer.")
    if not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
        raise errors.ServiceError(422, "invalid_max_new_tokens",
                                  f"Field 'max_new_tokens' must be from 1 to {MAX_NEW_TOKENS}, got {max_new_tokens}.")
    if chat is not None and not isinstance(chat, bool):
        raise errors.ServiceError(400, "invalid_type", "Field 'chat' must be true, false or null.")
    t = 0.0 if temperature is None else _number("temperature", temperature)
    if not 0.0 <= t <= MAX_TEMPERATURE:
        raise errors.ServiceError(422, "invalid_temperature",
                                  f"Field 'temperature' must be from 0 (greedy) to {MAX_TEMPERATURE:g}, got {t:g}.")
    p = 1.0 if top_p is None else _number("top_p", top_p)
    if not 0.0 < p <= 1.0:
        raise errors.ServiceError(422, "invalid_top_p", f"Field 'top_p' must be above 0 and at most 1, got {p:g}.")
    if seed is not None:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise errors.ServiceError(400, "invalid_type", "Field 'seed' must be an integer or null.")
        if not 0 <= seed <= MAX_SEED:
            raise errors.ServiceError(422, "invalid_seed", f"Field 'seed' must be from 0 to 2**63-1, got {seed}.")
    return GenerateParams(max_new_tokens, chat, t, p, seed)


def pick(logprobs: np.ndarray, params: GenerateParams, rng: np.random.Generator | None) -> int:
    """The next token id from the log-probabilities [V] of the last position."""
    if params.temperature == 0.0 or rng is None:
        return int(np.argmax(logprobs))
    z = logprobs.astype(np.float64) / params.temperature
    probs = np.exp(z - z.max())
    probs /= probs.sum()
    order = np.argsort(-probs, kind="stable")
    if params.top_p < 1.0:
        mass = np.cumsum(probs[order])
        keep = int(np.searchsorted(mass, params.top_p) + 1)  # the smallest head reaching top_p
        order = order[:keep]
    kept = probs[order] / probs[order].sum()
    return int(order[rng.choice(len(order), p=kept)])


class Decoder:
    """decoder.onnx: input_ids, attention_mask, position_ids, past_key.{i}/past_value.{i} in;
    logprobs [B, V] of the last position and present_key.{i}/present_value.{i} out."""

    def __init__(self, onnx_file: str, device: str, threads: int, spinning: bool, *, layers: int, kv_heads: int,
                 head_dim: int):
        self.session = make_session(onnx_file, device, threads, spinning)
        self.layers, self.kv_heads, self.head_dim = int(layers), int(kv_heads), int(head_dim)
        self.past_names = [f"past_{kind}.{i}" for i in range(self.layers) for kind in ("key", "value")]
        self.prefixes = ByteLRU(PREFIX_CACHE_BYTES)  # (prefix ids, mask) -> its KV cache
        self.output_names = ["logprobs"] + [f"present_{kind}.{i}" for i in range(self.layers)
                                            for kind in ("key", "value")]
        names = {i.name for i in self.session.get_inputs()}
        missing = sorted({"input_ids", "attention_mask", "position_ids", *self.past_names} - names)
        if missing:
            raise errors.ConfigError(f"{onnx_file}: missing inputs {missing[:3]}; re-run `make export`")

    def _feeds(self, new: list[int], past: list[np.ndarray], done: int, mask: np.ndarray | None) -> dict:
        """`new` tokens after `done` cached ones (`past`), under `mask` (None: every head)."""
        n = len(new)
        feeds = {"input_ids": np.asarray([new], dtype=np.int64),
                 "attention_mask": np.ones((1, done + n), dtype=np.int64),
                 "position_ids": np.arange(done, done + n, dtype=np.int64)[None],
                 **dict(zip(self.past_names, past, strict=True))}
        if mask is not None:
            feeds["head_mask"] = mask
        return feeds

    def _empty_past(self) -> list[np.ndarray]:
        return [np.zeros((1, self.kv_heads, 0, self.head_dim), dtype=np.float32)] * (2 * self.layers)

    def _run(self, new: list[int], past: list[np.ndarray], done: int,
             mask: np.ndarray | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        outs = self.session.run(self.output_names, self._feeds(new, past, done, mask), run_options())
        logprobs = outs[0]  # [B, V] (or [B, 1, V]): the last position's
        return logprobs.reshape(logprobs.shape[0], -1, logprobs.shape[-1])[0, -1], outs[1:]

    def prefill_feeds(self, ids: list[int], mask: np.ndarray | None) -> dict[str, np.ndarray]:
        """One prefill of `ids` (no past) with `mask` as head_mask: the last layer's "last_context"
        [T, H*d] and "last_residual" [T, D], what predictions.onnx reads (a knock-out's predictions)."""
        names = ["last_context", "last_residual"]
        outs = self.session.run(names, self._feeds(list(ids), self._empty_past(), 0, mask), run_options())
        return {name: np.ascontiguousarray(out[0], dtype=np.float32) for name, out in zip(names, outs, strict=True)}

    def prefix_past(self, prefix: list[int], mask: np.ndarray | None, lock) -> list[np.ndarray]:
        """The KV cache of `prefix` alone (kept: a chat template's head is the same for every prompt).
        Causal attention: what follows never changes a prefix's keys and values."""
        key = (tuple(prefix), None if mask is None else mask.tobytes())
        past = self.prefixes.get(key)
        if past is None:
            with lock or nullcontext():
                _, past = self._run(list(prefix), self._empty_past(), 0, mask)
            self.prefixes.put(key, past, sum(a.nbytes for a in past))
        return past

    def steps(self, ids: list[int], params: GenerateParams, max_tokens: int, eos_ids: set[int],
              lock: threading.Lock | None = None, mask: np.ndarray | None = None,
              prefix: int = 0) -> Iterator[tuple[int, float, str | None]]:
        """(id, logprob, stop_reason or None) per new token; the last one carries the stop reason.
        `mask`: the head_mask [layers, heads] to generate with (heads knocked out), None for none.
        `prefix`: how many leading ids form a reusable prefix (a chat template's head) whose KV cache is
        kept and reused, so that only the rest of the prompt is run before the first token."""
        rng = np.random.default_rng(params.seed) if params.temperature > 0 else None
        prefix = prefix if 0 < prefix < len(ids) else 0
        past = self.prefix_past(ids[:prefix], mask, lock) if prefix else self._empty_past()
        new, done, made = list(ids[prefix:]), prefix, 0
        while True:
            with lock or nullcontext():
                logprobs, past = self._run(new, past, done, mask)
            done += len(new)
            tid = pick(logprobs, params, rng)
            made += 1
            reason = ("eos" if tid in eos_ids else "max_new_tokens" if made >= params.max_new_tokens
                      else "max_tokens" if done + 1 >= max_tokens else None)
            yield tid, float(logprobs[tid]), reason
            if reason is not None:
                return
            new = [tid]


class Clock:
    """timing_ms of an answer: first_token (request start to the first new token), per_token (mean
    time of each later token), total."""

    def __init__(self):
        self.t0 = time.perf_counter()
        self.first: float | None = None
        self.count = 0

    def tick(self) -> None:
        self.count += 1
        if self.first is None:
            self.first = time.perf_counter()

    def timing(self) -> dict[str, float]:
        now = time.perf_counter()
        first = self.first or now
        later = (now - first) / (self.count - 1) if self.count > 1 else 0.0
        return {"first_token": (first - self.t0) * 1000, "per_token": later * 1000, "total": (now - self.t0) * 1000}
