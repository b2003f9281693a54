"""Guard 6 of the demo's table (rater preference != outcome): computed on world seed 1, Tether ahead of naive."""

import pytest
from tests.demo.row_checks import check_row

from tether.demo.guards.outcomes import PLANTED, row_outcomes


@pytest.fixture(scope="module")
def row():
    return row_outcomes(1)


def test_row_outcomes_structure_and_claim(row):
    check_row(row, 6)
    low, high = row.detail["difference_ci95"]  # paired bootstrap over the slice's test pairs
    assert 0.0 < low <= row.tether - row.naive <= high


def test_row_outcomes_audit_and_the_rest(row):
    d = row.detail
    assert d["planted"]["task_type"] == PLANTED and d["outcome_pairs"] > 500 and d["rater_pairs"] > 500
    naive_auc, tether_auc = d["audit_auc_slice"]["naive"], d["audit_auc_slice"]["tether"]
    assert naive_auc[0] < 0.5 < tether_auc[0]  # the rater-trained model ranks failing answers higher on the slice
    assert d["audit_lowest_task_type"] == PLANTED
    # the fix does not cost the other task types more than a few points, nor the slice's never-trained-on pairs
    rest = d["rest_accuracy"]
    assert rest["tether"] >= rest["naive"] - 0.03
    unseen = d["unseen_accuracy"]
    assert d["unseen_test_pairs"] > 100 and unseen["tether"] >= unseen["naive"] - 0.03
