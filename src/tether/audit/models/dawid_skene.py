"""Dawid–Skene (1979): one confusion matrix per rater, fitted by EM on integer-coded labels.

The EM schedule, initialisation, floors and stopping rule follow crowd-kit's `DawidSkene`
(majority-vote start, counts floored at 1e-10 for the labels a rater used, stop when crowd-kit's
per-label lower bound improves by less than `tol`), so posteriors agree with it at equal
iterations; every step here is one sparse product instead of a pandas group-by.
"""

from __future__ import annotations

import numpy as np

from ._inputs import LabelData, softmax_rows
from .base import LabelModel

EPS = 1e-10  # crowd-kit's floor for counts, priors and posteriors


class DawidSkene(LabelModel):
    """Dawid–Skene label model; `fit` on (items, raters, labels) integer codes or crowd-kit's DataFrame.

    Learned: `posteriors_` (n_items, K), `labels_` (argmax), `priors_` (K,), `confusions_`
    (n_raters, K, K), rows = true class, columns = given label, `rater_accuracy_` (n_raters,):
    weighted mean posterior of the label each rater gave (NaN without labels), `n_iter_`,
    `log_likelihood_` (marginal log-likelihood of the labels at the final parameters) and
    `lower_bound_history_` (crowd-kit's per-label objective, the stopping criterion).
    Items without labels get posterior `priors_` (gold items: their class) and do not enter `priors_`.
    """

    def __init__(self, n_iter: int = 100, tol: float = 1e-5, init: str = "majority") -> None:
        self.n_iter = n_iter
        self.tol = tol
        self.init = init

    def _check_params(self) -> None:
        if self.init != "majority":
            raise ValueError(f"init: only 'majority' is supported, got {self.init!r}")
        if int(self.n_iter) != self.n_iter or self.n_iter < 0:
            raise ValueError(f"n_iter: expected a non-negative integer, got {self.n_iter!r}")

    def _fit(self, data: LabelData) -> None:
        """EM from majority-vote posteriors; gold items (item -> class) stay clamped to their class throughout."""
        post = data.clamp_gold(data.vote_fractions())
        priors = self._priors(data, post)
        counts, log_conf = self._m_step(data, post)
        history: list[float] = []
        best = -np.inf
        for _ in range(int(self.n_iter)):
            post = data.clamp_gold(self._e_step(data, priors, log_conf)[0])
            priors = self._priors(data, post)
            counts, log_conf = self._m_step(data, post)
            bound = _lower_bound(data, post, priors, counts, log_conf)
            history.append(bound)
            if bound - best < self.tol:
                break
            best = bound

        # Items nobody labelled carry no evidence: their posterior is the final prior (gold stays gold).
        post[data.observed == 0] = priors
        data.clamp_gold(post)
        self.posteriors_ = post
        self.labels_ = post.argmax(axis=1)
        self.priors_ = priors
        self.confusions_ = self._confusions(data, log_conf)
        self.rater_accuracy_ = _expected_accuracy(data, counts)
        self.n_iter_ = len(history)
        self.lower_bound_history_ = history
        self.log_likelihood_ = _log_likelihood(data, priors, log_conf)

    def _m_step(self, data: LabelData, post: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Confusions from expected counts: returns (counts, log P(label | class)) as (R*K, K) arrays."""
        r, k = data.n_raters, data.n_classes
        counts = data.design_t @ post  # [(rater, label), class] expected counts
        present = data.pair_present[:, None]
        # crowd-kit floors only the (rater, label) rows that occur, then normalizes over them.
        floored = np.where(present, np.maximum(counts, EPS), 0.0).reshape(r, k, k)
        total = floored.sum(axis=1, keepdims=True)
        conf = np.divide(floored, total, out=np.full_like(floored, 1.0 / k), where=total > 0)
        log_conf = np.log(conf, out=np.zeros_like(conf), where=conf > 0)
        return counts, log_conf.reshape(r * k, k)

    @staticmethod
    def _e_step(data: LabelData, priors: np.ndarray, log_conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posteriors and log-evidence per item from priors and log confusions."""
        log_joint = data.design @ log_conf + np.log(np.maximum(priors, EPS))
        return softmax_rows(log_joint)

    @staticmethod
    def _priors(data: LabelData, post: np.ndarray) -> np.ndarray:
        # Mean over items that have labels (crowd-kit only knows those items).
        return (data.observed @ post) / data.observed.sum()

    @staticmethod
    def _confusions(data: LabelData, log_conf: np.ndarray) -> np.ndarray:
        r, k = data.n_raters, data.n_classes
        conf = np.where(data.pair_present[:, None], np.exp(log_conf), 0.0).reshape(r, k, k)
        no_labels = data.rater_weight == 0
        conf[no_labels] = 1.0 / k
        return conf.transpose(0, 2, 1).copy()  # rows = true class, columns = given label


def _lower_bound(
    data: LabelData, post: np.ndarray, priors: np.ndarray, counts: np.ndarray, log_conf: np.ndarray
) -> float:
    """crowd-kit's stopping objective: expected complete log-likelihood plus entropy, per label.

    As in crowd-kit, the prior term is counted once per label (not once per item).
    """
    joint = float((counts * log_conf).sum())
    joint += float(data.item_weight @ post @ np.log(np.maximum(priors, EPS)))  # item_weight is 0 off the data
    entropy = -float((data.observed @ (post * np.log(np.maximum(post, EPS)))).sum())
    return (joint + entropy) / data.total_weight


def _expected_accuracy(data: LabelData, counts: np.ndarray) -> np.ndarray:
    """Per rater: weighted mean posterior probability of the label they gave (NaN if no labels)."""
    r, k = data.n_raters, data.n_classes
    hits = counts.reshape(r, k, k)[:, np.arange(k), np.arange(k)].sum(axis=1)
    return np.divide(hits, data.rater_weight, out=np.full(r, np.nan), where=data.rater_weight > 0)


def _log_likelihood(data: LabelData, priors: np.ndarray, log_conf: np.ndarray) -> float:
    """Marginal log-likelihood of the observed labels (gold items: at their known class)."""
    log_joint = data.design @ log_conf + np.log(np.maximum(priors, EPS))
    _, per_item = softmax_rows(log_joint)
    if data.gold_items.size:
        per_item[data.gold_items] = log_joint[data.gold_items, data.gold_labels]
    return float(data.observed @ per_item)
