"""The benchmark scripts still run end to end (tiny settings) and print their tables.

Speed goals are not asserted here (they live in `make bench`); this only keeps the scripts from
rotting when the code they drive changes, and checks the numbers they report are sane and that every
goal is printed as a ratio to a reference of the same run, with the absolute figures beside it.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from headgaze.export.pipeline import export_model
from headgaze.export.sources import resolve
from tests.bench.goals import HEAD
from tests.conftest import REPO
from tests.export.tiny_models import save_model


def run(*args: str, timeout: int = 300) -> str:
    result = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return result.stdout


def table_rows(out: str, first_cell: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines()
            if line.lstrip("| ").startswith(first_cell)]


def goal_rows(out: str) -> list[list[str]]:
    """The rows of every goals table (tests/bench/goals.py): goal, measured, reference, ratio, goal, met."""
    rows, inside = [], False
    for line in out.splitlines():
        inside = line == HEAD or (inside and line.startswith("|"))
        if inside and line.startswith("| ") and line != HEAD:
            rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def assert_ratio_goals(rows: list[list[str]], reference: str) -> None:
    """Each goal: a measured figure, the reference by name with its own figure, the ratio, the goal ratio
    with its absolute equivalent, and a verdict."""
    assert rows
    for _, measured, ref, ratio, goal, met in rows:
        assert measured.split()[0][0].isdigit() and ref.startswith(f"{reference} ") and ratio.endswith("x")
        assert goal[:2] in ("≤ ", "≥ ") and "x (" in goal and met in ("met", "NOT met")


@pytest.mark.slow
def test_service_bench_prints_a_row_per_text_length(models_dir):
    out = run("-m", "tests.bench.service_bench", "--models", "minilm-l6", "--iters", "2", "--models-dir", str(models_dir))
    by_width: dict[int, list[list[str]]] = {}
    for r in table_rows(out, "minilm-l6"):  # the tables differ in their number of columns
        by_width.setdefault(len(r), []).append(r)
    rows = by_width[11]
    assert [r[1] for r in rows] == ["5", "20", "50"]
    assert all(float(x) > 0 for r in rows for x in r[6].split(" / "))  # the floor's p50 / best, beside the row's runs
    assert all(float(r[-1]) <= 1e-4 for r in rows)  # max abs diff vs torch eager
    (long,) = by_width[8]
    assert long[1] == "512" and int(long[-1].replace(",", "")) > 512 * 512 * 2 * 4 // 3  # base64 float16 [512, 512]
    assert "peak RSS (VmHWM)" in out
    (fetch,) = by_width[6]  # onnxruntime with and without the q/k/value-norm outputs
    assert fetch[1] == "13" and float(fetch[4]) > 0 and fetch[5] in ("met", "NOT met")
    assert [r[1] for r in by_width[5]] == ["13", "512"]  # grid with weighting off and on


@pytest.mark.slow
def test_memory_bench_prints_the_peak_and_the_rss(models_dir):
    out = run("-m", "tests.bench.memory_bench", "--models", "minilm-l6", "--models-dir", str(models_dir))
    peak, rss, store = (float(re.search(rf"{name} (\d+) MiB", out).group(1))
                        for name in (r"peak RSS \(VmHWM\)", "RSS", "the store"))
    assert 0 < store < rss <= peak


@pytest.mark.slow
def test_loadtest_runs_against_redis_with_no_errors(models_dir):
    out = run("-m", "tests.bench.loadtest", "--model", "minilm-l6", "--replicas", "1", "--clients", "2",
              "--seconds", "2", "--max-requests", "40", "--models-dir", str(models_dir))
    rows = table_rows(out, "1 |")
    assert [r[2] for r in rows] == ["miss (all new)", "mixed (pool 50)"]
    assert all(r[8] == "0" and int(r[3]) > 0 for r in rows)  # errors, requests
    (goal,) = goal_rows(out)  # misses against onnxruntime alone in the same run
    assert goal[0] == "misses, 1 replica(s), 2 clients" and goal[1].endswith(" req/s")
    assert_ratio_goals([goal], "onnxruntime alone")


@pytest.mark.slow
@pytest.mark.browser
def test_browser_bench_measures_hover_without_server_requests(models_dir):
    out = run("-m", "tests.bench.browser_bench", "--runs", "1", "--cases", "short-minilm",
              "--models-dir", str(models_dir))
    assert "Process → model view drawn" in out and "bytes sent for the model view" in out
    assert "hover token → hover view (0 server requests)" in out
    head = next(line for line in out.splitlines() if line.startswith("| measure"))
    assert [c.strip() for c in head.strip("|").split("|")][6:] == ["reference", "ratio",
                                                                   "goal ratio (absolute here)", "met"]
    (process,) = table_rows(out, "Process → model view drawn")
    assert process[6].startswith("floor ") and process[7].endswith("x") and "x (" in process[8]


@pytest.mark.slow
def test_graph_bench_prints_lean_generic_and_floor_per_length(tmp_path):
    source = save_model("llama", tmp_path / "src")  # max 256 positions: the 512-token row is left out
    export_model(resolve(str(source), "tiny"), tmp_path / "models")
    export_model(resolve(str(source), "tiny"), tmp_path / "generic", graph="generic")
    out = run("-m", "tests.bench.graph_bench", "--models", "tiny", "--iters", "2",
              "--models-dir", str(tmp_path / "models"), "--generic-dir", str(tmp_path / "generic"))
    rows = [r for r in (line.strip("|").split("|") for line in out.splitlines() if line.startswith("| "))
            if r[0].strip().isdigit()]
    assert [int(r[0]) for r in rows] == [5, 12, 50]
    assert all(float(r[-1]) <= 1e-4 for r in rows)  # max abs diff lean vs generic
    assert "start-up (session creation) | generic | lean | floor | layered" in out
    speedup, floor = goal_rows(out)  # at 12 tokens, against the generic graph and the floor of this run
    assert "speed-up ≥ 1.25x" in speedup[0] and speedup[4].startswith("≤ 0.8x") and floor[4].startswith("≤ 1.3x")
    assert_ratio_goals([speedup], "generic")
    assert_ratio_goals([floor], "floor")
    assert all(len(r) == 9 and r[7].strip().endswith("x") for r in rows)  # lean / layered floor


@pytest.mark.slow
def test_generation_bench_prints_its_goals_as_ratios(models_dir):
    out = run("-m", "tests.bench.generation_bench", "--iters", "1", "--new-tokens", "4", "--long-tokens", "40",
              "--models-dir", str(models_dir))
    rows = goal_rows(out)
    assert [r[0].split(",")[0] for r in rows] == ["Process 50 chars", "model.onnx with the feeds of predictions.onnx",
                                                 "per new token", "per new token", "first token"]
    assert_ratio_goals(rows[:1], "predictions off")
    assert_ratio_goals(rows[2:4], "floor")
    assert_ratio_goals(rows[4:], "12-token forward")


@pytest.mark.slow
def test_knockout_bench_prints_its_goals_as_ratios(models_dir):
    out = run("-m", "tests.bench.knockout_bench", "--iters", "1", "--no-browser", "--models-dir", str(models_dir))
    rows = goal_rows(out)
    assert [r[0].split(",")[0] for r in rows] == ["decoder.onnx with head_mask unfed", "ablation request"]
    assert_ratio_goals(rows[:1], "without the mask")
    assert_ratio_goals(rows[1:], "Process (service)")


@pytest.mark.slow
def test_long_bench_prints_rows_at_512_and_2048_and_its_goals(models_dir):
    out = run("-m", "tests.bench.long_bench", "--iters", "1", "--models-dir", str(models_dir), timeout=900)
    rows = {r[0]: r for r in table_rows(out, "512") + table_rows(out, "2048") if r[0] in ("512", "2048")}
    assert set(rows) == {"512", "2048"}
    for r in rows.values():  # grid HTTP ≥ inference + summary: the parts add up
        http, inference, summary = (float(c.replace(",", "")) for c in r[1:4])
        assert http >= inference + summary > 0
    goals = goal_rows(out)
    assert len(goals) == 8
    for g in goals:  # a ratio to a time of this run, or an absolute bound (bytes, a head's ms)
        if g[3]:
            assert_ratio_goals([g], next(r for r in ("inference", "warm", "graph run") if g[2].startswith(f"{r} ")))
        else:
            assert g[4].startswith("≤ ") and g[5] in ("met", "NOT met")
