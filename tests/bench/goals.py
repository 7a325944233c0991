"""Speed goals as ratios to a quantity measured in the same run, with the absolute figures beside them.

Two boxes of one kind differ ~2.5x in speed (SmolLM2's weight-read floor at 12 tokens: 39.8 ms on
one, 14-15 ms on another), so a goal of "≤ 400 ms" meant something else on each. Every speed goal of
`make bench` is therefore `measured / reference ≤ bound` (or ≥), both timed in the same run:
- a time the user waits (a click, a cached repeat) against the weight-read floor's fastest run
  (tests/bench/floor.py), timed beside the steps it is compared with. Those goals were absolute
  times, met or missed on a box whose floor was FLOOR_WHEN_SET_MS; `floor_ratio` turns one into
  the same demand on any box;
- one way of doing a thing against another in the same run: the lean graph against the generic graph
  and the floor, the service against PyTorch eager, a switch on against off.
Sizes (bytes, memory) stay absolute: `reference=None`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# SmolLM2's floor at 12 tokens on the box where the absolute goals were measured (README,
# 2026-11-27: 14.2 and 15.2 ms); the upper end, so that no goal is looser there than it was
FLOOR_WHEN_SET_MS = 15.0


def floor_ratio(old_ms: float) -> float:
    """An absolute goal of `old_ms` as a ratio to the floor, rounded down to two significant digits."""
    ratio = old_ms / FLOOR_WHEN_SET_MS
    step = 10.0 ** (math.floor(math.log10(ratio)) - 1)
    return round(math.floor(ratio / step + 1e-9) * step, 10)


def fmt(x: float) -> str:
    """A measured figure: 2 decimals below 10, 1 below 1,000, none above (thousands separated)."""
    return f"{x:,.2f}" if abs(x) < 10 else f"{x:,.1f}" if abs(x) < 1000 else f"{x:,.0f}"


@dataclass(frozen=True)
class Goal:
    """`value` / `reference` must be ≤ `bound` (≥ where `at_least`); `ok` carries another condition
    (e.g. no server requests). Without a reference, `value` itself is held to `bound`."""

    name: str
    value: float
    reference_name: str
    reference: float | None
    bound: float
    unit: str = "ms"
    at_least: bool = False
    ok: bool = True

    @property
    def ratio(self) -> float | None:
        return None if self.reference is None else self.value / self.reference

    @property
    def met(self) -> bool:
        x = self.value if self.reference is None else self.ratio
        return self.ok and (x >= self.bound if self.at_least else x <= self.bound)

    def cells(self) -> tuple[str, str, str, str]:
        """(reference, ratio, goal, verdict): the goal with its absolute equivalent in this run."""
        sign = "≥" if self.at_least else "≤"
        verdict = "met" if self.met else "NOT met"
        if self.reference is None:
            return "", "", f"{sign} {fmt(self.bound)} {self.unit}", verdict
        return (
            f"{self.reference_name} {fmt(self.reference)} {self.unit}",
            f"{self.ratio:.3g}x",
            f"{sign} {self.bound:g}x ({fmt(self.bound * self.reference)} {self.unit})",
            verdict,
        )


HEAD = "| goal | measured | reference | ratio | goal ratio (absolute in this run) | met |"


def print_goals(goals: list[Goal], title: str = "goals") -> None:
    """The goals as one table: what was measured, against what, the ratio, the goal, met or not."""
    print(f"\n{title}\n\n{HEAD}\n" + "|---" * HEAD.count(" |") + "|")
    for g in goals:
        print(f"| {g.name} | {fmt(g.value)} {g.unit} | " + " | ".join(g.cells()) + " |")
