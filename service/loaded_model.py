"""One exported model loaded for serving: its manifest, tokenizer and onnxruntime session, the
outputs it fetches, and `run_batch` — a padded batch of token ids in, each text's own arrays out
(float16 above `max_full_tokens`, see service/half.py). The engine (service/engine.py) keeps one per
model and routes requests, caching and batching around it.

Models with an LM head (manifest `lm_head`) also load predictions.onnx (service/predictions.py) and
decoder.onnx (service/generation.py), and carry the chat template and end-of-sequence ids.
"""

from __future__ import annotations

import time

import numpy as np

from . import chat_template, errors, predictions
from .batching import crop, pad_batch
from .generation import Decoder
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
        raw = manifest.raw
        self.lm_head = raw.get("lm_head") is True
        self.eos_ids = {int(i) for i in raw.get("eos_token_ids") or [] if isinstance(i, int)}
        added = {int(i) for i, tok in self.tokenizer.get_added_tokens_decoder().items() if tok.special}
        self.special_ids = set(manifest.special_tokens.values()) | self.eos_ids | added
        self.add_bos = raw.get("add_bos") if isinstance(raw.get("add_bos"), bool) else None
        template = raw.get("chat_template")
        self.chat_template = template if isinstance(template, str) and template.strip() else None
        tvars = raw.get("template_vars") if isinstance(raw.get("template_vars"), dict) else {}
        self.template_vars = {str(k): v for k, v in tvars.items() if isinstance(v, str)}
        self.text_of = predictions.TokenTexts(self.tokenizer)  # the decode of one id, kept
        self.extra_names: list[str] = []
        self.predictions: predictions.PredictionHead | None = None
        self.decoder: Decoder | None = None
        if self.lm_head:
            self._load_lm_head(outs, device, threads, spinning)

    def _load_lm_head(self, outs: dict, device: str, threads: int, spinning: bool) -> None:
        """predictions.onnx, decoder.onnx and the chat template; ConfigError naming what is wrong."""
        man, raw = self.manifest, self.manifest.raw
        missing = [n for n in predictions.INPUTS if n not in outs]
        if missing:
            raise errors.ConfigError(f"{man.onnx_file}: lm_head is true but outputs {missing} are missing; "
                                     "re-run `make export`")
        self.extra_names = list(predictions.INPUTS)
        pred = raw.get("predictions") if isinstance(raw.get("predictions"), dict) else {}
        gen = raw.get("generation") if isinstance(raw.get("generation"), dict) else {}
        if self.chat_template is not None:
            chat_template.compile_template(self.chat_template)
        try:
            self.predictions = predictions.PredictionHead(
                str(man.path / str(pred.get("file") or "predictions.onnx")), device, threads, spinning,
                int(pred.get("max_top_k") or predictions.MAX_TOP_K))
            self.decoder = Decoder(str(man.path / str(gen.get("file") or "decoder.onnx")), device, threads, spinning,
                                   layers=int(gen.get("layers") or man.layers),
                                   kv_heads=int(gen.get("kv_heads") or man.kv_heads),
                                   head_dim=int(gen["head_dim"]))
        except errors.ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises several unrelated types; KeyError: no head_dim
            raise errors.ConfigError(f"{man.path}: the LM head graphs cannot be loaded ({_first_line(exc)}); "
                                     "re-run `make export`") from None

    def run_batch(self, batch: list[list[int]], extra: bool = False) -> list[dict[str, np.ndarray]]:
        """For each id list {"attentions": [L, H, T_i, T_i]} plus, for qk models, "value_norms"
        [L, H, T_i], "queries" [L, H, T_i, d] and "keys" [L, kv_heads, T_i, d]; one onnxruntime call.
        `extra` (models with an LM head): also "last_context" [T_i, H*d] and "last_residual" [T_i, D],
        float32, what predictions.onnx reads.

        Texts that may be sent in full (up to max_full_tokens) keep onnxruntime's exact float32; longer
        ones are only ever pooled or sliced to one head, and their attentions, queries and keys are
        kept as float16 (half the memory). Value norms are always float32.
        """
        extra_names = self.extra_names if extra else []
        outs = self.session.run(self.output_names + extra_names, pad_batch(batch, self.input_names), run_options())
        extras = outs[len(self.output_names):]
        lengths = [len(ids) for ids in batch]
        dtypes = [np.float32 if n <= self.max_full_tokens else np.float16 for n in lengths]
        layers = self.manifest.layers
        per_kind = {kind: crop(outs[k * layers:(k + 1) * layers], lengths,
                               None if kind == "value_norms" else dtypes, square=kind == "attentions")
                    for k, kind in enumerate(self.kinds)}
        results = [{kind: arrays[row] for kind, arrays in per_kind.items()} for row in range(len(batch))]
        for name, out in zip(extra_names, extras, strict=True):
            for row, n in enumerate(lengths):
                results[row][name] = np.ascontiguousarray(out[row, :n], dtype=np.float32)
        return results

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
        out["lm_head"] = self.lm_head
        out["chat_template"] = self.chat_template is not None
        out["eos_token_ids"] = sorted(self.eos_ids)
        out["add_bos"] = self.add_bos
        out["max_top_k"] = self.predictions.max_top_k if self.predictions else None
        return out
