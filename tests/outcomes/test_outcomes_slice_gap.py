"""The outcome audit's slice-against-rest rule: AUC on a slice minus AUC on every other response."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tether.outcomes.audit import AuditConfig, audit_outcomes
from tether.outcomes.metrics import auc
from tether.outcomes.report import write_report
from tether.outcomes.scored import ScoredResponse


def rows_with(slope: dict[str, float], seed: int = 0, n_prompts: int = 120, k: int = 4) -> list[ScoredResponse]:
    """Responses on task types `slope`'s keys (prompts taking turns); score = slope * passed + noise, so a
    negative slope makes a task type where failing responses outscore passing ones."""
    rng = np.random.default_rng(seed)
    types = sorted(slope)
    rows = []
    for p in range(n_prompts):
        tt = types[p % len(types)]
        for j in range(k):
            passed = bool(rng.random() < 0.5)
            words = "word " * int(rng.integers(1, 30))
            rows.append(ScoredResponse(line=len(rows) + 1, prompt=f"prompt {p}", response=words,
                                       score=float(slope[tt] * passed + rng.normal()), value=float(passed),
                                       group=f"prompt:{p}", keys=(f"k{p}-{j}",), slices={"task_type": tt}))
    return rows


def test_a_reversed_slice_is_worse_than_the_rest() -> None:
    rows = rows_with({"a": 0.5, "b": 0.5, "c": 0.5, "rev": -0.5})
    res = audit_outcomes(rows, AuditConfig(n_boot=200, seed=0))
    assert [(g.key, g.value) for g in res.worse_slices] == [("task_type", "rev")]
    gap = next(g for g in res.slice_gaps if g.value == "rev")
    scores, passed = np.array([r.score for r in rows]), np.array([r.value for r in rows]) >= 0.5
    inside = np.array([r.slices["task_type"] == "rev" for r in rows])
    assert gap.auc == pytest.approx(auc(scores[inside], passed[inside]))
    assert gap.auc_rest == pytest.approx(auc(scores[~inside], passed[~inside]))
    assert gap.gap.value == pytest.approx(gap.auc - gap.auc_rest)
    assert gap.gap.lo <= gap.gap.value <= gap.gap.hi < 0
    assert (gap.n, gap.n_rest) == (int(inside.sum()), int((~inside).sum()))
    assert any("task_type 'rev'" in v and "worse than on the rest" in v for v in res.verdict)
    # its disagreements are listed first, marked; the others follow by margin
    marked = [bool(d.worse_slices) for d in res.disagreements]
    assert marked[0] and marked == sorted(marked, reverse=True)
    assert all(d.worse_slices == ["task_type=rev"] for d in res.disagreements if d.worse_slices)
    assert all(d.slices["task_type"] == "rev" for d in res.disagreements if d.worse_slices)
    saved = json.loads(json.dumps(res.to_dict()))
    assert [g["value"] for g in saved["slice_gaps"] if g["worse"]] == ["rev"]


def test_uniform_noise_flags_no_slice() -> None:
    for seed in (0, 1, 2):
        res = audit_outcomes(rows_with({"a": 0.0, "b": 0.0, "c": 0.0, "d": 0.0}, seed=seed),
                             AuditConfig(n_boot=100, seed=seed))
        assert res.slice_gaps and not res.worse_slices
        assert all(g.gap.hi >= 0 for g in res.slice_gaps)
        assert any("No slice ranks outcomes worse than the rest" in v for v in res.verdict)


def test_slice_intervals_come_from_the_same_resamples() -> None:
    # two task types split the rows: per resample the two gaps are exact negatives, so on shared resamples
    # their intervals mirror each other
    res = audit_outcomes(rows_with({"x": 1.0, "y": 0.2}, n_prompts=60), AuditConfig(n_boot=200, seed=4))
    gx, gy = (next(g for g in res.slice_gaps if g.value == v).gap for v in ("x", "y"))
    assert gx.value == pytest.approx(-gy.value)
    assert gx.lo == pytest.approx(-gy.hi) and gx.hi == pytest.approx(-gy.lo)
    assert {g.key for g in res.slice_gaps} == {"task_type", "length"}


def test_stricter_slice_level_widens_the_gap_intervals(tmp_path: Path) -> None:
    rows = rows_with({"a": 0.5, "b": 0.5, "c": 0.5, "rev": -0.5})
    wide = audit_outcomes(rows, AuditConfig(n_boot=200, seed=0, slice_level=0.999))
    base = audit_outcomes(rows, AuditConfig(n_boot=200, seed=0))
    for w, b in zip(wide.slice_gaps, base.slice_gaps, strict=True):
        assert w.gap.lo <= b.gap.lo and w.gap.hi >= b.gap.hi
    page = write_report(base, tmp_path / "r.html").read_text()
    assert "Each slice against the rest" in page and "task_type=rev: worse than the rest" in page
