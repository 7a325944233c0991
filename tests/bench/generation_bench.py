"""What the model says, measured (`make bench`): predictions and generation of SmolLM2, each goal a
ratio to a time of the same run (tests/bench/goals.py).

1. Process at 50 characters (in process, `detail=grid`, every text new): predictions on vs off
   (goal ≤ 1.2x), and model.onnx as shipped (with the `last_context`/`last_residual` outputs that
   feed predictions.onnx) vs the same graph without them, fetching the same outputs (≤ 1.02x): the
   vocabulary projection costs nothing unless asked for.
2. Generation (greedy, in process): time per new token, 64 new tokens after a 50-character prompt
   (≤ 1.3x the weight-read floor's fastest run) and after a 400-token prompt (≤ 1.5x: the KV cache at
   work); the first token over real HTTP with server-sent events, request sent to first event
   (≤ 2x a 12-token forward of model.onnx timed beside it).

Usage: python -m tests.bench.generation_bench [--models-dir models] [--iters 9] [--new-tokens 64]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import requests

from headgaze.service.common import sse
from headgaze.service.runtime.batching import pad_batch
from headgaze.service.runtime.engine import Engine
from headgaze.service.runtime.providers import default_threads, make_session
from tests.bench.floor import Floor
from tests.bench.goals import Goal, fmt, print_goals
from tests.support.env import REPO
from tests.support.prose import prose_of_tokens
from tests.support.service import ServiceProcess

MODEL = "smollm2-135m"
WORDS = ("apple", "river", "candle", "garden", "pencil", "window", "silver", "forest", "bridge", "cookie")
FIFTY = "The fluffy blue monster ate the {} by the lake."  # ~50 characters, a new text each run
PROMPT = "Tell me a long story about a dragon and a {}."
SHORT = "The quick brown fox jumps over the lazy dog again."  # 12 SmolLM2 tokens


def fifty(i: int) -> str:
    return FIFTY.format(WORDS[i % len(WORDS)] + str(i))


def interleaved(steps: dict, iters: int, warmup: int = 2) -> dict[str, float]:
    """Median ms of each step, all steps run back to back in every iteration (load hits them alike)."""
    times: dict[str, list[float]] = {k: [] for k in steps}
    for i in range(warmup + iters):
        for k, fn in steps.items():
            t = time.perf_counter()
            fn(i)
            if i >= warmup:
                times[k].append((time.perf_counter() - t) * 1000)
    return {k: float(np.median(v)) for k, v in times.items()}


def without_feeds(onnx_file: Path, out: Path) -> Path:
    """model.onnx as it was before predictions: the same graph without the two outputs they read."""
    model = onnx.load(str(onnx_file))
    keep = [o for o in model.graph.output if o.name not in ("last_context", "last_residual")]
    del model.graph.output[:]
    model.graph.output.extend(keep)
    onnx.save(model, str(out))
    return out


def process_goals(engine: Engine, models_dir: Path, iters: int) -> list[Goal]:
    m = engine._models[MODEL]
    n = [0]

    def grid(predictions: bool):
        def run(_i):
            n[0] += 1
            engine.attention_grid(fifty(n[0]), MODEL, predictions=predictions)
        return run

    med = interleaved({"off": grid(False), "on": grid(True)}, iters)
    with tempfile.TemporaryDirectory() as tmp:
        old = make_session(str(without_feeds(m.manifest.onnx_file, Path(tmp) / "model.onnx")), "cpu", m.threads)
        feeds = pad_batch([[t["id"] for t in engine.attention(fifty(0), MODEL).tokens]], m.input_names)
        graphs = interleaved({"shipped": lambda _i: m.session.run(m.output_names, feeds),
                              "before": lambda _i: old.run(m.output_names, feeds)}, iters * 3)
    print(f"\nProcess at 50 characters, {MODEL} (medians of {iters}): predictions off {fmt(med['off'])} ms, "
          f"on {fmt(med['on'])} ms; model.onnx run {fmt(graphs['shipped'])} ms, without the predictions' "
          f"feeds {fmt(graphs['before'])} ms")
    return [Goal("Process 50 chars, predictions on", med["on"], "predictions off", med["off"], 1.2),
            Goal("model.onnx with the feeds of predictions.onnx", graphs["shipped"], "the same graph without them",
                 graphs["before"], 1.02)]


def per_token(engine: Engine, text: str, new_tokens: int, chat: bool, runs: int) -> tuple[float, float, int]:
    """(median ms per new token after the first, median first-token ms, prompt tokens), greedy, uncached."""
    per, first, prompt = [], [], 0
    for i in range(runs):
        ans = engine.generate(text.format(WORDS[i % len(WORDS)] + str(i)) if "{}" in text else text + f" ({i})",
                              MODEL, max_new_tokens=new_tokens, chat=chat)
        made = len(ans["tokens"]) - ans["answer_start"]
        if made < new_tokens:  # an early EOS: the per-token mean is over fewer tokens, still a per-token time
            print(f"  (run {i}: {made} new tokens, {ans['stop_reason']})")
        per.append(ans["timing_ms"]["per_token"])
        first.append(ans["timing_ms"]["first_token"])
        prompt = ans["prompt_tokens"]
    return float(np.median(per)), float(np.median(first)), prompt


_asked = [0]  # every prompt new: a repeated greedy prompt is answered from the cache


def first_token_http(url: str, runs: int) -> float:
    """Median ms from sending POST /v1/generate (SSE) to its first token event, every prompt new."""
    times = []
    for _ in range(runs):
        _asked[0] += 1
        t = time.perf_counter()
        with requests.post(url + "/v1/generate", json={"text": PROMPT.format(f"wizard {_asked[0]}"), "max_new_tokens": 2},
                           headers={"Accept": sse.MIMETYPE}, stream=True, timeout=60) as resp:
            resp.raise_for_status()
            events = sse.parse(resp.iter_lines(decode_unicode=True))
            kind, _ = next(events)
            times.append((time.perf_counter() - t) * 1000)
            assert kind == "token"
            for _event in events:  # to the end: the next request must not wait behind this answer's steps
                pass
    return float(np.median(times))


def forward_ms(engine: Engine, runs: int) -> float:
    """Median ms of one model.onnx run at 12 tokens (the service's session and feeds)."""
    m = engine._models[MODEL]
    feeds = pad_batch([[t["id"] for t in engine.attention(SHORT, MODEL).tokens]], m.input_names)
    return interleaved({"fwd": lambda _i: m.session.run(m.output_names, feeds)}, runs)["fwd"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.generation_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", default=str(REPO / "models"))
    parser.add_argument("--iters", type=int, default=9)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--long-tokens", type=int, default=400)
    args = parser.parse_args(argv)
    models_dir = Path(args.models_dir)
    engine = Engine(models_dir, warmup=False, max_tokens=max(512, args.long_tokens + args.new_tokens + 8),
                    max_chars=8000)
    if not engine._models.get(MODEL) or engine._models[MODEL].decoder is None:
        raise SystemExit(f"{MODEL} with its LM head graphs is missing from {models_dir} (make export)")
    floor = Floor(models_dir, default_threads())
    goals = process_goals(engine, models_dir, args.iters)

    runs = max(3, args.iters // 3)
    floor.clear()
    floor.sample(3)
    short_tok, short_first, short_prompt = per_token(engine, PROMPT, args.new_tokens, True, runs)
    floor.sample(3)
    long_text = prose_of_tokens(engine._models[MODEL].tokenizer, args.long_tokens)
    long_tok, long_first, long_prompt = per_token(engine, long_text, args.new_tokens, False, runs)
    floor.sample(3)
    print(f"\ngeneration, {MODEL}, greedy, {args.new_tokens} new tokens (medians of {runs}): "
          f"after a {short_prompt}-token chat prompt {fmt(short_tok)} ms/token (first {fmt(short_first)} ms); "
          f"after a {long_prompt}-token prompt {fmt(long_tok)} ms/token (first {fmt(long_first)} ms); "
          f"{floor.label()} {fmt(floor.best_ms())} ms")
    goals += [Goal(f"per new token, {short_prompt}-token prompt", short_tok, floor.label(), floor.best_ms(), 1.3),
              Goal(f"per new token, {long_prompt}-token prompt", long_tok, floor.label(), floor.best_ms(), 1.5)]

    with tempfile.TemporaryDirectory() as tmp:
        svc = ServiceProcess.for_models(models_dir, Path(tmp) / "service.log").start()
        try:
            first_token_http(svc.url, 2)  # warm
            first = first_token_http(svc.url, runs)
            fwd = forward_ms(engine, runs * 3)
        finally:
            svc.stop()
    print(f"first token over HTTP (SSE): {fmt(first)} ms; a 12-token forward: {fmt(fwd)} ms")
    goals.append(Goal("first token, HTTP SSE", first, "12-token forward", fwd, 2.0))
    print_goals(goals, f"generation goals ({MODEL})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
