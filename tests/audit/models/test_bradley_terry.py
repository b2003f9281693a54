"""Bradley–Terry–Davidson with position effect: gradient, recovery of planted parameters, crowd-kit ranking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from audit_models_sim import simulate_comparisons
from crowdkit.aggregation import BradleyTerry as CrowdKitBT
from scipy.optimize import check_grad
from scipy.stats import spearmanr

from tether.audit.models import BradleyTerry, IdentificationWarning

Z = 4.5  # tolerance in standard errors: |estimate - truth| <= Z * SE for every parameter checked


def standard_errors(sim: dict[str, np.ndarray], n_players: int, n_raters: int, nu: float) -> dict[str, np.ndarray]:
    """Approximate SEs from the Fisher information of the true model at the simulated design.

    Each parameter's information is its own diagonal: sum over its comparisons of the Davidson
    curvature in d, 1/4 [P(a) + P(b) - (P(a) - P(b))^2], and of P(tie)(1 - P(tie)) for log nu.
    """
    u = sim["d"] / 2
    parts = np.column_stack([np.exp(u), np.exp(-u), np.full_like(u, nu)])
    pa, pb, pt = (parts / parts.sum(axis=1, keepdims=True)).T
    h = 0.25 * (pa + pb - (pa - pb) ** 2)
    player_info = np.bincount(sim["a"], h, n_players) + np.bincount(sim["b"], h, n_players)
    return {
        "scores": 1 / np.sqrt(player_info),
        "position": np.array(1 / np.sqrt(h.sum())),
        "rater": 1 / np.sqrt(np.bincount(sim["raters"], h, n_raters)),
        "log_nu": np.array(1 / np.sqrt((pt * (1 - pt)).sum())),
    }


def fit_args(sim: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    return sim["a"], sim["b"], sim["shown_first"], sim["outcome"]


@pytest.mark.parametrize("ties", ["davidson", None])
@pytest.mark.parametrize("position", [None, "global", "per_rater"])
def test_gradient_matches_finite_differences(ties: str | None, position: str | None) -> None:
    rng = np.random.default_rng(0)
    sim = simulate_comparisons(rng, 400, rng.normal(size=15), 0.3, 0.5, rng.normal(0, 0.3, 6))
    weight = rng.uniform(0.2, 2.0, 400)
    objective = BradleyTerry(ties=ties, position=position, l2=0.3, rater_l2=0.7).objective(
        *fit_args(sim), raters=sim["raters"], sample_weight=weight
    )
    for _ in range(3):
        x = rng.normal(0, 0.8, objective.n_params)
        grad_norm = np.linalg.norm(objective(x)[1])
        error = check_grad(lambda v: objective(v)[0], lambda v: objective(v)[1], x)
        assert error / grad_norm < 1e-6


def test_recovers_scores_position_and_ties() -> None:
    rng = np.random.default_rng(1)
    scores, position, nu = rng.normal(size=50), 0.4, 0.5
    sim = simulate_comparisons(rng, 20_000, scores, position, nu, np.zeros(1))
    model = BradleyTerry(ties="davidson", position="global").fit(*fit_args(sim))
    se = standard_errors(sim, 50, 1, nu)

    assert model.converged_
    assert np.all(np.abs(model.scores_ - (scores - scores.mean())) <= Z * se["scores"])
    assert abs(model.position_ - position) <= Z * se["position"]
    assert abs(np.log(model.tie_) - np.log(nu)) <= Z * se["log_nu"]
    assert model.scores_.mean() == pytest.approx(0.0, abs=1e-10)


def test_recovers_per_rater_position_effects() -> None:
    rng = np.random.default_rng(2)
    scores, position, nu, deviation = rng.normal(size=40), 0.3, 0.4, rng.normal(0, 0.6, 12)
    sim = simulate_comparisons(rng, 24_000, scores, position, nu, deviation)
    model = BradleyTerry(ties="davidson", position="per_rater", tol=1e-8).fit(*fit_args(sim), raters=sim["raters"])
    se = standard_errors(sim, 40, 12, nu)

    # Each rater's total first-position bonus is identified; the L2 prior centres the deviations.
    total = model.position_ + model.rater_position_
    assert np.all(np.abs(total - (position + deviation)) <= Z * se["rater"])
    assert model.rater_position_.sum() == pytest.approx(0.0, abs=1e-6)
    assert abs(model.position_ - (position + deviation.mean())) <= Z * np.sqrt((se["rater"] ** 2).sum()) / 12
    assert np.all(np.abs(model.scores_ - (scores - scores.mean())) <= Z * se["scores"])


def hunter_mm(a: np.ndarray, b: np.ndarray, a_wins: np.ndarray, n_players: int) -> np.ndarray:
    """Reference maximum-likelihood BT log-scores by Hunter's (2004) MM iteration, run to convergence."""
    wins = np.bincount(np.where(a_wins, a, b), minlength=n_players)
    p = np.ones(n_players)
    for _ in range(10_000):
        inv = 1.0 / (p[a] + p[b])
        new = wins / (np.bincount(a, inv, n_players) + np.bincount(b, inv, n_players))
        new /= new.sum()
        if np.abs(new - p).max() < 1e-13:
            break
        p = new
    return np.log(p) - np.log(p).mean()


def test_agrees_with_maximum_likelihood_and_crowdkit_ranking() -> None:
    """Without ties and position, ours is the BT MLE up to the L2 prior.

    crowd-kit's BradleyTerry stops after its second MM step whatever n_iter is (its convergence check
    compares the score array with itself), so its scores are an early MM iterate, not the MLE: we
    compare ranks with it, and values with a reference MM run to convergence.
    """
    rng = np.random.default_rng(3)
    scores = rng.normal(size=30)
    sim = simulate_comparisons(rng, 6000, scores, 0.0, 0.0, np.zeros(1), ties=False)
    winner = np.where(sim["outcome"] == 0, sim["a"], sim["b"])
    frame = pd.DataFrame({"worker": 0, "left": sim["a"], "right": sim["b"], "label": winner})
    ck = CrowdKitBT(n_iter=2000, tol=1e-10).fit(frame)
    ours = BradleyTerry(ties=None, position=None, l2=0.01, tol=1e-8).fit(*fit_args(sim))

    ck_log = np.log(ck.scores_.reindex(range(30)).to_numpy())
    assert spearmanr(ours.scores_, ck_log).statistic > 0.99
    mle = hunter_mm(sim["a"], sim["b"], sim["outcome"] == 0, 30)
    # The prior l2=0.01 against ~400 comparisons per player moves each score by ~l2 * score / info < 1e-3.
    np.testing.assert_allclose(ours.scores_, mle, atol=2e-3)
    unpenalized = BradleyTerry(ties=None, position=None, l2=1e-9, tol=1e-8).fit(*fit_args(sim))
    np.testing.assert_allclose(unpenalized.scores_, mle, atol=1e-6)


def test_tie_counts_half_a_win_without_davidson() -> None:
    rng = np.random.default_rng(4)
    sim = simulate_comparisons(rng, 3000, rng.normal(size=20), 0.2, 0.6, np.zeros(1))
    ties = sim["outcome"] == 2
    assert ties.any()
    a, b, first, outcome = fit_args(sim)
    # The same data with each tie written as one win each way at weight 1/2.
    rows = np.r_[np.arange(len(a)), np.flatnonzero(ties)]
    split_outcome = np.r_[np.where(ties, 0, outcome), np.ones(ties.sum(), dtype=int)]
    weight = np.r_[np.where(ties, 0.5, 1.0), np.full(ties.sum(), 0.5)]
    with_ties = BradleyTerry(ties=None, tol=1e-8).fit(a, b, first, outcome)
    split = BradleyTerry(ties=None, tol=1e-8).fit(a[rows], b[rows], first[rows], split_outcome, sample_weight=weight)
    np.testing.assert_allclose(with_ties.scores_, split.scores_, atol=1e-6)
    assert with_ties.position_ == pytest.approx(split.position_, abs=1e-6)
    assert with_ties.tie_ == 0.0


def test_integer_weights_equal_repeated_rows() -> None:
    rng = np.random.default_rng(9)
    sim = simulate_comparisons(rng, 2000, rng.normal(size=30), 0.3, 0.5, rng.normal(0, 0.4, 5))
    weight = rng.integers(1, 4, 2000)
    rows = np.repeat(np.arange(2000), weight)
    model = BradleyTerry(position="per_rater", tol=1e-8)
    weighted = model.fit(*fit_args(sim), raters=sim["raters"], sample_weight=weight.astype(float))
    w_scores, w_pos, w_dev, w_tie = weighted.scores_, weighted.position_, weighted.rater_position_, weighted.tie_
    repeated = model.fit(*(x[rows] for x in fit_args(sim)), raters=sim["raters"][rows])
    np.testing.assert_allclose(w_scores, repeated.scores_, atol=1e-6)
    np.testing.assert_allclose(w_dev, repeated.rater_position_, atol=1e-6)
    assert w_pos == pytest.approx(repeated.position_, abs=1e-6) and w_tie == pytest.approx(repeated.tie_, rel=1e-6)


def test_sparse_players_stay_finite_thanks_to_the_prior() -> None:
    rng = np.random.default_rng(5)
    n_players = 20_000
    sim = simulate_comparisons(rng, 15_000, rng.normal(size=n_players), 0.3, 0.4, np.zeros(1))
    counts = np.bincount(np.r_[sim["a"], sim["b"]], minlength=n_players)
    assert np.median(counts) <= 2
    model = BradleyTerry().fit(*fit_args(sim), n_players=n_players)
    assert model.converged_
    assert np.isfinite(model.scores_).all() and np.abs(model.scores_).max() < 20
    unseen = model.scores_[counts == 0]  # only the prior speaks for them: all at the same (central) score
    assert np.ptp(unseen) < 1e-9 and abs(unseen[0]) < 1e-3
    assert 0.0 < model.tie_ < 5.0


def test_default_prior_keeps_position_and_ties_sane_when_every_player_is_seen_once() -> None:
    """One comparison per player: the scores are nuisance parameters and the prior decides their pull.

    The unit prior (default l2=1) attenuates the shared parameters a little; a weak prior (0.01) lets the
    scores absorb the outcomes and inflates the position bonus and the tie rate several-fold.
    """
    rng = np.random.default_rng(8)
    n = 30_000
    fresh = (np.arange(n), np.arange(n, 2 * n))  # a new pair of players in every comparison
    sim = simulate_comparisons(rng, n, rng.normal(size=2 * n), 0.3, 0.4, np.zeros(1), pairs=fresh)
    default = BradleyTerry().fit(*fit_args(sim), n_players=2 * n)
    weak = BradleyTerry(l2=0.01).fit(*fit_args(sim), n_players=2 * n)
    assert abs(default.position_ - 0.3) < 0.1 and abs(np.log(default.tie_ / 0.4)) < 0.25
    assert weak.position_ > 0.5 and weak.tie_ > 0.8


def test_predict_proba_is_position_free_davidson() -> None:
    rng = np.random.default_rng(6)
    sim = simulate_comparisons(rng, 4000, rng.normal(size=25), 0.5, 0.5, np.zeros(1))
    model = BradleyTerry().fit(*fit_args(sim))
    a, b = rng.integers(0, 25, 100), rng.integers(0, 25, 100)
    proba = model.predict_proba(a, b)
    u = (model.scores_[a] - model.scores_[b]) / 2
    expected = np.column_stack([np.exp(u), np.exp(-u), np.full(100, model.tie_)])
    np.testing.assert_allclose(proba, expected / expected.sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(model.predict_proba(b, a), proba[:, [1, 0, 2]], rtol=1e-12)


def test_predict_proba_logistic_without_ties() -> None:
    rng = np.random.default_rng(7)
    sim = simulate_comparisons(rng, 2000, rng.normal(size=10), 0.0, 0.0, np.zeros(1), ties=False)
    model = BradleyTerry(ties=None, position=None).fit(*fit_args(sim))
    proba = model.predict_proba([0, 1], [1, 0])
    win = 1 / (1 + np.exp(-(model.scores_[0] - model.scores_[1])))
    np.testing.assert_allclose(proba, [[win, 1 - win, 0.0], [1 - win, win, 0.0]], rtol=1e-12)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"b": [1, 2]}, "b: length 2 does not match a"),
        ({"a": [-1, 0, 1]}, "a: codes must be >= 0"),
        ({"a": [0.0, 1.0, 2.0]}, "a: expected integer codes"),
        ({"outcome": [0, 3, 1]}, "outcome: value 3 at index 1"),
        ({"shown_first": [0, 2, 1]}, "shown_first: value 2 at index 1"),
        ({"b": [0, 2, 0]}, "b: comparison 0 compares player 0 with itself"),
        ({"raters": [0, 1]}, "raters: length 2 does not match a"),
        ({"n_players": 2}, "a/b: value 2 .* >= n_players=2"),
        ({"sample_weight": [1.0, -1.0, 1.0]}, "sample_weight: weights must be finite and >= 0"),
    ],
)
def test_bad_input_names_the_argument(change: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"a": [0, 1, 2], "b": [1, 2, 0], "shown_first": [0, 1, 0], "outcome": [0, 1, 2]}
    args.update(change)
    with pytest.raises(ValueError, match=match):
        BradleyTerry().fit(**args)  # type: ignore[arg-type]


def test_bad_options_name_the_argument() -> None:
    data = ([0, 1], [1, 0], [0, 1], [0, 1])
    with pytest.raises(ValueError, match="raters: required when position='per_rater'"):
        BradleyTerry(position="per_rater").fit(*data)
    with pytest.raises(ValueError, match="ties"):
        BradleyTerry(ties="rao-kupper").fit(*data)
    with pytest.raises(ValueError, match="position"):
        BradleyTerry(position="per_batch").fit(*data)
    model = BradleyTerry(ties=None).fit(*data)
    with pytest.raises(ValueError, match="a: value 5 at index 0 is >= n_players=2"):
        model.predict_proba([5], [0])


# -- what the data cannot identify -------------------------------------------------------------------


def test_one_display_order_leaves_the_position_out_and_says_so() -> None:
    rng = np.random.default_rng(9)
    sim = simulate_comparisons(rng, 3000, rng.normal(size=20), 0.5, 0.4, np.zeros(1))
    a, b, _, outcome = fit_args(sim)
    first = np.zeros_like(a)  # a always shown first
    with pytest.warns(IdentificationWarning, match="one display order"):
        model = BradleyTerry(position="global").fit(a, b, first, outcome)
    assert not model.position_identified_ and model.tie_identified_
    assert np.isnan(model.position_) and np.isfinite(model.scores_).all()
    # the same fit as a model without a position term
    plain = BradleyTerry(position=None).fit(a, b, first, outcome)
    np.testing.assert_allclose(model.scores_, plain.scores_, atol=1e-12)
    with pytest.warns(IdentificationWarning, match="one display order"):
        per_rater = BradleyTerry(position="per_rater").fit(a, b, np.ones_like(a), outcome, raters=sim["raters"])
    assert np.isnan(per_rater.position_) and np.isnan(per_rater.rater_position_).all()
    # zero-weight comparisons do not count: shown in the other order but weighted out
    weight = np.ones(len(a))
    weight[:10] = 0.0
    first_some = first.copy()
    first_some[:10] = 1
    with pytest.warns(IdentificationWarning, match="one display order"):
        BradleyTerry().fit(a, b, first_some, outcome, sample_weight=weight)


def test_no_ties_fits_the_model_without_ties_and_says_so() -> None:
    rng = np.random.default_rng(10)
    sim = simulate_comparisons(rng, 3000, rng.normal(size=20), 0.3, 0.0, np.zeros(1), ties=False)
    with pytest.warns(IdentificationWarning, match="no comparison is a tie"):
        model = BradleyTerry(ties="davidson").fit(*fit_args(sim))
    assert not model.tie_identified_ and model.position_identified_ and model.tie_ == 0.0
    logistic = BradleyTerry(ties=None).fit(*fit_args(sim))  # a tie-free Davidson model is the logistic one
    np.testing.assert_allclose(model.scores_, logistic.scores_, atol=1e-12)
    assert model.position_ == pytest.approx(logistic.position_, abs=1e-12)
    np.testing.assert_allclose(model.predict_proba([0, 1], [1, 0]), logistic.predict_proba([0, 1], [1, 0]),
                               atol=1e-12)


def test_all_ties_identify_nothing_and_say_so() -> None:
    a, b = np.array([0, 1, 2, 0]), np.array([1, 2, 0, 2])
    with pytest.warns(IdentificationWarning, match="every comparison is a tie"):
        model = BradleyTerry().fit(a, b, np.array([0, 1, 0, 1]), np.full(4, 2))
    assert not model.tie_identified_ and not model.position_identified_
    assert model.tie_ == np.inf and np.isnan(model.position_) and np.all(model.scores_ == 0)
    np.testing.assert_array_equal(model.predict_proba([0], [1]), [[0.0, 0.0, 1.0]])


def test_identified_data_fit_without_warnings() -> None:
    import warnings

    rng = np.random.default_rng(11)
    sim = simulate_comparisons(rng, 2000, rng.normal(size=15), 0.3, 0.4, np.zeros(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", IdentificationWarning)
        model = BradleyTerry().fit(*fit_args(sim))
    assert model.position_identified_ and model.tie_identified_
