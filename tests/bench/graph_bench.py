"""`make bench` (first table): the lean graph against the generic graph and the memory floor.

Four onnxruntime sessions with the service's own session options (service/runtime/providers.py), timed
interleaved in one process so that other load on the box hits all four alike:
- **generic**: optimum's graph (`headgaze export --graph generic`, in --generic-dir);
- **lean**: the graph `make export` builds for the model (export/lean_graph.py);
- **floor**: reading every weight matrix once and nothing else: one MatMul per input width over the
  lean graph's own MatMul weights concatenated, fed [1, T, width] activations;
- **layered floor**: the same weight matrices as separate MatMuls (117 for SmolLM2), one per matrix,
  nothing else: the cost of reading the weights layer by layer, as any decoder must (each layer
  needs the previous one's output), so lean / layered floor is what the lean graph's other nodes add.
At 5, 12, 50 and 512 tokens: median ms of each, lean's speed-up over generic, lean / floor,
lean / layered floor, and max |lean - generic| over what the service fetches (a q/k model's queries,
keys and value norms). Then start-up: the seconds to
create each session.
Goals at 12 tokens, each a ratio of two medians of this run (tests/bench/goals.py): lean ≥ 1.25x faster
than generic (lean ≤ 0.8x generic), lean ≤ 1.3x the floor; printed as a table after the rows.

A model without a lean graph (an encoder: MiniLM) gets generic vs the floors only: the most a lean
graph could gain there.

Usage: python -m tests.bench.graph_bench [--models-dir models] [--generic-dir build/generic-models]
                                         [--models smollm2-135m,minilm-l6] [--iters 30] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from headgaze.service.runtime.batching import pad_batch
from headgaze.service.runtime.providers import default_threads, make_session
from tests.bench.floor import floor_graph, layered_floor_graph, random_feeds, weight_matrices
from tests.bench.goals import Goal, print_goals
from tests.support.prose import prose_of_tokens

TOKENS = (5, 12, 50, 512)
LONG_ITERS = 6  # 512 tokens: each run is ~0.5 s
GOAL_SPEEDUP, GOAL_FLOOR = 1.25, 1.3
GOAL_TOKENS = 12


def lean_goals(p50: dict[str, float], tokens: int) -> list[Goal]:
    """The lean graph against the generic graph (a speed-up of GOAL_SPEEDUP: lean ≤ 1 / GOAL_SPEEDUP of
    generic) and against the floor, both measured in this run."""
    return [
        Goal(
            f"lean graph, {tokens} tokens: speed-up ≥ {GOAL_SPEEDUP}x over generic",
            p50["lean"],
            "generic",
            p50["generic"],
            round(1 / GOAL_SPEEDUP, 3),
        ),
        Goal(
            f"lean graph, {tokens} tokens: ≤ {GOAL_FLOOR}x the floor",
            p50["lean"],
            "floor",
            p50["floor"],
            GOAL_FLOOR,
        ),
    ]


def timed_session(path: Path, threads: int):
    start = time.perf_counter()
    session = make_session(str(path), "cpu", threads)
    return session, time.perf_counter() - start


def graphs(models_dir: Path, generic_dir: Path, model: str) -> dict[str, Path]:
    """name → model folder: "lean" where models/<id> is lean, "generic" from --generic-dir or models/<id>."""

    def kind(folder: Path) -> str | None:
        manifest = folder / "manifest.json"
        return (
            json.loads(manifest.read_text()).get("graph", {}).get("kind", "generic")
            if manifest.is_file()
            else None
        )

    found = {}
    if kind(generic_dir / model) == "generic":
        found["generic"] = generic_dir / model
    own = kind(models_dir / model)
    if own is not None:
        found.setdefault(own, models_dir / model)
    if "generic" not in found:
        raise SystemExit(
            f"{model}: no generic graph in {generic_dir} or {models_dir} "
            f"(headgaze export --graph generic --models-dir {generic_dir} {model})"
        )
    return found


def bench_model(args, model: str) -> None:
    found = graphs(Path(args.models_dir), Path(args.generic_dir), model)
    info = json.loads((found["generic"] / "manifest.json").read_text())
    mats = weight_matrices(found.get("lean", found["generic"]) / "model.onnx")
    floors = {"floor": floor_graph(mats, Path(args.generic_dir) / f".{model}-floor.onnx"),
              "layered": layered_floor_graph(mats, Path(args.generic_dir) / f".{model}-layered-floor.onnx")}  # fmt: skip
    del mats
    sessions, load_s = {}, {}
    for name, folder in found.items():
        sessions[name], load_s[name] = timed_session(folder / "model.onnx", args.threads)
    for name, path in floors.items():
        sessions[name], load_s[name] = timed_session(path, args.threads)
    tokenizer = Tokenizer.from_file(str(found["generic"] / "tokenizer.json"))
    # what the service fetches: the attentions, or a q/k model's queries, keys and value norms (served
    # without attentions outputs, export/serve_graph.py); the same for both graphs of a model
    names = [str(n) for n in info["outputs"]]
    graphs_run = [k for k in ("generic", "lean") if k in sessions]
    rng = np.random.default_rng(0)
    lean = "lean" in sessions
    goals: list[Goal] = []

    print(f"\n{' vs '.join(sessions)}: {model}, onnxruntime CPU, {args.threads} threads, "
          f"interleaved medians of {args.iters} runs ({LONG_ITERS} at 512 tokens)\n")  # fmt: skip
    head = (
        "| tokens | generic p50 ms |"
        + (" lean p50 ms |" if lean else "")
        + " floor p50 ms | layered floor p50 ms |"
    )
    head += (
        " lean speed-up vs generic | lean / floor | lean / layered floor | max abs diff lean vs generic |"
        if lean
        else " generic / floor | generic / layered floor |"
    )
    print(head + "\n" + "|---" * head.count(" |") + "|")
    for tokens in [t for t in TOKENS if t <= info["max_tokens"]]:
        ids = tokenizer.encode(prose_of_tokens(tokenizer, tokens)).ids
        feeds = {k: pad_batch([ids], [i.name for i in sessions[k].get_inputs()]) for k in graphs_run}
        for name in floors:
            feeds[name] = random_feeds(sessions[name], tokens, rng)
        diff = 0.0
        if lean:
            outs = {k: sessions[k].run(names, feeds[k]) for k in graphs_run}
            diff = max(float(np.abs(a - b).max()) for a, b in zip(outs["generic"], outs["lean"], strict=True))
            del outs
        times = defaultdict(list)
        order = list(sessions)
        for it in range(LONG_ITERS if tokens > 100 else args.iters):
            for name in order[it % len(order) :] + order[: it % len(order)]:  # rotate who goes first
                start = time.perf_counter()
                sessions[name].run(None if name in floors else names, feeds[name])
                times[name].append((time.perf_counter() - start) * 1000)
        p50 = {k: float(np.median(v)) for k, v in times.items()}
        if not lean:
            print(f"| {tokens} | {p50['generic']:.1f} | {p50['floor']:.1f} | {p50['layered']:.1f} | "
                  f"{p50['generic'] / p50['floor']:.2f}x | {p50['generic'] / p50['layered']:.2f}x |")  # fmt: skip
            continue
        if tokens == GOAL_TOKENS:
            goals = lean_goals(p50, tokens)
        print(f"| {tokens} | {p50['generic']:.1f} | {p50['lean']:.1f} | {p50['floor']:.1f} | {p50['layered']:.1f} | "
              f"{p50['generic'] / p50['lean']:.2f}x | {p50['lean'] / p50['floor']:.2f}x | "
              f"{p50['lean'] / p50['layered']:.2f}x | {diff:.1e} |")  # fmt: skip
    if lean:
        print_goals(goals, f"goals ({model}, {GOAL_TOKENS} tokens; ratios of medians in this run)")
    print(
        "\n| start-up (session creation) | " + " | ".join(load_s) + " |\n" + "|---" * (len(load_s) + 1) + "|"
    )
    print("| seconds | " + " | ".join(f"{v:.2f}" for v in load_s.values()) + " |")
    for path in floors.values():
        path.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--generic-dir", default="build/generic-models")
    parser.add_argument("--models", default="smollm2-135m,minilm-l6", help="comma-separated model ids")
    parser.add_argument("--iters", type=int, default=30)
    parser.add_argument("--threads", type=int, default=default_threads())
    args = parser.parse_args()
    for model in args.models.split(","):
        bench_model(args, model)


if __name__ == "__main__":
    main()
