"""The 0.4 rule (tether.audit.rubric): qualification on held-out items, careless raters vs. a rubric that
splits careful ones, and one rater judging both display orders (self-consistency, not agreement)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tether.audit import AuditConfig, CurateConfig, build_table, curate, run_audit
from tether.audit.agreement import between_rater_alpha, krippendorff_alpha
from tether.audit.rubric import crossfit_reliability
from tether.records import Comparison

FAST = AuditConfig(n_bootstrap=0, min_shared_items=5)


def _camps(n_items: int = 300, seed: int = 0, readings: list | None = None) -> list[Comparison]:
    """Two schools of careful raters: 4 follow one reading of the rubric, 2 another; 3 raters per item.

    `readings`, if a list, receives each item's answer under the minority's reading.
    """
    rng = np.random.default_rng(seed)
    raters = [(f"major{i}", 0) for i in range(4)] + [(f"minor{i}", 1) for i in range(2)]
    rows = []
    for i in range(n_items):
        truths = rng.choice(["a", "b"], size=2)  # what each reading says about this pair
        if readings is not None:
            readings.append(str(truths[1]))
        for r in rng.choice(len(raters), size=3, replace=False):
            name, school = raters[r]
            choice = truths[school] if rng.random() < 0.92 else rng.choice(["a", "b", "tie"])
            rows.append(Comparison(prompt=f"p{i}", response_a=f"a{i}", response_b=f"b{i}", pair_id=str(i),
                                   rater=name, shown_first="ab"[int(rng.integers(2))], choice=str(choice)))
    return rows


def test_a_rubric_that_splits_careful_raters_is_ambiguous_and_names_them():
    result = run_audit(_camps(), FAST)
    v = result.verdicts["default"]
    assert v.alpha_all < 0.4 and v.alpha_qualified >= 0.4  # dropping the minority would have passed the rule
    assert v.status == "ambiguous" and result.blocked_task_types == ["default"]
    assert v.dissenting_raters == ["minor0", "minor1"] and "splits careful raters" in v.message
    assert all("second reading" in e["careful"][0] for e in v.excluded_raters)
    d = result.to_dict()["task_types"]["default"]
    assert d["alpha_all"] == v.alpha_all and d["alpha_qualified"] == v.alpha_qualified
    assert d["dissenting_raters"] == ["minor0", "minor1"] and "cross-fitting" in d["qualification"]


def test_gold_qualifies_the_raters_who_match_it_even_when_they_are_few():
    """Gold says the minority's reading is the right one: they are qualified, the majority is named."""
    minority: list[str] = []
    rows = _camps(readings=minority)
    gold = {str(i): label for i, label in enumerate(minority) if i % 2 == 0}
    v = run_audit(rows, FAST.model_copy(update={"gold": gold})).verdicts["default"]
    assert "gold included" in v.qualification
    assert v.status == "unreliable-raters" and v.alpha_qualified >= 0.4 > v.alpha_all
    named = {e["rater"]: e for e in v.excluded_raters}
    assert set(named) == {f"major{i}" for i in range(4)} and not v.dissenting_raters
    assert all(e["careless"] and "gold accuracy" in e["careless"][0] for e in named.values())


def test_careless_raters_are_named_and_the_rubric_passes(synth):
    careful = [synth.Rater(f"c{i}", 0.92) for i in range(3)]
    flippers = [synth.Rater("first", first_bias=0.95), synth.Rater("second", second_bias=0.95)]
    rows, _ = synth.campaign(careful + flippers, n_items=150, per_item=4, seed=3, both_orders=True)
    v = run_audit(rows, FAST).verdicts["default"]
    assert v.status == "unreliable-raters" and v.alpha_all < 0.4 <= v.alpha_qualified == v.alpha
    named = {e["rater"]: e for e in v.excluded_raters}
    assert set(named) == {"first", "second"} and not v.dissenting_raters
    assert "first-shown" in named["first"]["careless"][0] and "second-shown" in named["second"]["careless"][0]
    assert any("display swap" in c for c in named["first"]["careless"])
    assert "the rubric is fine" in v.message and "first" in v.message and "second" in v.message


def test_qualification_never_uses_the_items_it_judges():
    """Scrambling the labels of one fold's items changes no reliability used on that fold (and the others')."""
    rows = _camps(n_items=120, seed=1)
    table = build_table(rows)
    config = AuditConfig(qualification_folds=2)
    held = crossfit_reliability(table, config)
    rng = np.random.default_rng(0)
    fold = np.zeros(table.n_items, dtype=np.int64)
    idx = rng.permutation(table.n_items)
    fold[idx] = np.arange(table.n_items) % 2  # the same dealing as crossfit_reliability (one task type, seed 0)
    changed = table.label.copy()
    in_fold0 = fold[table.item] == 0
    changed[in_fold0] = rng.integers(0, 3, int(in_fold0.sum()))
    table.label = changed
    held_changed = crossfit_reliability(table, config)
    np.testing.assert_array_equal(held[in_fold0], held_changed[in_fold0])
    assert not np.allclose(held[~in_fold0], held_changed[~in_fold0], equal_nan=True)


def test_between_rater_alpha_is_krippendorffs_without_repeats_and_ignores_self_pairs(synth):
    rows, _ = synth.campaign([synth.Rater(f"r{i}", 0.8) for i in range(5)], n_items=80, per_item=3, seed=4)
    table = build_table(rows)
    assert between_rater_alpha(table, n_boot=0).value == pytest.approx(krippendorff_alpha(table.counts()), abs=1e-12)
    # the same raters judging every item twice: only pairs of different raters count
    twice, _ = synth.campaign([synth.Rater(f"r{i}", 0.8) for i in range(5)], n_items=80, per_item=3, seed=4,
                              both_orders=True)
    est = between_rater_alpha(build_table(twice), n_boot=20)
    assert est.n_items == 80 and est.ci_low <= est.value <= est.ci_high
    alone, _ = synth.campaign([synth.Rater("solo", 0.8)], n_items=30, per_item=1, seed=5, both_orders=True)
    assert between_rater_alpha(build_table(alone), n_boot=0).n_items == 0  # one rater: nothing pairable


# -- one rater in both display orders -------------------------------------------------------------------


def _one_judge(n_items: int = 60, seed: int = 6) -> tuple[list[Comparison], set[str]]:
    """One LLM judge, every pair in both orders; returns the rows and the pair ids judged the same both times."""
    rng = np.random.default_rng(seed)
    rows, same = [], set()
    for i in range(n_items):
        first = rng.choice(["a", "b", "tie"], p=[0.45, 0.4, 0.15])
        second = first if rng.random() < 0.6 else rng.choice(["a", "b", "tie"])
        if first == second:
            same.add(str(i))
        for shown, choice in (("a", first), ("b", second)):
            rows.append(Comparison(prompt=f"p{i}", response_a=f"answer a{i}", response_b=f"answer b{i}",
                                   pair_id=str(i), rater="judge-llm", shown_first=shown, choice=str(choice),
                                   task_type="writing"))
    return rows, same


def test_one_rater_in_both_orders_is_self_consistency_not_a_blocked_rubric():
    rows, same = _one_judge()
    result = run_audit(rows, FAST)
    v = result.verdicts["writing"]
    assert v.status == "self-consistency" and result.blocked_task_types == []
    assert v.n_items == 60 and "judge-llm" in v.message and "needs two raters" in v.message
    assert v.alpha == pytest.approx(krippendorff_alpha(build_table(rows).counts()), abs=1e-3)
    assert f"{len(same)} of 60 swapped pairs" in v.message
    pairs = curate(result, CurateConfig(policy="discard")).pairs
    assert {p.provenance["pair_id"] for p in pairs} == same


def test_curate_discard_on_a_one_judge_file_keeps_the_pairs_judged_the_same_both_ways(project_dir: Path):
    from tether.cli import app
    from tether.io import read_pairs, write_jsonl
    from tether.io.v1 import comparison_to_v1

    rows, same = _one_judge(n_items=50, seed=7)
    path = project_dir / "judge.jsonl"
    write_jsonl(path, (comparison_to_v1(c) for c in rows))
    result = CliRunner().invoke(app, ["curate", str(path), "--policy", "discard", "-o", "pairs.jsonl",
                                      "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    pairs = [item[1] for item in read_pairs(project_dir / "pairs.jsonl")]
    assert {p.provenance["pair_id"] for p in pairs} == same and len(same) < 50
    said = " ".join(result.output.split())
    assert f"{50 - len(same)} reversed (discarded)" in said and "0 of blocked task types" in said
    from tether.config import find_project

    with find_project().store() as store:
        run = store.latest_audit_run()
    assert run.verdicts["writing"]["status"] == "self-consistency" and run.blocked_task_types == []
