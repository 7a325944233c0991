"""Knock-out, measured (`make bench`): each goal a ratio to a time of the same run (tests/bench/goals.py).

1. The normal path must not get slower for the optional `head_mask`: model.onnx (every request's
   graph) has none; decoder.onnx (generation, and a knock-out's prefill) at 12 tokens with the mask
   unfed, against the same graph with the mask's nodes cut out (goal ≤ 1.02x, medians of interleaved
   runs).
2. An ablation request at 50 characters, in process, after the text was processed (as the page asks
   for it), against a normal Process's service time (`attention_grid` of a new text): ≤ 1.3x.
3. In the page (Chromium, the dashboard on the in-process engine): Knock out → the strip drawn, against
   Process → the grid drawn, at 50 characters (≤ 1.5x), and at 512 tokens against the model's own time
   (the service's `inference` of that text; ≤ 1.5x).

Usage: python -m tests.bench.knockout_bench [--models-dir models] [--iters 9] [--runs 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

from headgaze.service.runtime.engine import Engine
from headgaze.service.runtime.providers import make_session
from tests.bench.generation_bench import fifty, interleaved
from tests.bench.goals import Goal, fmt, print_goals
from tests.support.env import REPO
from tests.support.prose import prose_of_tokens

MODEL = "smollm2-135m"
SHORT = "The quick brown fox jumps over the lazy dog again."  # 12 SmolLM2 tokens
HEADS = [[4, 1]]


def without_mask(onnx_file: Path, out: Path) -> Path:
    """model.onnx with the head mask cut out: each `layers.{i}.head_mask` Mul bypassed, then every node no
    output needs dropped (the mask rows), and the input with its initializer."""
    model = onnx.load(str(onnx_file))
    g = model.graph
    bypass = {n.output[0]: n.input[0] for n in g.node if n.name.endswith(".head_mask")}
    for n in g.node:
        n.input[:] = [bypass.get(i, i) for i in n.input]
    needed, keep = {o.name for o in g.output}, []
    for n in reversed(list(g.node)):
        if n.name.endswith(".head_mask") or not needed & set(n.output):
            continue
        keep.append(n)
        needed |= set(n.input)
    del g.node[:]
    g.node.extend(reversed(keep))
    inits = [t for t in g.initializer if t.name in needed]
    del g.initializer[:]
    g.initializer.extend(inits)
    inputs = [i for i in g.input if i.name in needed]
    del g.input[:]
    g.input.extend(inputs)
    onnx.save(model, str(out))
    return out


def mask_goal(engine: Engine, iters: int) -> Goal:
    """decoder.onnx (the graph that takes head_mask; generation runs it) at 12 tokens with the mask unfed,
    against the same graph with the mask cut out. model.onnx has no mask at all."""
    m = engine._models[MODEL]
    ids = [t["id"] for t in engine.attention(SHORT, MODEL).tokens]
    dec = m.decoder
    feeds = dec._feeds(ids, dec._empty_past(), 0, None)
    with tempfile.TemporaryDirectory() as tmp:
        path = m.manifest.path / str(m.manifest.raw["generation"]["file"])
        plain = make_session(str(without_mask(path, Path(tmp) / "decoder.onnx")), "cpu", m.threads)
        med = interleaved({"mask": lambda _i: dec.session.run(dec.output_names, feeds),
                           "none": lambda _i: plain.run(dec.output_names, feeds)}, iters * 4)
    print(f"\ndecoder.onnx at 12 tokens: with the optional head_mask (unfed) {fmt(med['mask'])} ms, the same graph "
          f"without it {fmt(med['none'])} ms (model.onnx, every page's graph, has no mask)")
    return Goal("decoder.onnx with head_mask unfed, 12 tokens", med["mask"], "without the mask", med["none"], 1.02)


def ablation_goal(engine: Engine, iters: int) -> Goal:
    n = [1000]

    def process(_i):
        n[0] += 1
        engine.attention_grid(fifty(n[0]), MODEL, predictions=True)

    def ablate(_i):  # the text the page shows (processed just before), one head out
        engine.ablate(fifty(n[0]), MODEL, HEADS)

    med = interleaved({"process": process, "ablate": ablate}, iters)
    print(f"at 50 characters: a Process (service time, predictions on) {fmt(med['process'])} ms, an ablation "
          f"request after it {fmt(med['ablate'])} ms")
    return Goal("ablation request, 50 chars", med["ablate"], "Process (service)", med["process"], 1.3)


def page_goals(engine: Engine, models_dir: Path, runs: int) -> list[Goal]:
    from headgaze.dashboard.app import create_app
    from tests.dashboard.browser import (
        GRID_JS,
        ServerThread,
        launch_chromium,
        new_page,
        open_page,
        select_head,
    )

    srv = ServerThread(create_app(engine=engine, max_chars=4000).server)
    pw, browser = launch_chromium()
    ctx, page, _ = new_page(browser)
    strip = "document.querySelector('#knockout-strip .js-plotly-plot')"
    clock = f"""([what, heads]) => new Promise((resolve) => {{
        const gd = what === 'grid' ? {GRID_JS} : {strip}, t0 = performance.now();
        const done = () => {{ const m = gd._fullLayout.meta || {{}};
            return what === 'grid' ? m.key && m.key !== window.__hgKey : JSON.stringify(m.heads) === JSON.stringify(heads); }};
        const check = () => done() ? requestAnimationFrame(() => resolve(performance.now() - t0)) : setTimeout(check, 2);
        document.querySelector(what === 'grid' ? '#process-button' : '#knockout-toggle input').click();
        check(); }})"""
    try:
        open_page(page, srv.url)
        long_text = prose_of_tokens(engine._models[MODEL].tokenizer, 512)
        out = {}
        for name, text_of in (("50 chars", fifty), ("512 tokens", lambda i: long_text + f" {i}")):
            grid, knock, model_ms = [], [], []
            for i in range(runs):
                text = text_of(5000 + i)
                page.fill("#text-input", text)
                page.evaluate(f"() => {{ window.__hgKey = {GRID_JS}._fullLayout.meta.key; }}")
                grid.append(page.evaluate(clock, ["grid", None]))
                select_head(page, *HEADS[0])
                knock.append(page.evaluate(clock, ["strip", HEADS]))
                page.click("#knockout-clear")
                model_ms.append(engine.attention_grid(text, MODEL).timing_ms.get("inference") or 0.0)
            out[name] = (float(np.median(grid)), float(np.median(knock)))
            print(f"page, {name}: Process → grid drawn {fmt(out[name][0])} ms, Knock out → strip drawn "
                  f"{fmt(out[name][1])} ms (medians of {runs})")
        long_model = engine.attention_grid(long_text + " model", MODEL).timing_ms["inference"]
    finally:
        ctx.close()
        browser.close()
        pw.stop()
        srv.close()
    return [Goal("Knock out → strip drawn, 50 chars", out["50 chars"][1], "Process → grid drawn", out["50 chars"][0], 1.5),
            Goal("Knock out → strip drawn, 512 tokens", out["512 tokens"][1], "the model's own time", long_model, 1.5)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.knockout_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", default=str(REPO / "models"))
    parser.add_argument("--iters", type=int, default=9)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true", help="leave out the page's goals")
    args = parser.parse_args(argv)
    engine = Engine(Path(args.models_dir), warmup=False, max_tokens=600, max_chars=8000)
    if engine._models.get(MODEL) is None or engine._models[MODEL].ablation_kind is None:
        raise SystemExit(f"{MODEL} exported with head_mask is missing from {args.models_dir} (make export)")
    t0 = time.perf_counter()
    goals = [mask_goal(engine, args.iters), ablation_goal(engine, args.iters)]
    if not args.no_browser:
        goals += page_goals(engine, Path(args.models_dir), args.runs)
    print_goals(goals, f"knock-out goals ({MODEL}, {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
