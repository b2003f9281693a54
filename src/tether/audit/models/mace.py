"""MACE, Multi-Annotator Competence Estimation (Hovy, Berg-Kirkpatrick, Vaswani and Hovy, 2013).

Each rater r either knows the answer (probability = competence) and gives the true label, or
spams and draws a label from their own distribution xi_r. The true label is uniform. Fitted by
EM (`method="em"`, counts smoothed by `smoothing`, default 0.01 / K) or variational Bayes
(`method="vb"`, Beta(alpha, beta) prior on spamming and a symmetric Dirichlet(`strategy_prior`)
on xi_r: the paper's and crowd-kit's defaults 0.5, 0.5 and 10), keeping the restart with the best
marginal likelihood. Restart 0 uses crowd-kit's initialisation for the same `random_state`, so a
single-restart fit reproduces crowd-kit's `MACE`. The E-step is computed in log space through
the same sparse design as Dawid–Skene (crowd-kit multiplies probabilities, which underflows on
items with hundreds of labels).
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma

from ._inputs import LabelData, softmax_rows
from .base import LabelModel

SPAMMER_THRESHOLD = 0.5  # competence below this: the rater spams on most of their items


class MACE(LabelModel):
    """MACE label model; `fit` on (items, raters, labels) integer codes or crowd-kit's DataFrame.

    Learned: `competence_` (n_raters,): probability the rater is not spamming, P(knows) / (P(knows) +
    P(spam)) (NaN without labels), `spam_distribution_` (n_raters, K), `posteriors_`, `labels_`,
    `spamming_` (crowd-kit's raw [P(spam), P(knows)]), `log_likelihood_` of the kept restart and
    `restart_log_likelihoods_`.
    """

    def __init__(
        self,
        n_iter: int = 50,
        n_restarts: int = 10,
        method: str = "vb",
        smoothing: float | None = None,
        alpha: float = 0.5,
        beta: float = 0.5,
        strategy_prior: float = 10.0,
        default_noise: float = 0.5,
        random_state: int = 0,
    ) -> None:
        self.n_iter = n_iter
        self.n_restarts = n_restarts
        self.method = method
        self.smoothing = smoothing
        self.alpha = alpha
        self.beta = beta
        self.strategy_prior = strategy_prior
        self.default_noise = default_noise
        self.random_state = random_state

    def _check_params(self) -> None:
        if self.method not in ("vb", "em"):
            raise ValueError(f"method: expected 'vb' or 'em', got {self.method!r}")
        if int(self.n_restarts) != self.n_restarts or self.n_restarts < 1:
            raise ValueError(f"n_restarts: expected a positive integer, got {self.n_restarts!r}")

    def _fit(self, data: LabelData) -> None:
        """`n_restarts` random starts of `n_iter` iterations each, keeping the best; gold items stay clamped."""
        k = data.n_classes
        self.smoothing_ = 0.01 / k if self.smoothing is None else float(self.smoothing)
        pair_weight = np.asarray(data.design.sum(axis=0)).ravel().reshape(data.n_raters, k)

        best: tuple[float, np.ndarray, np.ndarray] | None = None
        self.restart_log_likelihoods_ = []
        for restart in range(int(self.n_restarts)):
            spam, theta = self._initial(data.n_raters, k, restart)
            loglik, post = _e_step(data, spam, theta)
            for _ in range(int(self.n_iter)):
                spam, theta = self._m_step(data, spam, theta, post, pair_weight)
                loglik, post = _e_step(data, spam, theta)
            self.restart_log_likelihoods_.append(loglik)
            if best is None or loglik > best[0]:
                best = (loglik, spam, theta)
        assert best is not None
        self.log_likelihood_, spam, theta = best
        _, post = _e_step(data, spam, theta)
        has_labels = data.rater_weight > 0
        self.posteriors_ = post
        self.labels_ = post.argmax(axis=1)
        self.spamming_ = spam  # [P(spam), P(knows)] per rater (unnormalized under VB, as in crowd-kit)
        self.competence_ = np.where(has_labels, spam[:, 1] / spam.sum(axis=1), np.nan)
        self.spam_distribution_ = theta / theta.sum(axis=1, keepdims=True)

    def is_spammer(self, threshold: float = SPAMMER_THRESHOLD) -> np.ndarray:
        """Boolean per rater: competence below `threshold` (default 0.5: spams on most items).

        Raters without labels are never flagged.
        """
        return np.nan_to_num(self.competence_, nan=1.0) < threshold

    def _initial(self, n_raters: int, k: int, restart: int) -> tuple[np.ndarray, np.ndarray]:
        # crowd-kit draws both arrays from U[1, 2 + noise] with the same seed; restart 0 matches it.
        seed = (int(self.random_state) + restart) % 2**32
        scale = 1.0 + self.default_noise
        spam = 1.0 + scale * np.random.RandomState(seed).random_sample((n_raters, 2))
        theta = 1.0 + scale * np.random.RandomState(seed).random_sample((n_raters, k))
        return spam / spam.sum(axis=1, keepdims=True), theta / theta.sum(axis=1, keepdims=True)

    def _m_step(
        self, data: LabelData, spam: np.ndarray, theta: np.ndarray, post: np.ndarray, pair_weight: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        r, k = data.n_raters, data.n_classes
        # Expected count of "knew it" per (rater, label): the label matched the truth and was not spam.
        hit = (data.design_t @ post).reshape(r, k, k)[:, np.arange(k), np.arange(k)]
        spam_mass = spam[:, :1] * theta
        knew = hit * spam[:, 1:] / (spam_mass + spam[:, 1:])
        strategy = pair_weight - knew
        counts = np.column_stack([strategy.sum(axis=1), knew.sum(axis=1)])
        if self.method == "vb":
            priors = np.array([self.alpha, self.beta])
            return _variational_normalize(counts, priors), _variational_normalize(strategy, self.strategy_prior)
        return _normalize(counts, self.smoothing_), _normalize(strategy, self.smoothing_)


def _e_step(data: LabelData, spam: np.ndarray, theta: np.ndarray) -> tuple[float, np.ndarray]:
    """Log marginal likelihood and posteriors of the true labels (uniform prior over classes)."""
    r, k = data.n_raters, data.n_classes
    # P(label l | class c) = P(spam) * xi[l] + P(knows) * [l == c], one (R*K, K) table.
    table = np.repeat((spam[:, :1] * theta)[:, :, None], k, axis=2)
    table[:, np.arange(k), np.arange(k)] += spam[:, 1:]
    log_joint = data.design @ np.log(table.reshape(r * k, k)) - np.log(k)
    post, per_item = softmax_rows(log_joint)
    if data.gold_items.size:
        per_item[data.gold_items] = log_joint[data.gold_items, data.gold_labels]
    return float(data.observed @ per_item), data.clamp_gold(post)


def _normalize(counts: np.ndarray, smoothing: float) -> np.ndarray:
    smoothed = counts + smoothing
    total = smoothed.sum(axis=1, keepdims=True)
    return np.divide(smoothed, total, out=np.zeros_like(smoothed), where=~np.isclose(total, 0.0))


def _variational_normalize(counts: np.ndarray, prior: np.ndarray | float) -> np.ndarray:
    # exp(E[log p]) under the Dirichlet posterior: sums to less than one, as in the VB E-step.
    shifted = counts + prior
    return np.exp(digamma(shifted) - digamma(shifted.sum(axis=1, keepdims=True)))
