"""The seven guards against a naive pipeline, each measured on the simulated world's gold by this run.

Each row module exposes `row(seed) -> GuardRow`: it builds both arms from the same world seed (same prompts, same
raters, same label budget), trains their reward models with the cheap probe `tether.reward.probe.NgramReward`
where a reward model is needed, and scores both on gold the arms never saw. `run_guards` times each row and
returns them in failure-mode order; `tether demo` writes them as the first table of its report and as `guards` in
demo.json.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tether.console import console
from tether.demo.guards.labels import row_position, row_raters
from tether.demo.guards.objectives import row_objectives
from tether.demo.guards.outcomes import row_outcomes
from tether.demo.guards.policy import row_overoptimisation
from tether.demo.guards.row import JSON_KEYS, GuardRow
from tether.demo.guards.shift import row_shift
from tether.demo.guards.stale import row_stale

# (failure mode, what the status line says while it runs, the row function)
ROWS: list[tuple[int, str, Callable[[int], GuardRow]]] = [
    (1, "qualified, reliability-weighted raters vs majority vote", row_raters),
    (2, "counterbalanced order and the position model vs one fixed order", row_position),
    (3, "best-of-n watched by the over-optimisation monitor vs best-of-64", row_overoptimisation),
    (4, "quality under a safety constraint vs one overall reward", row_objectives),
    (5, "production prompts sampled into annotation vs the annotation set alone", row_shift),
    (6, "outcome pairs vs rater labels alone", row_outcomes),
    (7, "six months of drifting preferences: the loop vs a reward model trained once", row_stale),
]


def run_guards(seed: int = 1) -> list[GuardRow]:
    """Every row, in failure-mode order, with the seconds each took."""
    rows = []
    for mode, what, fn in sorted(ROWS, key=lambda r: r[0]):
        with console.status(f"guard {mode}: {what}"):
            t0 = time.perf_counter()
            row = fn(seed)
            row.seconds = time.perf_counter() - t0
        rows.append(row)
    return rows


__all__ = ["JSON_KEYS", "ROWS", "GuardRow", "run_guards"]
