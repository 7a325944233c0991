"""`make bench`: long texts at the cost of queries and keys (SmolLM2, 512 and 2,048 tokens, and ~45 characters).

One service with `--max-tokens 2048` and no recent-results store (every grid request runs the model),
then one with the default store. Per length it prints the medians of:
- a `detail=grid` request over HTTP (model run), and of its `timing_ms`: inference (onnxruntime),
  summary (thumbnails and head-statistics rows from q/k, service/runtime/qk_views.py) and encode (the
  API's thumbnails, statistics and serialisation);
- one head from the store over HTTP, and the grid response's bytes;
- the first long text after start-up against a warm one (a fresh service each time);
- the service's peak RSS (VmHWM) after the 2,048-token runs (a fresh service that runs only those);
- at ~45 characters the HTTP p50 of `/v1/attention` against the served graph's own run in process
  (the same outputs fetched, the service's session options).
Then the goals of issue 20, each a ratio of two medians of this run (tests/bench/goals.py).

Usage: python -m tests.bench.long_bench [--models-dir models] [--iters 5] [--threads N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import requests

from headgaze.service.runtime.batching import pad_batch
from headgaze.service.runtime.providers import default_threads, make_session
from headgaze.service.runtime.tokens import load_tokenizer
from tests.bench.goals import Goal, print_goals
from tests.bench.memory_bench import MALLOC_ARENAS, memory_mb
from tests.support.env import REPO, clean_env
from tests.support.prose import prose_of_tokens
from tests.support.service import ServiceProcess

MODEL = "smollm2-135m"
LENGTHS = (512, 2048)
SHORT_TEXT = "The quick brown fox jumps over the lazy dog a"  # ~45 characters
SERVICE_FLAGS = ("--max-tokens", "2048", "--max-chars", "10000")


def service(models_dir: str, threads: int | None, *extra: str) -> ServiceProcess:
    args = ["--models-dir", models_dir, "--cache", "none", *SERVICE_FLAGS, *extra,
            *(["--threads", str(threads)] if threads else [])]
    srv = ServiceProcess(args, Path(tempfile.mkdtemp()) / "service.log", env=clean_env(MALLOC_ARENA_MAX=MALLOC_ARENAS))
    try:
        return srv.start()
    except RuntimeError as exc:
        raise SystemExit(f"service failed to start: {exc}") from None


def post(srv: ServiceProcess, path: str, body: dict) -> tuple[requests.Response, float]:
    t = time.perf_counter()
    resp = srv.request("POST", path, json=body, timeout=600)
    resp.raise_for_status()
    return resp, (time.perf_counter() - t) * 1000


def grid(srv: ServiceProcess, text: str) -> tuple[dict, float, int]:
    resp, ms = post(srv, "/v1/attention", {"text": text, "model": MODEL, "detail": "grid"})
    return resp.json()["timing_ms"], ms, len(resp.content)


def texts(models_dir: str) -> dict[int, list[str]]:
    tok = load_tokenizer(Path(models_dir) / MODEL / "tokenizer.json")
    return {n: [prose_of_tokens(tok, n, prefix=f"Part {i}.") for i in range(8)] for n in LENGTHS}


def fresh_grids(models_dir: str, threads: int | None, long: dict, iters: int) -> dict[int, dict]:
    """Per length: medians of grid HTTP, inference, summary and encode; the grid's bytes; head from store."""
    srv = service(models_dir, threads)
    rows = {}
    try:
        for n in LENGTHS:
            k = iters if n <= 512 else max(2, iters // 2)
            got = [grid(srv, long[n][i % len(long[n])]) for i in range(k + 1)][1:]  # the first: warm-up
            timing = {key: float(np.median([g[0].get(key, 0.0) for g in got])) for key in ("inference", "summary", "encode")}
            heads = [post(srv, "/v1/attention/head", {"text": long[n][k % len(long[n])], "model": MODEL,
                                                     "layer": i % 30, "head": i % 9})[1] for i in range(12)]
            rows[n] = {**timing, "http": float(np.median([g[1] for g in got])), "bytes": got[-1][2],
                       "head_http": float(np.median(heads[2:]))}
    finally:
        srv.stop()
    return rows


def first_vs_warm(models_dir: str, threads: int | None, long: dict, starts: int) -> tuple[float, float]:
    """(median inference of the first 512-token text after start-up, of a warm one), each service new."""
    first, warm = [], []
    for i in range(starts):
        srv = service(models_dir, threads)
        try:
            first.append(grid(srv, long[512][i])[0]["inference"])
            warm.append(float(np.median([grid(srv, long[512][i + j + 1])[0]["inference"] for j in range(3)])))
        finally:
            srv.stop()
    return float(np.median(first)), float(np.median(warm))


def peak_2048(models_dir: str, threads: int | None, long: dict) -> dict[str, float]:
    """VmHWM of a fresh service (default store) after two 2,048-token grid requests and a head."""
    srv = service(models_dir, threads)
    try:
        start = memory_mb(srv.pid)["VmRSS"]
        for text in long[2048][:2]:
            grid(srv, text)
            post(srv, "/v1/attention/head", {"text": text, "model": MODEL, "layer": 3, "head": 4})
        return {**memory_mb(srv.pid), "at_start": start}
    finally:
        srv.stop()


def short_rows(models_dir: str, threads: int | None, iters: int) -> tuple[float, float]:
    """(HTTP p50 of /v1/attention at ~45 characters, uncached; the served graph's own run p50), interleaved."""
    srv = service(models_dir, threads, "--store-mb", "0")
    folder = Path(models_dir) / MODEL
    session = make_session(str(folder / "model.onnx"), "cpu", threads or default_threads(), False)
    names = [o.name for o in session.get_outputs() if o.name.split(".")[0] in ("queries", "keys", "value_norms")]
    ids = load_tokenizer(folder / "tokenizer.json").encode(SHORT_TEXT).ids
    feeds = pad_batch([ids], [i.name for i in session.get_inputs()])
    http, graph = [], []
    try:
        for i in range(iters * 4 + 3):
            _, ms = post(srv, "/v1/attention", {"text": f"{SHORT_TEXT}{i}", "model": MODEL, "detail": "grid"})
            t = time.perf_counter()
            session.run(names, feeds)
            if i >= 3:
                http.append(ms), graph.append((time.perf_counter() - t) * 1000)
    finally:
        srv.stop()
    return float(np.median(http)), float(np.median(graph))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models-dir", default=str(REPO / "models"))
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    long = texts(args.models_dir)
    rows = fresh_grids(args.models_dir, args.threads, long, args.iters)
    first, warm = first_vs_warm(args.models_dir, args.threads, long, 3)
    mem = peak_2048(args.models_dir, args.threads, long)
    http45, graph45 = short_rows(args.models_dir, args.threads, args.iters)
    print(f"\nlong texts from queries and keys ({MODEL}, service {' '.join(SERVICE_FLAGS)}, medians; ms)\n")
    head = ("| tokens | grid HTTP (model run) | inference | summary (from q/k) | encode | grid bytes "
            "| head from store HTTP |")
    print(head + "\n" + "|---" * head.count(" |") + "|")
    for n, r in rows.items():
        print(f"| {n} | {r['http']:.0f} | {r['inference']:.0f} | {r['summary']:.0f} | {r['encode']:.0f} "
              f"| {r['bytes']:,} | {r['head_http']:.1f} |")
    print(f"\nfirst 512-token text after start-up: inference {first:.0f} ms; warm {warm:.0f} ms")
    print(f"2,048 tokens, fresh service with both models: RSS at start {mem['at_start']:.0f} MiB, "
          f"peak (VmHWM) {mem['VmHWM']:.0f} MiB")
    print(f"~45 characters: HTTP p50 {http45:.1f} ms, the served graph's own run {graph45:.1f} ms")
    r5, r2 = rows[512], rows[2048]
    print_goals([
        Goal("512 tokens: summary + encode / inference", r5["summary"] + r5["encode"], "inference", r5["inference"], 0.15),
        Goal("512 tokens: grid over HTTP / inference", r5["http"], "inference", r5["inference"], 1.2),
        Goal("512 tokens: first long text after start-up / warm", first, "warm", warm, 1.2),
        Goal("512 tokens: a head from the store, HTTP", r5["head_http"], "", None, 15),
        Goal("2,048 tokens: grid over HTTP / inference", r2["http"], "inference", r2["inference"], 1.2),
        Goal("2,048 tokens: VmHWM (both models loaded)", mem["VmHWM"], "", None, 1500, unit="MiB"),
        Goal("2,048 tokens: head from q/k, HTTP", r2["head_http"], "", None, 100),
        Goal("~45 characters: HTTP p50 / the graph's own run", http45, "graph run", graph45, 1.15),
    ], f"goals (issue 20; {MODEL}; ratios of medians in this run)")


if __name__ == "__main__":
    main()
