"""`make test-stability` (python -m tests.stability): run a test selection N times in a row and count.

A test that fails now and then is a bug in the product or in the test; this is how we show that the
browser suite does not flake on a 2-core machine. Each run is a fresh `pytest` process (new service,
new dashboard, new Chromium); the table lists every run, and the exit code is 1 if any run failed.

    python -m tests.stability --runs 10 -- -m browser
    python -m tests.stability --runs 5 --load 2 -- -m browser     # two CPU-bound processes beside
    HEADGAZE_BROWSER_CPU_THROTTLE=4 python -m tests.stability --runs 3 -- tests/dashboard
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.support.cpu_load import cpu_load

REPO = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"^=*\s*(\d+ (?:passed|failed|errors?|skipped|deselected).*) in [\d.]+s", re.M)


def counts(summary: str) -> dict[str, int]:
    """{"passed": 31, "failed": 1, ...} from pytest's closing line."""
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|errors?|skipped)", summary)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.stability", description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=10, help="how many times in a row (default 10)")
    p.add_argument("--load", type=int, default=0, help="CPU-bound processes to run beside the tests (default 0)")
    p.add_argument("pytest_args", nargs="*", help="arguments for pytest after --, default: -m browser")
    args = p.parse_args(argv)
    pytest_args = args.pytest_args or ["-m", "browser"]
    print(f"{args.runs} runs of pytest {' '.join(pytest_args)}, {args.load} CPU-bound processes beside", flush=True)
    with cpu_load(args.load):
        rows = [one_run(run, args.runs, pytest_args) for run in range(1, args.runs + 1)]
    bad = sum(1 for row in rows if row[-1] != "ok")
    print(f"\n| run | passed | failed | seconds | result |   (load: {args.load} CPU-bound processes)\n|---|---|---|---|---|")
    for run, passed, failed, took, what in rows:
        print(f"| {run} | {passed} | {failed} | {took:.0f} | {what} |")
    print(f"\n{args.runs - bad} of {args.runs} runs green")
    return 1 if bad else 0


def one_run(run: int, runs: int, pytest_args: list[str]) -> tuple[int, int, int, float, str]:
    """One fresh pytest process: (run, passed, failed, seconds, "ok" or what failed)."""
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args],
                          cwd=REPO, capture_output=True, text=True)
    took = time.monotonic() - t0
    found = SUMMARY.findall(proc.stdout)
    c = counts(found[-1] if found else "")
    failed = proc.returncode != 0
    failures = [line.split(" - ")[0] for line in proc.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    row = (run, c.get("passed", 0), c.get("failed", 0) + c.get("error", 0) + c.get("errors", 0), took,
           ("; ".join(failures) or f"exit {proc.returncode}") if failed else "ok")
    print(f"run {run}/{runs}: {row[1]} passed, {row[2]} failed in {took:.0f}s", flush=True)
    if failed:
        log = REPO / "test-artifacts" / f"stability-run-{run}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(proc.stdout + proc.stderr)
    return row


if __name__ == "__main__":
    sys.exit(main())
