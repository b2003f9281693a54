"""pass@k: the unbiased estimator of Chen et al. (2021) against its definition, computed here with math.comb."""

from __future__ import annotations

from math import comb

import pytest

from tether.outcomes.passk import counts_by_task, mean_pass_at_k, pass_at_k

CASES = [(1, 0, 1), (1, 1, 1), (10, 3, 1), (10, 3, 5), (10, 8, 3), (100, 0, 10), (100, 1, 1), (100, 1, 100),
         (100, 29, 10), (100, 97, 4), (200, 13, 100), (5, 5, 5)]


@pytest.mark.parametrize(("n", "c", "k"), CASES)
def test_pass_at_k_is_one_minus_the_chance_that_k_draws_all_fail(n: int, c: int, k: int) -> None:
    # the definition: 1 - C(n-c, k) / C(n, k) (C(m, k) = 0 for m < k), in exact integers
    expected = 1 - comb(n - c, k) / comb(n, k)
    assert pass_at_k(n, c, k) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_pass_at_1_is_the_fraction_that_passes() -> None:
    assert pass_at_k(100, 29, 1) == pytest.approx(0.29)


def test_bad_counts_are_refused() -> None:
    for n, c, k in ((10, 11, 1), (10, 3, 0), (10, 3, 11), (10, -1, 1)):
        with pytest.raises(ValueError, match="need 0 <= c <= n"):
            pass_at_k(n, c, k)


def test_mean_over_tasks_leaves_out_k_above_a_tasks_samples() -> None:
    rows = [{"task_id": "a", "passed": p} for p in (True, False, False, False)]
    rows += [{"task_id": "b", "passed": p} for p in (True, True, False, False)]
    counts = counts_by_task(rows)
    assert counts == {"a": (4, 1), "b": (4, 2)}
    got = mean_pass_at_k(counts, (1, 2, 10))
    assert set(got) == {1, 2}
    assert got[1] == pytest.approx((1 / 4 + 2 / 4) / 2)
    assert got[2] == pytest.approx(((1 - comb(3, 2) / comb(4, 2)) + (1 - comb(2, 2) / comb(4, 2))) / 2)
