"""One exported model loaded for serving: its manifest, tokenizer and onnxruntime session, the
outputs it fetches, and `run_batch` — a padded batch of token ids in, each text's own arrays out
(float16 above `max_full_tokens`, see service/common/half.py). The engine (service/runtime/engine.py) keeps one per
model and routes requests, caching and batching around it.

A model exported with q/k is served without T×T outputs (export/serve_graph.py): its results hold
queries, keys and value norms in float32, and every view of the weights is computed from them
(`views`, service/runtime/qk_views.py).

Models with an LM head (manifest `lm_head`) also load predictions.onnx (service/runtime/predictions.py) and
decoder.onnx (service/runtime/generation.py), and carry the chat template and end-of-sequence ids. Models
exported with `head_mask` can be run with heads knocked out (service/runtime/ablation.py): through
decoder.onnx's prefill for a model with an LM head, else hidden.onnx (final hidden states).
"""

from __future__ import annotations

import time

import numpy as np

from ..analysis.grid import GRID_SIZE
from ..common import errors
from . import ablation, chat_template, predictions
from .batching import crop, pad_batch
from .generation import Decoder
from .manifest import Manifest, verify_onnx
from .memory import run_options
from .providers import make_session
from .qk_views import SUMMARY_KINDS, QkViews
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
        # a q/k model's served graph has no attentions outputs: its weights come from q and k
        self.from_qk = manifest.qk and "attentions.0" not in outs
        self.views = QkViews(manifest, threads) if self.from_qk else None
        qk_kinds = ("value_norms", "queries", "keys")
        self.kinds = qk_kinds if self.from_qk else ("attentions", *qk_kinds) if manifest.qk else ("attentions",)
        # what a stored result needs to answer every request but a q/k one (which needs all of `kinds`)
        self.view_kinds = (*self.kinds, *SUMMARY_KINDS) if self.from_qk else self.kinds[:2]
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
        self._load_ablation(device, threads, spinning)

    def _load_ablation(self, device: str, threads: int, spinning: bool) -> None:
        """Knock-out (service/runtime/ablation.py): model.onnx's optional head_mask, and what the knock-out is
        measured on: the predictions (LM head) or hidden.onnx's final hidden states."""
        raw = self.manifest.raw
        spec = raw.get("ablation") if isinstance(raw.get("ablation"), dict) else {}
        self.head_mask = raw.get("head_mask") is True
        self.ablation_kind = spec.get("kind") if self.head_mask and spec.get("kind") in ("predictions", "hidden") else None
        self.ablation_reason = (str(spec.get("reason") or raw.get("head_mask_reason") or "")
                                or "exported before knock-out was added; re-run `make export`")
        if self.ablation_kind == "predictions":
            optional = {i.name for i in self.decoder.session.get_overridable_initializers()} if self.decoder else set()
            if self.predictions is None or ablation.HEAD_MASK not in optional:
                raise errors.ConfigError(f"{self.manifest.path}: decoder.onnx takes no head_mask although the "
                                         "manifest says so; re-run `make export`")
        self.hidden: ablation.HiddenHead | None = None
        if self.ablation_kind == "hidden":
            try:
                self.hidden = ablation.HiddenHead(str(self.manifest.path / str(spec.get("file") or "hidden.onnx")),
                                                  device, threads, spinning)
            except errors.ConfigError:
                raise
            except Exception as exc:  # noqa: BLE001 - onnxruntime raises several unrelated types
                raise errors.ConfigError(f"{self.manifest.path}: hidden.onnx cannot be loaded ({_first_line(exc)}); "
                                         "re-run `make export`") from None

    def feeds(self, ids: list[int]) -> dict[str, np.ndarray]:
        """model.onnx's feeds for one text (no padding)."""
        return pad_batch([ids], self.input_names)

    def run_contexts(self, ids: list[int]) -> dict[str, np.ndarray]:
        """model.onnx's every layer's context ("contexts" [L, T, H*d]) and predictions.onnx's feeds, one run
        (what a head's writes need)."""
        names = [f"contexts.{i}" for i in range(self.manifest.layers)] + list(predictions.INPUTS)
        outs = self.session.run(names, self.feeds(ids), run_options())
        layers = self.manifest.layers
        return {"contexts": np.stack([o[0] for o in outs[:layers]]),
                **{name: np.ascontiguousarray(o[0]) for name, o in zip(predictions.INPUTS, outs[layers:], strict=True)}}

    def run_masked(self, ids: list[int], mask: np.ndarray) -> dict[str, np.ndarray]:
        """decoder.onnx's prefill of `ids` with `mask` as head_mask: what predictions.onnx reads
        ("last_context" [T, H*d], "last_residual" [T, D]) under the knock-out."""
        return self.decoder.prefill_feeds(ids, mask)

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
        kept as float16 (half the memory). Value norms are always float32, and so are a `from_qk`
        model's queries and keys (its weights are computed from them: float16 would cost 1e-3).
        """
        extra_names = self.extra_names if extra else []
        outs = self.session.run(self.output_names + extra_names, pad_batch(batch, self.input_names), run_options())
        extras = outs[len(self.output_names):]
        lengths = [len(ids) for ids in batch]
        dtypes = [np.float32 if n <= self.max_full_tokens or self.from_qk else np.float16 for n in lengths]
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
        layers, heads = self.manifest.layers, self.manifest.heads
        if self.from_qk:  # q/k/value norms in float32, and the summary: thumbnails, row values, argmax
            t = min(tokens, GRID_SIZE)
            return (tokens * (self.norm_values + self.qk_values) * 4 + layers * heads * (t * t + tokens * 7) * 4
                    + RecentStore.TOKEN_BYTES * tokens)
        size = 4 if tokens <= self.max_full_tokens else 2
        return (layers * heads * tokens ** 2 * size + tokens * (self.norm_values * 4 + self.qk_values * size)
                + RecentStore.TOKEN_BYTES * tokens)

    def summary(self) -> dict:
        out = self.manifest.summary()
        out["max_tokens"] = self.max_tokens
        out["provider"] = self.provider
        out["attention_source"] = "queries_keys" if self.from_qk else "attentions"
        out["threads"] = self.threads
        out["lm_head"] = self.lm_head
        out["chat_template"] = self.chat_template is not None
        out["eos_token_ids"] = sorted(self.eos_ids)
        out["add_bos"] = self.add_bos
        out["max_top_k"] = self.predictions.max_top_k if self.predictions else None
        out["writes"] = bool(self.predictions and self.predictions.has_writes)
        out["head_mask"] = self.head_mask
        out["ablation"] = self.ablation_kind
        if self.ablation_kind is None:
            out["ablation_reason"] = self.ablation_reason
        return out
