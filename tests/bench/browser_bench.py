"""Browser benchmark of the dashboard (Debian Chromium via Playwright): prints a table per case.

    python -m tests.bench.browser_bench [--cases short-smollm2,short-minilm,long-smollm2] [--runs 5]
                                        [--dashboard-url URL]

Without --dashboard-url it starts the real service (subprocess, warm) and the dashboard (waitress,
in a thread, --max-chars 4000) itself; a given dashboard must accept 4000 characters for the long
case. Cases: a 50-character text on SmolLM2 and on MiniLM, and a 512-token SmolLM2 prose text
(tests/support/prose.py). Rows, each the median of --runs runs (times measured inside the page
with performance.now()), with the issue's goals and whether the median meets them:
  - Process click → model view drawn, a new text each run (the service runs the model);
  - bytes of the Process callback's response (the model view and what comes with it);
  - tile click → head view and heatmap show the new head (its matrix fetched from the service);
  - hover a token → hover view updated, and how many server requests the hovers sent (goal 0);
  - hover a token in the head view → head view redrawn (no goal);
  - hover a query token in the head view → q·k view redrawn for it (0 server requests);
  - Process with the weighting switch on "weight × value norm" (goal: median ≤ 1.10x the switch off,
    measured in the same run).
The time goals are ratios to the box's weight-read floor (tests/bench/floor.py: its fastest run, timed
in this process before and after each case): the issue's absolute goals over the floor of the box they
were set for (tests/bench/goals.py: 400 ms → 26x, 150 → 10x, 50 → 3.3x, 3 s → 200x, 300 ms → 20x),
so that they ask the same of a slower or faster box; the rows give both the milliseconds and the
ratio. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.bench.floor import Floor
from tests.bench.goals import Goal, floor_ratio
from tests.dashboard.browser import (
    ARTIFACTS,
    ServerThread,
    focus_on,
    head_view_point,
    head_view_row,
    is_process_response,
    launch_chromium,
    new_page,
    open_page,
    select_model,
    tile_point,
    wait_drawn,
)

GRID = "document.querySelector('#model-view .js-plotly-plot')"
SHORT = "the fluffy blue monster ate the cookie on the mat and it was good"

PROCESS_JS = f"""() => {{ window.__hgBench = new Promise((resolve) => {{
    const gd = {GRID};
    const t0 = performance.now();
    gd.once('plotly_afterplot', () => requestAnimationFrame(() => resolve(performance.now() - t0)));
    document.querySelector('#process-button').click();
}}); }}"""

TILE_ARM_JS = """([layer, head]) => { window.__hgBench = new Promise((resolve) => {
    let t0 = null;
    window.addEventListener('mousedown', (ev) => { t0 = ev.timeStamp; }, {capture: true, once: true});
    const shows = (id) => { const gd = document.querySelector(id + ' .js-plotly-plot');
        return gd && gd._fullLayout && gd._fullLayout.meta.layer === layer && gd._fullLayout.meta.head === head; };
    const tick = () => {
        const h = window.headgaze.head;
        if (t0 !== null && h && h.layer === layer && h.head === head && shows('#head-view') && shows('#head-heatmap')) {
            requestAnimationFrame(() => resolve(performance.now() - t0));
        } else { requestAnimationFrame(tick); }
    };
    requestAnimationFrame(tick);
}); }"""

HOVER_ARM_JS = """() => { window.__hgBench = new Promise((resolve) => {
    window.addEventListener('mouseover', (ev) => {
        const t0 = ev.timeStamp;
        requestAnimationFrame(() => {
            document.querySelector('#hover-view').offsetHeight;  // force style + layout
            resolve(performance.now() - t0);
        });
    }, {capture: true, once: true});
}); }"""

HEAD_HOVER_ARM_JS = """(i) => { window.__hgBench = new Promise((resolve) => {
    const gd = document.querySelector('#head-view .js-plotly-plot');
    let t0 = null;
    gd.addEventListener('mousemove', (ev) => { if (t0 === null) { t0 = ev.timeStamp; } });
    const tick = () => {
        if (t0 !== null && gd._fullLayout.meta.hovered === i) { resolve(performance.now() - t0); }
        else { requestAnimationFrame(tick); }
    };
    requestAnimationFrame(tick);
}); }"""

QK_HOVER_ARM_JS = """(i) => { window.__hgBench = new Promise((resolve) => {
    const hv = document.querySelector('#head-view .js-plotly-plot');
    const gd = document.querySelector('#qk-view .js-plotly-plot');
    let t0 = null;
    hv.addEventListener('mousemove', (ev) => { if (t0 === null) { t0 = ev.timeStamp; } });
    const tick = () => {
        if (t0 !== null && gd._fullLayout.meta.query === i) {
            requestAnimationFrame(() => resolve(performance.now() - t0));
        } else { requestAnimationFrame(tick); }
    };
    requestAnimationFrame(tick);
}); }"""

SERVER_CALLS_JS = ("(n) => performance.getEntriesByType('resource').slice(n)"
                   ".filter(e => e.name.includes('_dash-update-component')).length")


@dataclass(frozen=True)
class Case:
    name: str
    label: str  # the model as shown in the dropdown
    model: str
    tokens: int | None  # None: a 50-character text
    goals: dict  # row key → goal: a ratio to the floor (times) or bytes

    def goal(self, name: str, key: str | None, xs: list[float], floor: Floor, ok: bool = True) -> Goal | None:
        """Row `key`'s goal for its samples `xs` (the median is held to it): times against the floor."""
        if key is None:
            return None
        if key == "bytes":
            return Goal(name, statistics.median(xs), "", None, self.goals[key], unit="bytes")
        return Goal(name, statistics.median(xs), floor.label(), floor.best_ms(), self.goals[key], ok=ok)

    def text(self, i: int, models_dir: Path) -> str:
        """A new text for run i (so the service computes it): 50 characters, or exactly `tokens` tokens."""
        if self.tokens is None:
            return f"Run {i}: {SHORT}"[:50]
        from headgaze.service.runtime.tokens import load_tokenizer
        from tests.support.prose import prose_of_tokens

        return prose_of_tokens(load_tokenizer(models_dir / self.model / "tokenizer.json"), self.tokens,
                               prefix=f"Run {i}.")


# the goals in ms, as ratios to the floor (tests/bench/goals.py); bytes stay bytes
SHORT_GOALS = {"process": floor_ratio(400), "tile": floor_ratio(150), "hover": floor_ratio(50), "bytes": 1_500_000}
LONG_GOALS = {"process": floor_ratio(3000), "tile": floor_ratio(300), "hover": floor_ratio(50), "bytes": 1_500_000}
WEIGHTING_GOAL = 1.10  # Process with weight × value norm on: ≤ 1.10x the switch off
PROCESS_PER_MODEL = 1.3  # issue 20: at 512 tokens, Process → drawn ≤ 1.3x the model's own time (onnxruntime)
LONG_GOAL_TOKENS = 500  # the cases that goal applies to
FLOOR_SAMPLES = 10  # floor runs before and after each case
CASES = {
    "short-smollm2": Case("50 characters", "SmolLM2-135M-Instruct", "smollm2-135m", None, SHORT_GOALS),
    "short-minilm": Case("50 characters", "all-MiniLM-L6-v2", "minilm-l6", None, SHORT_GOALS),
    "long-smollm2": Case("512 tokens", "SmolLM2-135M-Instruct", "smollm2-135m", 512, LONG_GOALS),
}


def wait_bench(page) -> float:
    """Await the promise armed in the page (fails after 20 s instead of hanging)."""
    return page.evaluate("""() => Promise.race([window.__hgBench, new Promise((_, reject) =>
        setTimeout(() => reject(new Error('benchmark step timed out')), 20000))])""")


def stats(xs: list[float]) -> dict:
    xs = sorted(xs)
    return {"n": len(xs), "median": statistics.median(xs), "mean": statistics.fmean(xs),
            "p90": xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))], "min": xs[0], "max": xs[-1]}


def process(page) -> tuple[float, int]:
    """Click Process (text already typed): ms until the model view is drawn, bytes of the response."""
    with page.expect_response(is_process_response) as info:
        page.evaluate(PROCESS_JS)
        ms = wait_bench(page)
    size = len(info.value.body())
    wait_drawn(page, info.value.json()["response"])  # the head views follow before the next step
    return ms, size


def run(url: str, case: Case, runs: int, models_dir: Path, floor: Floor) -> list[tuple[str, dict, Goal | None]]:
    """Rows (measure, stats, goal) of one case. The floor is sampled before the browser starts and after
    it has closed: in the same run, and never beside the page's own work (a view still drawing)."""
    floor.clear()
    floor.sample(FLOOR_SAMPLES)
    pw, br = launch_chromium()
    ctx, page, problems = new_page(br)
    measured = []  # (name, samples, goal key, other condition)
    try:
        open_page(page, url)
        select_model(page, case.label)
        page.fill("#text-input", case.text(-1, models_dir))
        process(page)  # warm: bundles loaded, plotly initialised, this size of figure drawn once

        times, sizes, model_ms = [], [], []
        for i in range(runs):
            page.fill("#text-input", case.text(i, models_dir))
            ms, size = process(page)
            times.append(ms)
            sizes.append(size)
            model_ms.append(status_model_ms(page))
        n_tok = page.evaluate(f"{GRID}._fullLayout.meta.tokens")
        measured.append((f"Process → model view drawn ({n_tok} tokens)", times, "process", True))
        measured.append(("bytes sent for the model view", sizes, "bytes", True))

        meta = page.evaluate(f"{GRID}._fullLayout.meta")
        tiles = []
        for i in range(runs):
            layer, head = (i * 7 + 3) % meta["layers"], (i * 5 + 1) % meta["heads"]
            x, y = tile_point(page, layer, head)
            page.mouse.move(x, y)  # a user's pointer arrives before it clicks: the tile's tooltip shows
            page.wait_for_function("([l, h]) => { const t = document.getElementById('grid-tooltip');"
                                   " return t && t.style.display === 'block'"
                                   " && t.textContent.startsWith('layer ' + l + ' · head ' + h); }", arg=[layer, head])
            page.evaluate(TILE_ARM_JS, [layer, head])
            page.mouse.click(x, y)
            tiles.append(wait_bench(page))
            page.wait_for_function("([l]) => { const gd = document.querySelector('#layer-view .js-plotly-plot');"
                                   " return gd && gd._fullLayout.meta.layer === l; }", arg=[layer])
        measured.append(("tile click → head view + heatmap updated", tiles, "tile", True))

        hovers = []
        n_before = page.evaluate("performance.getEntriesByType('resource').length")
        for i in range(runs * 3):
            page.mouse.move(5, 5)
            idx = 1 + (i * 37) % max(1, n_tok - 1)
            tok = page.locator(f"#hover-view .hg-token[data-index='{idx}']")
            tok.scroll_into_view_if_needed()
            box = tok.bounding_box()
            page.evaluate(HOVER_ARM_JS)
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            hovers.append(wait_bench(page))
        calls = page.evaluate(SERVER_CALLS_JS, n_before)
        measured.append((f"hover token → hover view ({calls} server requests)", hovers, "hover", calls == 0))

        head_hovers = []
        for i in range(runs):
            head_hovers.append(hover_head_query(page, 1 + (i * 37) % max(1, n_tok - 1), HEAD_HOVER_ARM_JS))
        measured.append(("hover token → head view redrawn", head_hovers, None, True))
        measured.append(qk_measure(page, runs, n_tok))
        weighted = weighting_times(page, case, runs, models_dir)
    finally:
        ctx.close()
        br.close()
        pw.stop()
    floor.sample(FLOOR_SAMPLES)
    if problems:
        print("browser problems:", problems, file=sys.stderr)
    rows = [row(name, xs, case.goal(name, key, xs, floor, ok)) for name, xs, key, ok in measured]
    name = "Process, weight × value norm on"
    rows.append(row(name, weighted, Goal(name, statistics.median(weighted), "off", statistics.median(times),
                                         WEIGHTING_GOAL)))
    name = "the model's own time (status line); Process → drawn / it"  # issue 20: ≤ 1.3x at 512 tokens
    long = (case.tokens or 0) >= LONG_GOAL_TOKENS
    return rows + [row(name, model_ms, Goal(name, statistics.median(times), "model (onnxruntime)",
                                            statistics.median(model_ms), PROCESS_PER_MODEL) if long else None)]


def status_model_ms(page) -> float:
    """The model's own time for the text just drawn, as the status line says it ("model 965 ms")."""
    text = page.inner_text("#status")
    found = re.search(r"model ([\d,]+) ms", text)
    if found is None:
        raise RuntimeError(f"the status line names no model time: {text!r}")
    return float(found.group(1).replace(",", ""))


def hover_head_query(page, idx: int, arm_js: str) -> float:
    """Move the pointer off, scroll the head view to query token ``idx``, arm ``arm_js`` (what to wait
    for) and hover that token's marker; the ms until the armed change is drawn."""
    focus_on(page, idx)  # a long text's focus window: hover that heatmap row first (not measured)
    page.mouse.move(5, 5)
    page.evaluate("(r) => { const box = document.querySelector('#head-view').closest('.hg-scroll-box');"
                  " box.scrollTop = Math.max(0, r * 22 - 100); }", head_view_row(page, idx))
    page.locator("#head-view").scroll_into_view_if_needed()
    x, y = head_view_point(page, "query", idx)
    page.evaluate(arm_js, idx)
    page.mouse.move(x, y)
    return wait_bench(page)


def qk_measure(page, runs: int, n_tok: int) -> tuple[str, list[float], str, bool]:
    """Hover a query token in the head view → the q·k view shows that query (computed in the page);
    held to the hover goal, with no server requests."""
    page.wait_for_function("() => { const gd = document.querySelector('#qk-view .js-plotly-plot');"
                           " return gd && gd._fullLayout.meta && gd._fullLayout.meta.view === 'qk'"
                           " && gd._fullLayout.meta.layer === window.headgaze.head.layer"
                           " && gd._fullLayout.meta.head === window.headgaze.head.head; }")
    shown = page.evaluate("() => document.querySelector('#qk-view .js-plotly-plot')._fullLayout.meta.query")
    qk_hovers = []
    n_before = page.evaluate("performance.getEntriesByType('resource').length")
    for i in range(runs * 2):
        idx = 1 + (i * 37) % max(1, n_tok - 1)
        idx = idx if idx != shown else (idx % (n_tok - 1)) + 1
        qk_hovers.append(hover_head_query(page, idx, QK_HOVER_ARM_JS))
        shown = idx
    calls = page.evaluate(SERVER_CALLS_JS, n_before)
    return f"hover query → q·k view ({calls} server requests)", qk_hovers, "hover", calls == 0


def weighting_times(page, case: Case, runs: int, models_dir: Path) -> list[float]:
    """Process with "weight × value norm" on, new texts: ms of each run (the switch is set back after)."""
    page.locator("#weighting label", has_text="weight × value norm").locator("input").check()
    page.wait_for_function("() => window.headgaze.head && window.headgaze.head.weighting === 'value_norm'")
    times = []
    for i in range(runs):
        page.fill("#text-input", case.text(100 + i, models_dir))
        times.append(process(page)[0])
    page.locator("#weighting label", has_text="attention weights").locator("input").check()
    page.wait_for_function("() => window.headgaze.head && window.headgaze.head.weighting === 'attention'")
    return times


def row(name: str, xs: list[float], goal: Goal | None) -> tuple[str, dict, Goal | None]:
    return name, stats(xs), goal


COLUMNS = (("measure", 48), ("n", 3), ("median", 10), ("p90", 10), ("min", 10), ("max", 10), ("reference", 26),
           ("ratio", 7), ("goal ratio (absolute here)", 26), ("met", 7))


def print_table(rows, title: str) -> None:
    print(f"\n{title}")
    print("| " + " | ".join(f"{c:{'' if i == 0 else '>'}{w}s}" for i, (c, w) in enumerate(COLUMNS)) + " |")
    print("|" + "|".join("-" * (w + 2) for _, w in COLUMNS) + "|")
    for name, s, goal in rows:
        nums = " | ".join(f"{s[k]:10,.1f}" if s[k] < 10_000 else f"{s[k]:10,.0f}" for k in ("median", "p90", "min", "max"))
        cells = goal.cells() if goal else ("", "", "", "")
        print(f"| {name:48s} | {s['n']:3d} | {nums} | " + " | ".join(
            f"{c:>{w}s}" for c, (_, w) in zip(cells, COLUMNS[6:], strict=True)) + " |")
    print("(milliseconds measured in Chromium with performance.now(); bytes of the Process response body; the "
          "floor: SmolLM2's weights read once at 12 tokens, its fastest run before and after the case)")


def as_json(rows) -> dict:
    """The rows by name: stats, and the goal's reference, ratio, bound and verdict."""
    out = {}
    for name, s, goal in rows:
        out[name] = dict(s)
        if goal:
            out[name].update(reference=goal.reference, reference_name=goal.reference_name, ratio=goal.ratio,
                             goal=goal.bound, goal_text=goal.cells()[2], met=goal.met)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.browser_bench")
    p.add_argument("--dashboard-url", help="measure a running dashboard (started with --max-chars 4000)")
    p.add_argument("--models-dir", default="models")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of: {', '.join(CASES)}")
    args = p.parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        p.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")

    svc = srv = None
    url = args.dashboard_url
    models_dir = Path(args.models_dir)
    if not url:
        from headgaze.dashboard.app import create_app
        from tests.support.service import ServiceProcess

        svc = ServiceProcess.for_models(models_dir, Path(tempfile.mkdtemp()) / "service.log", "--threads", "2")
        svc.start()
        srv = ServerThread(create_app(service_url=svc.url, max_chars=4000).server)
        url = srv.url
    out = {}
    floor = Floor(models_dir, 2)  # the service's threads
    try:
        for key in cases:
            case = CASES[key]
            rows = run(url, case, args.runs, models_dir, floor)
            print_table(rows, f"browser bench — {case.name}, {case.label} — {url}")
            out[key] = as_json(rows)
    finally:
        floor.close()
        if srv:
            srv.close()
        if svc:
            svc.stop()
    dest = ARTIFACTS.parent / "bench" / "browser_bench.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=1))
    print(f"\nwritten {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
