"""The cost of queries, keys and value norms (issue 11), part of `make bench`.

1. onnxruntime alone, at the 12-token text: `session.run` fetching the attentions only vs the
   attentions plus value norms, queries and keys (what the engine fetches for a qk model), runs
   interleaved on the engine's own session. Goal: ≤ 10 % more.
2. A `detail=grid` request answered from the recent-results store (so no model run, heads_stats
   memoised) with weighting "attention" vs "value_norm", interleaved, at 12 tokens and 512 tokens:
   the price of weighting before pooling.

Usage: python -m tests.bench.qk_bench [--models-dir models] [--models smollm2-135m,minilm-l6] [--iters 40]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from headgaze.service.runtime.batching import pad_batch
from headgaze.service.runtime.cache import make_backend
from headgaze.service.runtime.engine import Engine
from headgaze.service.runtime.tokens import load_tokenizer
from tests.support.env import REPO
from tests.support.prose import prose_of_tokens

SHORT_TEXT = "The quick brown fox jumps over the lazy dog again."  # 12 SmolLM2 tokens
LONG_TOKENS = 512
GOAL = 1.10


def interleaved(steps: dict, iters: int, warmup: int = 3) -> dict[str, float]:
    """Median ms of each step, the steps run back to back in every iteration (load hits them alike)."""
    times: dict[str, list[float]] = {k: [] for k in steps}
    for i in range(warmup + iters):
        for k, fn in steps.items():
            t = time.perf_counter()
            fn()
            if i >= warmup:
                times[k].append((time.perf_counter() - t) * 1000)
    return {k: float(np.median(v)) for k, v in times.items()}


def onnxruntime_rows(engine: Engine, model_ids: list[str], iters: int) -> list[dict]:
    rows = []
    for m in model_ids:
        model = engine._models[m]
        ids = [t["id"] for t in engine.attention(SHORT_TEXT, m).tokens]
        feeds = pad_batch([ids], model.input_names)
        layers = model.manifest.layers
        med = interleaved({"attentions": lambda r=model.session.run, n=model.output_names[:layers], f=feeds: r(n, f),
                           "all": lambda r=model.session.run, n=model.output_names, f=feeds: r(n, f)}, iters)
        rows.append({"model": m, "tokens": len(ids), "outputs": len(model.output_names),
                     "attentions_ms": med["attentions"], "all_ms": med["all"], "ratio": med["all"] / med["attentions"]})
    return rows


def weighting_rows(service, models_dir: str, model_ids: list[str], iters: int) -> list[dict]:
    """`service`: a running tests.bench.service_bench.Service with the recent-results store on."""
    rows = []
    for m in model_ids:
        long_text = prose_of_tokens(load_tokenizer(Path(models_dir) / m / "tokenizer.json"), LONG_TOKENS)
        for text, n in ((SHORT_TEXT, iters), (long_text, max(5, iters // 8))):
            tokens = len(service.post(text, m, detail="grid").json()["tokens"])  # computed once, then from the store
            med = interleaved({w: lambda t=text, w=w, m=m: service.post(t, m, detail="grid", weighting=w)
                               for w in ("attention", "value_norm")}, n)
            rows.append({"model": m, "tokens": tokens, "off_ms": med["attention"], "on_ms": med["value_norm"],
                         "ratio": med["value_norm"] / med["attention"]})
    return rows


def print_tables(ort_rows: list[dict], grid_rows: list[dict]) -> None:
    print()
    print("| model | tokens | onnxruntime p50 ms: attentions only | + value norms, queries, keys | ratio | goal ≤ 1.10 |")
    print("|---|---|---|---|---|---|")
    for r in ort_rows:
        print(f"| {r['model']} | {r['tokens']} | {r['attentions_ms']:.2f} | {r['all_ms']:.2f} | {r['ratio']:.3f} "
              f"| {'met' if r['ratio'] <= GOAL else 'NOT met'} |")
    print()
    print("| model | tokens | grid from the store, HTTP p50 ms: weighting off | weighting=value_norm | ratio |")
    print("|---|---|---|---|---|")
    for r in grid_rows:
        print(f"| {r['model']} | {r['tokens']} | {r['off_ms']:.1f} | {r['on_ms']:.1f} | {r['ratio']:.2f} |")


def run(models_dir: str, model_ids: list[str], threads: int | None, iters: int) -> tuple[list[dict], list[dict]]:
    from tests.bench.service_bench import Service

    engine = Engine(models_dir, threads=threads, cache=make_backend("none"), store_mb=0)
    ort_rows = onnxruntime_rows(engine, model_ids, iters)
    del engine
    service = Service(models_dir, threads, "simple")
    try:
        grid_rows = weighting_rows(service, models_dir, model_ids, iters)
    finally:
        service.stop()
    return ort_rows, grid_rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models-dir", default=str(REPO / "models"))
    ap.add_argument("--models", default="smollm2-135m,minilm-l6")
    ap.add_argument("--iters", type=int, default=40)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    print_tables(*run(args.models_dir, [m for m in args.models.split(",") if m], args.threads, args.iters))


if __name__ == "__main__":
    main()
