"""Which objective a held-out regression comes from: the monitor's answer to "quality or safety?".

At every check the held-out evaluator's per-objective scores are compared with the first check's (the reference
policy: a safety drop hidden in the weighted score by a quality gain still shows) and, when the check is below the
best one, with the best check's (what the alarm and the rollback are about), prompt by prompt. The monitor samples
the same held-out prompts with the same seed at every check (common random numbers), so the paired difference is
the policy's change, and its standard error is the paired one. Each objective's change, its z, and its weighted
share of the change in the held-out score are reported; an objective is blamed when its drop is significant
(z <= -`z`), the largest weighted drop first. With slice labels (one per held-out prompt, e.g. task type), the same
per slice of at least 2 prompts shows where the drop is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def _paired(before: np.ndarray, after: np.ndarray) -> tuple[float, float]:
    diff = np.asarray(after, dtype=np.float64) - np.asarray(before, dtype=np.float64)
    se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
    return float(diff.mean()), se


def _z(change: float, se: float) -> float:
    if se > 0:
        return change / se
    return 0.0 if change == 0 else float(np.copysign(np.inf, change))


def attribute_regression(best: Mapping[str, np.ndarray], now: Mapping[str, np.ndarray], weights: Mapping[str, float],
                         *, slices: Sequence[str] | None = None, z: float = 2.0) -> dict[str, Any]:
    """Per-objective (and per-slice) paired changes from the best check to this one; `blamed`: the objectives whose
    drop is significant, largest weighted drop first. Objectives the evaluator scores but the weights leave out are
    reported with weight 0 (a safety score shown, not trained on, can still be where the harm is)."""
    objectives = [o for o in now if o in best]
    n = len(next(iter(now.values()))) if now else 0
    if slices is not None and len(slices) != n:
        raise ValueError(f"{len(slices)} slice labels for {n} held-out responses")
    rows = []
    for o in objectives:
        change, se = _paired(best[o], now[o])
        w = float(weights.get(o, 0.0))
        rows.append({"objective": o, "weight": w, "best": float(np.mean(best[o])), "now": float(np.mean(now[o])),
                     "change": change, "se": se, "z": _z(change, se), "contribution": w * change})
    blamed = sorted((r for r in rows if r["z"] <= -z), key=lambda r: (r["contribution"] if r["weight"] else 0.0,
                                                                     r["change"]))
    by_slice = []
    if slices is not None:
        labels = np.asarray(slices, dtype=object)
        for s in sorted(set(slices)):
            idx = labels == s
            if idx.sum() < 2:  # no standard error for a slice of one prompt
                continue
            for o in objectives:
                change, se = _paired(np.asarray(best[o])[idx], np.asarray(now[o])[idx])
                by_slice.append({"slice": s, "objective": o, "n": int(idx.sum()), "change": change, "se": se,
                                 "z": _z(change, se)})
        by_slice.sort(key=lambda r: r["z"])
    return {"objectives": rows, "slices": by_slice, "blamed": [r["objective"] for r in blamed], "z": z}


def describe(attribution: Mapping[str, Any]) -> str:
    """One line for the alarm's `why`: which objectives degraded, or that none did significantly."""
    rows = {r["objective"]: r for r in attribution["objectives"]}
    if not attribution["blamed"]:
        return "no objective dropped significantly from the best check"
    parts = [f"{o} {rows[o]['change']:+.4f} (z {rows[o]['z']:.1f})" for o in attribution["blamed"]]
    first, cut = attribution["blamed"][0], -attribution["z"]
    worst = [r for r in attribution["slices"] if r["objective"] == first and r["z"] <= cut]
    where = f", most in slice {worst[0]['slice']!r} ({worst[0]['change']:+.4f})" if worst else ""
    return "degraded: " + ", ".join(parts) + where


def check_attribution(first: Mapping[str, np.ndarray], best: Mapping[str, np.ndarray] | None,
                      now: Mapping[str, np.ndarray], weights: Mapping[str, float], *, below_best: bool,
                      slices: Sequence[str] | None = None) -> dict[str, Any]:
    """A check's attribution: `since_start` (against the first check) and `since_best` (against the best check,
    when this one is below it; else None)."""
    return {"since_start": attribute_regression(first, now, weights, slices=slices),
            "since_best": attribute_regression(best, now, weights, slices=slices)
            if below_best and best is not None and best is not first else None}


def blame(attribution: Mapping[str, Any]) -> str:
    """The alarm's line: the drop from the best check if it names an objective, else the drop since the start."""
    best, start = attribution.get("since_best"), attribution["since_start"]
    if best is not None and best["blamed"]:
        return describe(best) + " since the best check"
    return describe(start) + " since the start"
