"""The service's memory with both models loaded and the recent-results store filled with 512-token texts.

Starts `headgaze service` (MALLOC_ARENA_MAX=2, as README recommends for long texts; default
`--store-mb`), sends each model a `detail=grid` and a head request for four 512-token texts of prose
(the store stays full) and prints the process's peak RSS (VmHWM) and RSS from /proc, in MiB, against
the 1.5 GB goal. `make bench` takes the same numbers in its long-text table (service_bench.py).

Usage: python -m tests.bench.memory_bench [--models-dir models] [--models smollm2-135m,minilm-l6] [--runs 1]
                                          [--threads N] [service flags after --, e.g. -- --store-mb 128]
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

import requests

from headgaze.service.runtime.tokens import load_tokenizer
from tests.support.env import REPO, clean_env
from tests.support.prose import prose_of_tokens
from tests.support.service import ServiceProcess

LONG_TOKENS = 512
TEXTS_PER_MODEL = 4
MALLOC_ARENAS = "2"  # as README recommends for long texts: glibc keeps fewer per-thread arenas of freed blocks
GOAL_MIB = 1430  # 1.5 GB (10^9 bytes) with a margin


def long_texts(models_dir: str, model_ids: list[str]) -> dict[str, list[str]]:
    """TEXTS_PER_MODEL texts of LONG_TOKENS tokens of prose per model."""
    return {m: [prose_of_tokens(load_tokenizer(Path(models_dir) / m / "tokenizer.json"), LONG_TOKENS,
                                prefix=f"Part {i}.") for i in range(TEXTS_PER_MODEL)] for m in model_ids}


def memory_mb(pid: int) -> dict[str, float]:
    """VmHWM (peak) and VmRSS of process `pid`, MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return {k: int(re.search(rf"^{k}:\s+(\d+) kB", status, re.M).group(1)) / 1024 for k in ("VmHWM", "VmRSS")}


def store_mb(srv: ServiceProcess) -> float:
    """The recent-results store's bytes (GET /metrics), MiB."""
    text = srv.get("/metrics").text
    return float(re.search(r"^headgaze_store_bytes (\S+)$", text, re.M).group(1)) / (1 << 20)


def fill(srv: ServiceProcess, texts: dict[str, list[str]]) -> None:
    """A grid and a head request for every text, model after model, so the store ends full."""
    for i in range(TEXTS_PER_MODEL):
        for m, ts in texts.items():
            for path, body in (("/v1/attention", {"detail": "grid"}), ("/v1/attention/head", {"layer": 1, "head": 1})):
                srv.request("POST", path, json={"text": ts[i], "model": m, **body}, timeout=300).raise_for_status()


def measure(models_dir: str, model_ids: list[str], threads: int | None, extra: list[str]) -> dict[str, float]:
    """Start a service, fill its store, return its memory (MiB): at start, VmHWM, VmRSS, store."""
    args = ["--models-dir", models_dir, "--cache", "simple", *(["--threads", str(threads)] if threads else []), *extra]
    srv = ServiceProcess(args, Path(tempfile.mkdtemp()) / "service.log", env=clean_env(MALLOC_ARENA_MAX=MALLOC_ARENAS))
    srv.start()
    try:
        at_start = memory_mb(srv.pid)["VmRSS"]
        fill(srv, long_texts(models_dir, model_ids))
        return {**memory_mb(srv.pid), "at_start": at_start, "store": store_mb(srv)}
    finally:
        srv.stop()


def line(mem: dict[str, float]) -> str:
    verdict = "met" if mem["VmHWM"] <= GOAL_MIB else "NOT met"
    return (f"RSS at start {mem['at_start']:.0f} MiB; after: peak RSS (VmHWM) {mem['VmHWM']:.0f} MiB, "
            f"RSS {mem['VmRSS']:.0f} MiB, of which the store {mem['store']:.0f} MiB; "
            f"goal <= 1.5 GB ({GOAL_MIB} MiB): {verdict}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models-dir", default=str(REPO / "models"))
    ap.add_argument("--models", default="smollm2-135m,minilm-l6")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("service_args", nargs="*", help="extra `headgaze service` flags (after --)")
    args = ap.parse_args()
    print(f"service memory (MALLOC_ARENA_MAX={MALLOC_ARENAS}), models {args.models}, store filled with "
          f"{LONG_TOKENS}-token texts, flags {args.service_args or 'default'}:")
    for _ in range(args.runs):
        try:
            print(line(measure(args.models_dir, args.models.split(","), args.threads, args.service_args)), flush=True)
        except (RuntimeError, requests.RequestException) as exc:
            raise SystemExit(f"memory bench failed: {exc}") from None


if __name__ == "__main__":
    main()
