"""Generated answers: the prompt (chat template or plain text), the decode loop (service/runtime/generation.py)
as a stream of events, the final answer, and the in-process cache of deterministic answers.

`start(...)` validates everything and encodes the prompt before anything is generated (so every bad
input is a 4xx before a stream starts) and returns an iterator of events: ("token", {"id", "text",
"logprob"}) per new token, then ("done", answer). Closing the iterator (the HTTP client went away)
stops generating between two steps. The answer: `model`, `text` (the decode of every id, special
tokens kept: template + prompt + answer), `chat`, `prompt_span` ([start, end) of the user's text in
`text`, or null), `prompt_tokens`, `answer_start`, `tokens` (as /v1/attention gives them, offsets
into `text`), `stop_reason`, `timing_ms` {first_token, per_token, total} and `cached`. Every
answer's ids are remembered by text (service/runtime/sequences.py), so `raw` attention of `text` runs on
exactly them. Greedy and seeded answers are kept by (model, text, parameters) and replayed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import orjson

from ..common import errors
from . import ablation, chat_template
from .generation import Clock, GenerateParams
from .loaded_model import LoadedModel
from .sequences import SequenceMemory, tokens_from_ids
from .store import ByteLRU
from .tokens import tokenize

Event = tuple[str, dict]


def no_lm_head(model: str) -> errors.ServiceError:
    return errors.ServiceError(422, "no_lm_head", f"Model {model!r} (field 'model') has no LM head: it cannot "
                                                  "predict next tokens or generate; use a causal LM such as smollm2-135m.")


def template_head(m: LoadedModel, rendered: str, text: str) -> int:
    """How many leading tokens of a rendered chat prompt come before the user's text: the template's
    head (system prompt, role markers), the same for every message, whose KV cache generation reuses."""
    start = rendered.rfind(text)
    if start <= 0:
        return 0
    enc = m.tokenizer.encode(rendered, add_special_tokens=False)
    return sum(1 for _, end in enc.offsets if end <= start)


def prompt(m: LoadedModel, text: str, chat: bool | None) -> tuple[list[int], bool, str]:
    """(prompt ids, whether the chat template was used, the prompt's text as the model sees it)."""
    if chat is None:
        chat = m.chat_template is not None
    if chat and m.chat_template is None:
        raise errors.ServiceError(422, "no_chat_template",
                                  f"Model {m.id!r} has no chat template (field 'chat'); send \"chat\": false.")
    if chat:
        rendered = chat_template.render(m.chat_template, text, m.template_vars)
        ids = m.tokenizer.encode(rendered, add_special_tokens=False).ids
    else:
        ids, _ = tokenize(m.tokenizer, text, m.special_ids)
    return list(ids), chat, m.tokenizer.decode(list(ids), skip_special_tokens=False)


class Answers:
    """Starts answers for the engine and keeps the deterministic ones (byte-bounded LRU)."""

    def __init__(self, lock: threading.Lock, memory: SequenceMemory, max_bytes: int = 16 << 20):
        self.lock = lock
        self.memory = memory
        self.kept = ByteLRU(max_bytes)
        self.on_token: Callable[[str], None] | None = None  # called with the model id per generated token (metrics)

    def start(self, m: LoadedModel, text: str, params: GenerateParams) -> Iterator[Event]:
        if m.decoder is None:
            raise no_lm_head(m.id)
        ids, chat, prompt_text = prompt(m, text, params.chat)
        if len(ids) >= m.max_tokens:
            raise errors.ServiceError(
                422, "too_many_tokens", f"Field 'text' makes a prompt of {len(ids)} tokens; model {m.id!r} allows "
                                        f"at most {m.max_tokens} tokens in all, so no room is left for an answer.")
        span = prompt_text.rfind(text)
        head = {"model": m.id, "chat": chat, "prompt_span": None if span < 0 else [span, span + len(text)],
                "ablate": [list(p) for p in params.ablate]}
        key = (m.id, m.manifest.onnx_sha256, text, params.key())
        kept = self.kept.get(key) if params.deterministic else None
        if kept is not None:
            return self._replay(m, *kept)
        return self._generate(m, ids, params, {**head, "prompt_text": prompt_text, "text": text}, key)

    def _generate(self, m: LoadedModel, ids: list[int], params: GenerateParams, head: dict, key) -> Iterator[Event]:
        clock = Clock()
        prompt_tokens = len(ids)
        events: list[dict] = []
        reason = None
        mask = ablation.head_mask(list(params.ablate), m.manifest.layers, m.manifest.heads) if params.ablate else None
        head_tokens = template_head(m, head["prompt_text"], head["text"]) if head["chat"] else 0
        for tid, logprob, stop in m.decoder.steps(ids, params, m.max_tokens, m.eos_ids, self.lock, mask, head_tokens):
            clock.tick()
            reason = stop
            if self.on_token is not None:
                self.on_token(m.id)
            ids.append(tid)
            event = m.text_of.entry(tid, logprob)
            events.append(event)
            yield "token", event
        answer = self._answer(m, ids, {k: v for k, v in head.items() if k not in ("prompt_text", "text")},
                              prompt_tokens, reason)
        if params.deterministic:
            self.kept.put(key, (answer, events), len(orjson.dumps(answer)) + 64 * len(events))
        yield "done", {**answer, "timing_ms": clock.timing(), "cached": False}

    def _replay(self, m: LoadedModel, answer: dict, events: list[dict]) -> Iterator[Event]:
        clock = Clock()
        self.memory.remember((m.id, answer["text"]), answer["text"], [t["id"] for t in answer["tokens"]])
        for event in events:
            clock.tick()
            yield "token", event
        yield "done", {**answer, "timing_ms": clock.timing(), "cached": True}

    def _answer(self, m: LoadedModel, ids: list[int], head: dict, prompt_tokens: int, reason: str | None) -> dict:
        text, tokens = tokens_from_ids(m.tokenizer, ids, m.special_ids)
        self.memory.remember((m.id, text), text, ids)
        return {**head, "text": text, "prompt_tokens": prompt_tokens, "answer_start": prompt_tokens,
                "tokens": tokens, "stop_reason": reason}


def final(events: Iterator[Event]) -> dict:
    """The answer at the end of `events` (consumed)."""
    answer = None
    for kind, data in events:
        if kind == "done":
            answer = data
    return answer
