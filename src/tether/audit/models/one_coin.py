"""One-coin Dawid–Skene: each rater is right with probability s_r, and errs uniformly otherwise.

P(label l | class c, rater r) = s_r if l == c else (1 - s_r) / (K - 1). The M-step for s_r is the
rater's expected accuracy under the posteriors, which is the maximum-likelihood update of this
textbook model (Zhang et al. 2016) and also crowd-kit's `OneCoinDawidSkene` (whose confusions
are clipped to [1e-10, 1 - 1e-10]; so are these). Same EM schedule and stopping as `DawidSkene`.
"""

from __future__ import annotations

import numpy as np

from ._inputs import LabelData
from .dawid_skene import EPS, DawidSkene, _expected_accuracy


class OneCoinDawidSkene(DawidSkene):
    """Dawid–Skene with one accuracy per rater; adds `skills_` (n_raters,)."""

    def _fit(self, data: LabelData) -> None:
        super()._fit(data)
        self.skills_ = self.rater_accuracy_  # NaN for raters without labels

    def _m_step(self, data: LabelData, post: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r, k = data.n_raters, data.n_classes
        counts = data.design_t @ post
        skills = _expected_accuracy(data, counts)
        skills = np.where(np.isnan(skills), 1.0 / k, skills)  # raters without labels: never used
        conf = np.repeat(((1.0 - skills) / (k - 1))[:, None, None], k, axis=1).repeat(k, axis=2)
        conf[:, np.arange(k), np.arange(k)] = skills[:, None]
        conf = np.clip(conf, EPS, 1.0 - EPS)
        return counts, np.log(conf).reshape(r * k, k)

    @staticmethod
    def _confusions(data: LabelData, log_conf: np.ndarray) -> np.ndarray:
        r, k = data.n_raters, data.n_classes
        conf = np.exp(log_conf).reshape(r, k, k)
        conf[data.rater_weight == 0] = 1.0 / k
        return conf.transpose(0, 2, 1).copy()
