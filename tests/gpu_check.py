"""`make gpu-check`: the CUDA path against the CPU on this machine's GPU, one table.

- CUDA really used: `get_providers()[0]` of a session made by the service's own make_session;
- attentions, queries, keys and value norms on CUDA equal the CPU's within 1e-4 (TF32 off, as the
  service's provider options say) at 12 and 512 tokens and for a batch of 8 texts;
- the speed of both (median of a few runs);
- the real service started with --device cuda, answering /readyz and an attention request.
Without a GPU (no CUDAExecutionProvider in this onnxruntime, or no NVIDIA device) it says so and exits 0:
CI has none. docs/gpu.md says how to take this check to a GPU machine.

Usage: python -m tests.gpu_check [--models-dir models] [--model smollm2-135m] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from headgaze.service.runtime.batching import pad_batch
from headgaze.service.runtime.providers import CUDA, gpu_visible, make_session
from headgaze.service.runtime.tokens import load_tokenizer
from tests.support.prose import prose_of_tokens

SHORT = "The quick brown fox jumps over the lazy dog again."
KINDS = ("attentions", "queries", "keys", "value_norms")
ATOL = 1e-4


def no_gpu_reason() -> str | None:
    import onnxruntime as ort

    if CUDA not in ort.get_available_providers():
        return f"this onnxruntime ({ort.__version__}) has no {CUDA}: install requirements/gpu.txt"
    if not gpu_visible():
        return "no NVIDIA GPU is visible (no /dev/nvidia0, no nvidia-smi, or CUDA_VISIBLE_DEVICES hides it)"
    return None


def timed(run, runs: int) -> tuple[list, float]:
    out = run()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        run()
        times.append((time.perf_counter() - t) * 1000)
    return out, statistics.median(times)


def compare(folder: Path, runs: int) -> list[tuple[str, str, str, str, str]]:
    onnx = str(folder / "model.onnx")
    cpu, gpu = make_session(onnx, "cpu", 4), make_session(onnx, "cuda", 4)
    rows = [("provider", gpu.get_providers()[0], "", "", "ok" if gpu.get_providers()[0] == CUDA else "FAIL")]
    tok = load_tokenizer(folder / "tokenizer.json")
    names = [o.name for o in cpu.get_outputs() if o.name.split(".")[0] in KINDS]
    inputs = [i.name for i in cpu.get_inputs()]
    cases = {"12 tokens": [tok.encode(SHORT).ids], "512 tokens": [tok.encode(prose_of_tokens(tok, 512)).ids],
             "batch of 8": [tok.encode(f"{SHORT} ({i}) " * (1 + i)).ids for i in range(8)]}
    for case, ids in cases.items():
        feeds = pad_batch(ids, inputs)
        want, cpu_ms = timed(lambda f=feeds: cpu.run(names, f), runs)
        got, gpu_ms = timed(lambda f=feeds: gpu.run(names, f), runs)
        diff = max(float(np.abs(a - b).max()) for a, b in zip(want, got, strict=True))
        rows.append((case, f"max |cuda - cpu| {diff:.2e}", f"CPU {cpu_ms:.1f} ms", f"CUDA {gpu_ms:.1f} ms",
                     "ok" if diff <= ATOL else "FAIL"))
    return rows


def service_row(models_dir: Path) -> tuple[str, str, str, str, str]:
    from tests.support.service import ServiceProcess

    log = Path(tempfile.mkdtemp()) / "service.log"
    svc = ServiceProcess.for_models(models_dir, log, "--device", "cuda")
    try:
        svc.start()
        models = svc.get("/v1/models").json()["models"]
        body = svc.post({"text": SHORT, "detail": "grid"}).json()
        providers = sorted({m["provider"] for m in models})
        ok = providers == [CUDA] and "grid" in body
        return ("service --device cuda", f"providers {providers}", f"{len(body.get('tokens', []))} tokens", "",
                "ok" if ok else "FAIL")
    except Exception as exc:  # noqa: BLE001 - the table says what failed
        return ("service --device cuda", f"{type(exc).__name__}: {str(exc)[:80]}", f"log: {log}", "", "FAIL")
    finally:
        svc.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    reason = no_gpu_reason()
    if reason:
        print(f"gpu-check: no GPU here, nothing to check: {reason}")
        return 0
    rows = compare(args.models_dir / args.model, args.runs) + [service_row(args.models_dir)]
    print("| check | result | CPU | CUDA | ok |\n|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0 if all(r[-1] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
