"""Guard 5 of the demo's table (distribution shift): computed on world seed 1, Tether ahead of the naive pipeline."""


import pytest
from tests.demo.row_checks import check_row

from tether.demo.guards.shift import BUDGET, PLANTED, SAMPLED, production_config, row_shift
from tether.sim.production import domain_mix


@pytest.fixture(scope="module")
def row():
    return row_shift(1)


def test_row_shift_structure_and_claim(row):
    check_row(row, 5)
    low, high = row.detail["difference_ci95"]  # paired bootstrap over the test pairs
    assert low <= row.tether - row.naive <= high


def test_row_shift_same_budget_and_the_guard_acted(row):
    d = row.detail
    assert d["drift"]["drift"] and d["drift"]["mmd_pvalue"] < 0.025  # the drift test fired
    assert d["budget_pairs"] == BUDGET and d["sampled_pairs"] == SAMPLED
    assert sum(d["launch_domains"].values()) == BUDGET  # the naive arm's labels: launch prompts only
    assert not set(d["launch_domains"]) & set(PLANTED)
    assert sum(d["sampled_domains"].values()) == SAMPLED
    assert set(PLANTED) <= set(d["sampled_domains"])  # the sampler reached the domains opened after launch
    assert abs(d["naive_train_pairs"] - d["tether_train_pairs"]) <= 0.05 * BUDGET  # even splits dropped in either
    assert d["test_pairs"] == sum(d["test_domains"].values()) > 500
    # the gain comes from the planted domains: Tether ahead on each
    for dom in PLANTED:
        assert d["tether_by_domain"][dom] > d["naive_by_domain"][dom]


def test_production_config_plants_late_domains():
    config = production_config()
    for dom in PLANTED:
        assert domain_mix(config, 0.0)[dom] == 0.0 and domain_mix(config, 0.2)[dom] == 0.0
        assert domain_mix(config, 1.0)[dom] > 0.1
