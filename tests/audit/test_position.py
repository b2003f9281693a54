"""Position bias: exact tests and intervals, swap consistency per rater and across raters, BT position."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from tether.audit import AuditConfig, build_table, run_audit
from tether.audit.position import first_position_rate, swap_analysis
from tether.records import Comparison

FAST = AuditConfig(n_bootstrap=0, min_shared_items=5, min_items_to_judge=5)


def test_first_position_rate_excludes_ties_and_matches_scipy():
    # shown a first: picked a 30 times, b 10 times, tie 5 times; shown b first: picked b 12, a 8
    labels = np.array([0] * 30 + [1] * 10 + [2] * 5 + [1] * 12 + [0] * 8)
    shown = np.array([0] * 45 + [1] * 20)
    r = first_position_rate(labels, shown)
    assert (r.n, r.picked_first, r.ties) == (60, 42, 5)
    assert r.rate == pytest.approx(42 / 60)
    ref = binomtest(42, 60, 0.5)
    assert r.p_value == pytest.approx(ref.pvalue)
    w, cp = ref.proportion_ci(0.95, "wilson"), ref.proportion_ci(0.95, "exact")
    assert r.wilson == pytest.approx((w.low, w.high)) and r.clopper_pearson == pytest.approx((cp.low, cp.high))


def _judge(pid: str, rater: str, shown: str, choice: str) -> Comparison:
    return Comparison(prompt=f"p{pid}", response_a=f"a{pid}", response_b=f"b{pid}", pair_id=pid, rater=rater,
                      shown_first=shown, choice=choice)


def test_swap_consistency_and_direction_per_rater():
    rows = []
    for i in range(10):
        pid = f"q{i}"
        rows += [_judge(pid, "firsty", "a", "a"), _judge(pid, "firsty", "b", "b")]  # follows the first slot
        rows += [_judge(pid, "steady", "a", "b"), _judge(pid, "steady", "b", "b")]  # same verdict both ways
        second = ("b", "a") if i < 6 else ("a", "a")  # follows the second slot 6 times out of 10
        rows += [_judge(pid, "secondy", "a", second[0]), _judge(pid, "secondy", "b", second[1])]
        rows += [_judge(pid, "tier", "a", "tie"), _judge(pid, "tier", "b", "a" if i < 5 else "tie")]
    swaps = swap_analysis(build_table(rows))
    d = {k: v.as_dict() for k, v in swaps.by_rater.items()}
    assert d["firsty"]["n_swapped"] == 10 and d["firsty"]["favoured_first"] == 1.0
    assert d["firsty"]["swap_consistency"] == 0.0 and d["firsty"]["favoured_second"] == 0.0
    assert d["steady"]["swap_consistency"] == 1.0 and d["steady"]["favoured_first"] == 0.0
    assert d["secondy"]["favoured_second"] == pytest.approx(0.6) and d["secondy"]["swap_consistency"] == 0.4
    assert d["tier"]["other_inconsistent"] == 0.5 and d["tier"]["swap_consistency"] == 0.5
    # every item has reversals from firsty (and secondy on six of them)
    assert swaps.item_reversals.tolist() == [2] * 6 + [1] * 4


def test_swap_across_raters_flags_order_driven_flips():
    rows = []
    for i in range(8):
        pid = f"q{i}"
        # different raters see different orders; each order's majority picks the first-shown one on q0..q3
        if i < 4:
            rows += [_judge(pid, "r1", "a", "a"), _judge(pid, "r2", "a", "a"),
                     _judge(pid, "r3", "b", "b"), _judge(pid, "r4", "b", "b")]
        else:
            rows += [_judge(pid, "r1", "a", "b"), _judge(pid, "r2", "a", "b"),
                     _judge(pid, "r3", "b", "b"), _judge(pid, "r4", "b", "a")]  # tied b-first group: undecided
    swaps = swap_analysis(build_table(rows))
    assert swaps.by_rater == {}  # no rater saw both orders
    across = swaps.across_raters.as_dict()
    assert across["n_swapped"] == 4 and across["favoured_first"] == 1.0
    assert swaps.item_across_reversal.tolist() == [True] * 4 + [False] * 4
    assert swaps.item_swapped.all()


def test_run_audit_reports_position_by_rater_interface_campaign_batch(synth):
    raters = [synth.Rater("fair1"), synth.Rater("fair2"), synth.Rater("biased", first_bias=0.7),
              synth.Rater("contrarian", second_bias=0.6)]
    rows, _ = synth.campaign(raters, n_items=150, per_item=4, seed=1, both_orders=True,
                       interface_of=lambda r: "mobile" if r == "biased" else "web", batch_of=lambda i: i // 50)
    d = run_audit(rows, FAST).to_dict()["position"]
    biased, fair, contrarian = d["by_rater"]["biased"], d["by_rater"]["fair1"], d["by_rater"]["contrarian"]
    assert biased["rate"] > 0.75 and biased["p_value"] < 1e-6 and biased["wilson_low"] > 0.5
    assert contrarian["rate"] < 0.3 and contrarian["wilson_high"] < 0.5
    assert fair["p_value"] > 0.001 and fair["wilson_low"] < 0.5 < fair["wilson_high"]
    assert biased["favoured_first"] > 0.5 and biased["favoured_second"] < 0.05
    assert contrarian["favoured_second"] > 0.4 and fair["swap_consistency"] > 0.7
    assert d["by_interface"]["mobile"]["rate"] > d["by_interface"]["web"]["rate"]
    assert set(d["by_batch"]) == {"0", "1", "2"} and set(d["by_campaign"]) == {"c1", "c2"}
    # Bradley–Terry: the biased rater's position shift is positive and large, the contrarian's negative
    bt = d["bradley_terry"]["overall"]["by_rater"]
    assert bt["biased"] > 1.0 and bt["contrarian"] < -0.5 and abs(bt["fair1"]) < 0.5


def test_audit_says_when_the_position_model_cannot_identify_position_or_ties(synth):
    from tether.audit.models import IdentificationWarning

    rows, _ = synth.campaign([synth.Rater(f"r{i}", 0.9) for i in range(3)], n_items=60, per_item=3, seed=8,
                             tie_rate=0.0)
    one_order = [c.model_copy(update={"shown_first": "a"}) for c in rows]
    no_ties = [c for c in one_order if c.choice.value != "tie"]
    with pytest.warns(IdentificationWarning) as caught:
        d = run_audit(no_ties, FAST).to_dict()["position"]["bradley_terry"]["overall"]
    said = " ".join(str(w.message) for w in caught)
    assert "objective 'overall'" in said and "one display order" in said and "no comparison is a tie" in said
    assert caught[0].filename == __file__  # points at the caller of run_audit
    assert d["position_identified"] is False and d["tie_identified"] is False and d["position"] is None
    assert len(d["notes"]) == 2
    assert any(c.choice.value == "tie" for c in rows)  # rater errors include ties; display orders vary
    both = run_audit(rows, FAST).to_dict()["position"]["bradley_terry"]["overall"]
    assert both["position_identified"] is True and both["tie_identified"] is True and both["notes"] == []
