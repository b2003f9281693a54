"""`disagreement_diagnostics`: the member spread of an ensemble against a truth, on synthetic members whose errors
are shared (a common blind spot) or not (one member wrong at a time)."""

from __future__ import annotations

import numpy as np
import pytest

from tether.reward.ensemble import disagreement_diagnostics

N = 400


def _truth() -> np.ndarray:
    return np.random.default_rng(0).normal(0.0, 1.0, N)


def test_a_shared_blind_spot_overrates_with_low_spread() -> None:
    rng = np.random.default_rng(1)
    truth = _truth()
    hack = np.arange(N) < 100  # answers all members overrate by 3 z
    members = np.stack([truth + 3.0 * hack + rng.normal(0, 0.1, N) for _ in range(4)])
    d = disagreement_diagnostics(members, truth, lam=1.0)
    assert d["overrated_share"] == pytest.approx(0.25)
    assert d["error"] == pytest.approx(0.75, abs=0.05)
    assert d["member_error_corr"] > 0.95 and d["shared_error_share"] > 0.95  # wrong together
    assert abs(d["corr_std_error"]) < 0.3  # the spread does not follow the error
    assert d["penalty_share_of_error"] < 0.2  # lam * spread cancels a small part of the overrating
    assert d["error_after_penalty"] > 0.6


def test_members_wrong_one_at_a_time_mark_the_overrated_answers() -> None:
    rng = np.random.default_rng(2)
    truth = _truth()
    members = np.stack([truth + rng.normal(0, 0.05, N) for _ in range(4)])
    for i in range(2):  # each of two members alone overrates its own quarter of the answers by 6 z
        members[i, i * 100:(i + 1) * 100] += 6.0
    d = disagreement_diagnostics(members, truth, lam=1.0, std_ref=0.5)
    assert d["corr_std_error"] > 0.9 and d["member_error_corr"] < 0.1
    assert d["overrated_low_std_share"] == 0.0  # every overrated answer has a high spread
    assert d["penalty_share_of_error"] > 1.0 and d["error_after_penalty"] < 0  # the penalty more than cancels it


def test_truth_is_read_in_the_reference_set_units() -> None:
    truth = _truth()
    members = np.stack([truth, truth])  # members exactly the truth's z at the reference scale (0, 1)
    scaled = 10.0 + 5.0 * truth  # the same truth on another scale
    d = disagreement_diagnostics(members, scaled, truth_ref=(10.0, 5.0))
    assert d["error"] == pytest.approx(0.0) and d["member_std"] == 0.0
    assert np.isnan(d["corr_std_error"])  # no spread: no correlation to speak of
    with pytest.raises(ValueError, match="members must be"):
        disagreement_diagnostics(members[:1], truth)
