"""Our numbers on real, bundled data against the published figures (at the rounding they were published at)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tether.audit import AuditConfig, build_table, run_audit
from tether.audit.agreement import fleiss_kappa
from tether.io import import_file
from tether.io.formats import get_format

DATA = Path(__file__).resolve().parents[2] / "data"
PANDALM = DATA / "pandalm" / "testset-v1.json"
PRD = DATA / "prd"
LLM_REVIEWERS = ("bard", "claude", "gpt35", "gpt4", "vicuna-13b")


def _read(kind: str, path: Path) -> list:
    return [item[1] for item in get_format(kind).reader(path)]


@pytest.fixture(scope="module")
def prd() -> list:
    return _read("prd", PRD)


def test_pandalm_annotator_pair_kappas(store):
    """PandaLM (Wang et al. 2023): Cohen's kappa 0.85 / 0.88 / 0.86 between its three annotators."""
    import_file(store, "pandalm", PANDALM)
    result = run_audit(store.iter_comparisons(), AuditConfig(n_bootstrap=20))
    pairs = {(p.rater_a, p.rater_b): p.kappa for p in result.agreement_overall.cohens_kappa}
    expected = {("pandalm-annotator1", "pandalm-annotator2"): (0.852, 0.85),
                ("pandalm-annotator1", "pandalm-annotator3"): (0.879, 0.88),
                ("pandalm-annotator2", "pandalm-annotator3"): (0.862, 0.86)}
    assert set(pairs) == set(expected)
    for key, (ours, published) in expected.items():
        kappa = pairs[key]
        assert round(kappa.value, 3) == ours and round(kappa.value, 2) == published
        assert kappa.n_items == 999 and kappa.ci_low < kappa.value < kappa.ci_high
    assert result.blocked_task_types == []  # the published test set was filtered to agreed items


def test_prd_human_fleiss_kappa(prd):
    """PRD (Li et al. 2023), Vicuna80 human ratings: Fleiss' kappa 0.185 on first/second/tie answers.

    The published figure is Fleiss (1971) over the 2240 items rated three times. The audit reports Gwet's
    generalization over all 2560 rated items, in which the 320 items rated once count in the category
    shares (irrCAC's definition): 0.184.
    """
    human = [c for c in prd if c.rater.startswith("prd-human")]
    config = AuditConfig(n_bootstrap=20, label_frame="display")
    display = run_audit(human, config).agreement_overall.metrics["fleiss_kappa"]
    assert round(display.value, 3) == 0.184 and display.n_items == 2240  # items rated once: no agreement of their own
    counts = build_table(human).in_display_frame().counts()
    assert (counts.sum(axis=1) == 1).sum() == 320
    assert round(fleiss_kappa(counts[counts.sum(axis=1) == 3]), 3) == 0.185  # the published number
    canonical = run_audit(human, config.model_copy(update={"label_frame": "canonical"}))
    # same judgments as a/b/tie: identical observed agreement, chance agreement from other marginals
    assert canonical.agreement_overall.metrics["fleiss_kappa"].value == pytest.approx(0.184, abs=0.002)
    # the 0.4 rule: with kappa near 0.18 every Vicuna80 category is an ambiguous rubric
    assert set(canonical.blocked_task_types) == set(canonical.verdicts)
    assert all(v.disputed for v in canonical.verdicts.values())


def test_prd_human_first_position_rate(prd):
    """Humans on the counterbalanced, triple-rated Vicuna80 set pick the first shown 50.6% of the time."""
    human = [c for c in prd if c.rater.startswith("prd-human")]
    per_pair = Counter(c.pair_id for c in human)
    rated_thrice = [c for c in human if per_pair[c.pair_id] == 3]
    rate = run_audit(rated_thrice, AuditConfig(n_bootstrap=0)).position_overall
    assert abs(rate.rate - 0.506) < 0.001
    assert rate.n == 5955 and rate.ties == 765
    assert rate.wilson[0] < 0.5 < rate.wilson[1] and rate.p_value > 0.05  # no detectable human position bias


def test_prd_llm_reviewers_are_position_biased_in_different_directions(prd):
    llm = [c for c in prd if c.rater in LLM_REVIEWERS]
    d = run_audit(llm, AuditConfig(n_bootstrap=0)).to_dict()["position"]["by_rater"]
    present = sorted(d)
    assert {"bard", "gpt4", "gpt35", "vicuna-13b"} <= set(present)  # claude's ratings may be left out of the bundle
    for first_lover in ("bard", "gpt4"):
        r = d[first_lover]
        assert r["rate"] > 0.6 and r["p_value"] < 1e-10 and r["wilson_low"] > 0.5
        assert r["favoured_first"] > 5 * r["favoured_second"]
    for second_lover in [n for n in ("claude", "vicuna-13b") if n in d]:
        r = d[second_lover]
        assert r["rate"] < 0.42 and r["p_value"] < 1e-10 and r["wilson_high"] < 0.5
        assert r["favoured_second"] > r["favoured_first"]
    for name in present:
        assert d[name]["n_swapped"] >= 800 and d[name]["swap_consistency"] < 0.75
    assert d["bard"]["swap_consistency"] < 0.4  # bard keeps its verdict through a swap less than 2 times in 5
    # the Bradley–Terry position effects point the same ways
    assert d["bard"]["bt_position"]["overall"] > 1 and d["vicuna-13b"]["bt_position"]["overall"] < -0.3


def test_prd_llm_reviewers_imported_as_ai_raters_keep_todays_position_figures(prd):
    """The LLM reviewers come in as AI raters (interface llm-judge); their position-bias figures are those of the
    same comparisons without the mark (the import before AI raters existed)."""
    llm = [c for c in prd if c.rater in LLM_REVIEWERS]
    assert {c.interface for c in llm} == {"llm-judge"}
    assert {c.interface for c in prd if c.rater.startswith("prd-human")} == {None}
    unmarked = [c.model_copy(update={"interface": None}) for c in llm]
    config = AuditConfig(n_bootstrap=0)
    marked, before = (run_audit(cs, config).to_dict() for cs in (llm, unmarked))
    assert marked["ai_raters"] == sorted({c.rater for c in llm}) and before["ai_raters"] == []
    for key in ("overall", "by_rater", "by_campaign", "swap", "bradley_terry"):
        assert marked["position"][key] == before["position"][key]
    # no human judged them: the 0.4 rule runs on the reviewers, as before, and says so
    assert {t: (v["status"], v["alpha"]) for t, v in marked["task_types"].items()} == \
        {t: (v["status"], v["alpha"]) for t, v in before["task_types"].items()}
    assert {v["rule_raters"] for v in marked["task_types"].values()} == {"ai (no human judgments)"}


def test_prd_humans_and_llm_reviewers_together_rule_on_the_humans(prd):
    """Audited together, the reviewers are reported beside the humans and the 0.4 rule is the humans' own."""
    config = AuditConfig(n_bootstrap=0)
    together = run_audit(prd, config).to_dict()
    humans = run_audit([c for c in prd if c.rater.startswith("prd-human")], config).to_dict()
    assert {t: (v["status"], v["alpha"]) for t, v in together["task_types"].items()} == \
        {t: (v["status"], v["alpha"]) for t, v in humans["task_types"].items()}
    kinds = together["agreement"]["by_rater_kind"]
    assert kinds["human"]["value"] == pytest.approx(humans["agreement"]["by_rater_kind"]["human"]["value"])
    assert {together["raters"][n]["kind"] for n in LLM_REVIEWERS if n in together["raters"]} == {"ai"}
    # bard's first-position preference is flagged by the same test the humans pass
    assert together["raters"]["bard"]["flags"] and not any(
        together["raters"][n]["flags"] for n in together["raters"] if n.startswith("prd-human"))
