"""One exported model loaded for serving: its manifest, tokenizer and onnxruntime session, the
outputs it fetches, and `run_batch` — a padded batch of token ids in, each text's own arrays out
(float16 above `max_full_tokens`, see service/half.py). The engine (service/engine.py) keeps one per
model and routes requests, caching and batching around it.
"""

from __future__ import annotations

import time

import numpy as np

from . import errors
from .batching import crop, pad_batch
from .manifest import Manifest, verify_onnx
from .memory import run_options
from .providers import make_session
from .store import RecentStore
from .tokens import load_tokenizer

DEFAULT_MAX_FULL_TOKENS = 128


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"


class LoadedModel:
    """A loaded model: manifest, tokenizer, session and its feed layout."""

    def __init__(self, manifest: Manifest, device: str, threads: int, max_tokens: int, spinning: bool = False,
                 verify: bool = True, max_full_tokens: int = DEFAULT_MAX_FULL_TOKENS):
        self.manifest = manifest
        self.id = manifest.id
        try:
            self.tokenizer = load_tokenizer(manifest.tokenizer_file)
        except Exception as exc:  # noqa: BLE001 - tokenizers raises plain Exception subclasses
            raise errors.ConfigError(f"{manifest.tokenizer_file}: cannot be loaded ({_first_line(exc)}); "
                                     "re-run `make export`") from None
        t0 = time.perf_counter()
        if verify:
            verify_onnx(manifest)
        try:
            self.session = make_session(str(manifest.onnx_file), device, threads, spinning)
        except errors.ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises several unrelated types
            raise errors.ConfigError(f"{manifest.onnx_file}: onnxruntime cannot load it ({_first_line(exc)}); "
                                     "re-run `make export`") from None
        self.load_seconds = time.perf_counter() - t0
        self.provider = self.session.get_providers()[0]
        self.threads = threads
        self.input_names = [i.name for i in self.session.get_inputs()]
        unknown = set(self.input_names) - {"input_ids", "attention_mask", "position_ids", "token_type_ids"}
        if unknown:
            raise errors.ConfigError(f"{manifest.onnx_file}: unsupported model inputs {sorted(unknown)}")
        outs = {o.name: o.shape for o in self.session.get_outputs()}
        self.kinds = ("attentions", "value_norms", "queries", "keys") if manifest.qk else ("attentions",)
        self.output_names = [f"{kind}.{i}" for kind in self.kinds for i in range(manifest.layers)]
        missing = [n for n in self.output_names if n not in outs]
        if missing:
            raise errors.ConfigError(f"{manifest.onnx_file}: missing outputs {missing[:3]} (layers={manifest.layers})")
        head_dim = outs["queries.0"][-1] if manifest.qk and isinstance(outs["queries.0"][-1], int) else 0
        # values per token of the value norms (always float32) and of the queries and keys
        self.norm_values = manifest.layers * manifest.heads if manifest.qk else 0
        self.qk_values = manifest.layers * (manifest.heads + manifest.kv_heads) * head_dim
        # bytes per padded token of value norms, queries and keys (the batcher's memory cap)
        self.row_bytes = (self.norm_values + self.qk_values) * 4
        self.max_tokens = min(manifest.max_tokens, max_tokens)
        self.max_full_tokens = max_full_tokens
        self.special_ids = set(manifest.special_tokens.values())

    def run_batch(self, batch: list[list[int]]) -> list[dict[str, np.ndarray]]:
        """For each id list {"attentions": [L, H, T_i, T_i]} plus, for qk models, "value_norms"
        [L, H, T_i], "queries" [L, H, T_i, d] and "keys" [L, kv_heads, T_i, d]; one onnxruntime call.

        Texts that may be sent in full (up to max_full_tokens) keep onnxruntime's exact float32; longer
        ones are only ever pooled or sliced to one head, and their attentions, queries and keys are
        kept as float16 (half the memory). Value norms are always float32.
        """
        outs = self.session.run(self.output_names, pad_batch(batch, self.input_names), run_options())
        lengths = [len(ids) for ids in batch]
        dtypes = [np.float32 if n <= self.max_full_tokens else np.float16 for n in lengths]
        layers = self.manifest.layers
        per_kind = {kind: crop(outs[k * layers:(k + 1) * layers], lengths,
                               None if kind == "value_norms" else dtypes, square=kind == "attentions")
                    for k, kind in enumerate(self.kinds)}
        return [{kind: arrays[row] for kind, arrays in per_kind.items()} for row in range(len(batch))]

    def result_bytes(self, tokens: int) -> int:
        """What run_batch's result for a text of `tokens` tokens holds, as the recent-results store counts it."""
        size = 4 if tokens <= self.max_full_tokens else 2
        layers, heads = self.manifest.layers, self.manifest.heads
        return (layers * heads * tokens ** 2 * size + tokens * (self.norm_values * 4 + self.qk_values * size)
                + RecentStore.TOKEN_BYTES * tokens)

    def summary(self) -> dict:
        out = self.manifest.summary()
        out["max_tokens"] = self.max_tokens
        out["provider"] = self.provider
        out["threads"] = self.threads
        return out
