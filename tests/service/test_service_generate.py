"""POST /v1/generate over real HTTP with the real exported SmolLM2: greedy ids equal transformers'
generate(do_sample=False), the chat prompt equals apply_chat_template, server-sent events, cancellation,
caching, every bad input, and raw attention on exactly the generated ids."""

from __future__ import annotations

import time

import orjson
import pytest
import torch

from headgaze.service.client import ServiceClient
from headgaze.service.common.errors import ServiceError
from headgaze.service.common.sse import parse
from headgaze.service.runtime.answers import prompt
from headgaze.service.runtime.engine import Engine

PROMPTS = ["What is the capital of France?", "Write a haiku about the sea."]
CHAT_TEXTS = [*PROMPTS, "Ça coûte 12,50 € 🙂\nnaïve — {{ not jinja }} <b>", "  spaces  "]


def generate(server, body: dict, **kw):
    return server.request("POST", "/v1/generate", json=body, **kw)


def metric(server, name: str) -> float:
    lines = server.get("/metrics").text.splitlines()
    return sum(float(line.split()[-1]) for line in lines if line.startswith(name + "{") or line.startswith(name + " "))


MAX_TOKENS = 48


@pytest.fixture(scope="module")
def small_engine(smollm2_dir):
    """SmolLM2 in-process with max_tokens 48 (a chat prompt is ~35 tokens: answers reach the limit)."""
    return Engine(smollm2_dir, warmup=False, max_tokens=MAX_TOKENS)


@pytest.mark.parametrize("text", CHAT_TEXTS)
def test_chat_prompt_equals_transformers_apply_chat_template(small_engine, reference, text):
    _, tokenizer = reference
    m = small_engine._model("smollm2-135m")
    ids, chat, _ = prompt(m, text, None)
    assert chat is True
    assert ids == tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True)
    assert ids[:2] != [1, 1]


@pytest.mark.parametrize("text", PROMPTS)
def test_greedy_answer_equals_transformers_generate(server, reference, text):
    model, tokenizer = reference
    body = generate(server, {"text": text, "max_new_tokens": 32}).json()
    prompt_ids = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True)
    with torch.no_grad():
        want = model.generate(torch.tensor([prompt_ids]), do_sample=False, max_new_tokens=32, eos_token_id=2,
                              pad_token_id=2)[0].tolist()
    ids = [t["id"] for t in body["tokens"]]
    assert ids == want
    assert body["prompt_tokens"] == body["answer_start"] == len(prompt_ids)
    assert body["stop_reason"] == ("eos" if ids[-1] == 2 else "max_new_tokens")
    assert body["chat"] is True and body["cached"] is False
    start, end = body["prompt_span"]
    assert body["text"][start:end] == text
    assert body["text"] == tokenizer.decode(ids, skip_special_tokens=False)
    for tok in body["tokens"]:
        assert tok["text"] == body["text"][tok["start"]:tok["end"]]
    assert set(body["timing_ms"]) == {"first_token", "per_token", "total"}
    # raw attention over prompt + answer runs on exactly the generated ids
    att = server.post({"text": body["text"], "raw": True, "detail": "grid"}).json()
    assert att["tokens"] == body["tokens"]
    again = generate(server, {"text": text, "max_new_tokens": 32}).json()
    assert again["cached"] is True and again["tokens"] == body["tokens"]


def test_streamed_events_end_with_the_answer(server):
    body = {"text": PROMPTS[0], "max_new_tokens": 12, "chat": False}
    resp = generate(server, body, headers={"Accept": "text/event-stream"}, stream=True)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
    events = list(parse(resp.iter_lines(decode_unicode=True)))
    kinds = [kind for kind, _ in events]
    assert kinds == ["token"] * (len(events) - 1) + ["done"]
    answer = events[-1][1]
    assert [d for _, d in events[:-1]] == [
        {"id": t["id"], "text": d["text"], "logprob": d["logprob"]}
        for t, (_, d) in zip(answer["tokens"][answer["answer_start"]:], events[:-1], strict=True)]
    assert answer["chat"] is False and answer["stop_reason"] in ("eos", "max_new_tokens")
    assert all(d["logprob"] <= 0 for _, d in events[:-1])
    plain = server.post({"text": body["text"]}).json()["tokens"]
    # chat=false: the text as /v1/attention encodes it (a BOS, if the tokenizer adds one, is spelt out in `text`)
    assert [t["id"] for t in answer["tokens"][:answer["prompt_tokens"]]] == [t["id"] for t in plain]
    client = ServiceClient(server.url)
    streamed = list(client.generate(body["text"], stream=True, max_new_tokens=12, chat=False))
    assert streamed[:-1] == events[:-1] and streamed[-1][1]["cached"] is True
    assert client.generate(body["text"], max_new_tokens=12, chat=False)["tokens"] == answer["tokens"]


def test_closing_the_stream_stops_generating(server):
    cancelled = metric(server, "headgaze_generate_cancelled_total")
    before = metric(server, "headgaze_generated_tokens_total")
    body = {"text": "Count: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,", "chat": False, "max_new_tokens": 256}
    resp = generate(server, body, headers={"Accept": "text/event-stream"}, stream=True)
    lines = resp.iter_lines(decode_unicode=True)
    events = parse(lines)
    for _ in range(3):
        assert next(events)[0] == "token"
    resp.close()
    deadline = time.monotonic() + 60
    while metric(server, "headgaze_generate_cancelled_total") == cancelled:
        assert time.monotonic() < deadline, "the service never noticed the client left"
        time.sleep(0.05)
    made = metric(server, "headgaze_generated_tokens_total") - before
    assert 3 <= made < 256
    time.sleep(0.5)
    assert metric(server, "headgaze_generated_tokens_total") - before == made  # stopped, not still generating


BAD = [
    ({"max_new_tokens": -1}, 422, "max_new_tokens"), ({"max_new_tokens": 0}, 422, "max_new_tokens"),
    ({"max_new_tokens": 257}, 422, "max_new_tokens"), ({"max_new_tokens": 10 ** 12}, 422, "max_new_tokens"),
    ({"max_new_tokens": "5"}, 400, "max_new_tokens"), ({"max_new_tokens": 1.5}, 400, "max_new_tokens"),
    ({"temperature": -0.1}, 422, "temperature"), ({"temperature": 2.5}, 422, "temperature"),
    ({"temperature": "hot"}, 400, "temperature"), ({"top_p": 0}, 422, "top_p"), ({"top_p": 1.5}, 422, "top_p"),
    ({"top_p": None, "seed": -1}, 422, "seed"), ({"seed": "x"}, 400, "seed"), ({"seed": 1.5}, 400, "seed"),
    ({"seed": True}, 400, "seed"), ({"chat": "yes"}, 400, "chat"), ({"text": ""}, 422, "empty_text"),
    ({"text": "word " * 800}, 422, "text"), ({"model": "minilm-l6"}, 422, "model"), ({"stream": True}, 400, "stream"),
]


@pytest.mark.parametrize(("extra", "status", "field"), BAD)
def test_bad_input_is_a_json_4xx_naming_the_field(server, extra, status, field):
    for accept in ("application/json", "text/event-stream"):
        resp = generate(server, {"text": "Hello", **extra}, headers={"Accept": accept})
        assert resp.status_code == status, resp.text
        err = resp.json()["error"]
        assert field in err["message"] or field == err["code"], err
    if extra.get("model") == "minilm-l6":
        assert err["code"] == "no_lm_head"


def test_engine_generates_like_the_service_and_stops_at_max_tokens(small_engine, server):
    eng = small_engine
    text = "Tell me a long story about a dragon."
    answer = eng.generate(text, max_new_tokens=64)
    assert answer["stop_reason"] == "max_tokens" and len(answer["tokens"]) == MAX_TOKENS
    with pytest.raises(ServiceError) as exc:
        eng.generate("word " * 40)
    assert exc.value.status == 422 and "'text'" in exc.value.message
    http = ServiceClient(server.url).generate(text, max_new_tokens=MAX_TOKENS - answer["prompt_tokens"])
    assert [t["id"] for t in http["tokens"]] == [t["id"] for t in answer["tokens"]]
    sampled = [eng.generate(text, max_new_tokens=8, temperature=0.9, top_p=0.9, seed=7) for _ in range(2)]
    assert sampled[0]["tokens"] == sampled[1]["tokens"] and sampled[1]["cached"] is True
    events = list(eng.generate(text, stream=True, max_new_tokens=4, temperature=1.0, seed=None))
    assert [k for k, _ in events] == ["token"] * 4 + ["done"] and events[-1][1]["cached"] is False
    res = eng.attention(sampled[0]["text"], raw=True, predictions=True, top_k=1)
    assert [t["id"] for t in res.tokens] == [t["id"] for t in sampled[0]["tokens"]]
    assert orjson.dumps(res.predictions)
