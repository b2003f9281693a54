"""Guards 1 and 2 of the demo's table: each row computed on world seed 1, Tether ahead of the naive pipeline."""


import pytest
from tests.demo.row_checks import check_row

from tether.demo.guards.labels import OVERLAP, PAIRS, row_position, row_raters


@pytest.fixture(scope="module")
def raters():
    return row_raters(1)


@pytest.fixture(scope="module")
def position():
    return row_position(1)


def test_row_raters_tether_beats_the_sign_up_pool(raters):
    check_row(raters, 1)
    d = raters.detail
    # the same budget: qualification is paid out of it, so Tether labels fewer pairs
    assert d["judgments"]["naive"] == d["judgments"]["tether"] == PAIRS * OVERLAP
    assert d["judgments"]["tether_qualification"] > 0 and d["campaign_pairs"]["tether"] < PAIRS
    # qualification keeps every matched expert and no more than a few click-through raters
    assert d["qualified_by_hidden_group"].get("expert") == d["pool"]["per_group"]
    assert d["qualified_by_hidden_group"].get("clicker", 0) <= 1
    assert d["label_accuracy"]["tether"] > d["label_accuracy"]["naive"]
    assert d["test_pairs"] > 300


def test_row_position_tether_beats_one_display_order(position):
    check_row(position, 2)
    d = position.detail
    assert d["judgments"]["naive"] == d["judgments"]["tether"] == PAIRS * OVERLAP
    # the raters do favour the first-shown response, and the audit's position model finds it
    assert d["first_shown_picked"]["naive"] > 0.55 and d["bt_position_log_odds"] > 0
    assert d["reversals_downweighted"] > 0
    # randomizing the order helps by itself; the position-aware labels help more
    assert position.naive < d["label_accuracy_randomized_majority"] < position.tether
    for arm in ("naive", "tether"):
        assert 0.5 < d["probe_gold_accuracy"][arm] <= 1.0
