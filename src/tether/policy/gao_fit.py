"""Gao et al. (2022) scaling forms of the gold (or held-out) reward against d = sqrt(KL), fitted with uncertainty.

    RL:          R(d) = d (alpha - beta log d)      turnover d* = exp(alpha / beta - 1)
    best-of-n:   R(d) = d (alpha - beta d)          turnover d* = alpha / (2 beta)

R is the gain over the starting policy (R(0) = 0: the forms have no intercept). Both forms are linear in
(alpha, beta) — R = alpha * d - beta * d log d, or alpha * d - beta * d^2 — so ordinary least squares gives the
estimates and their covariance ``s^2 (X'X)^-1`` exactly, without an iterative fit. The turnover is a non-linear
function of (alpha, beta): its interval comes from a parametric bootstrap of the estimates' normal distribution
(the delta method fails where beta is near 0 and d* explodes, which is the usual case early in a run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Form = Literal["rl", "bon"]
FORMS = ("rl", "bon")


@dataclass
class GaoFit:
    """Estimates, standard errors, 95% intervals, and the turnover (argmax of the fitted curve) with its interval.

    `turnover` is None where the fitted curve never turns over (beta <= 0); its interval's bounds are nan where
    fewer than 2.5% of the bootstrap draws turn over."""

    form: str
    alpha: float
    beta: float
    alpha_se: float
    beta_se: float
    cov: np.ndarray
    n: int
    turnover: float | None
    turnover_ci: tuple[float, float]

    def interval(self, name: str, z: float = 1.96) -> tuple[float, float]:
        value, se = (self.alpha, self.alpha_se) if name == "alpha" else (self.beta, self.beta_se)
        return value - z * se, value + z * se

    def predict(self, d: np.ndarray | Sequence[float] | float) -> np.ndarray:
        return curve(self.form, np.asarray(d, dtype=np.float64), self.alpha, self.beta)

    def to_dict(self) -> dict:
        return {"form": self.form, "alpha": self.alpha, "beta": self.beta, "alpha_se": self.alpha_se,
                "beta_se": self.beta_se, "n": self.n, "turnover": self.turnover,
                "turnover_lo": self.turnover_ci[0], "turnover_hi": self.turnover_ci[1]}


def _features(form: str, d: np.ndarray) -> np.ndarray:
    if form == "rl":
        with np.errstate(divide="ignore", invalid="ignore"):
            dlogd = np.where(d > 0, d * np.log(np.where(d > 0, d, 1.0)), 0.0)  # d log d -> 0 as d -> 0
        return np.stack([d, -dlogd], 1)
    if form == "bon":
        return np.stack([d, -d * d], 1)
    raise ValueError(f"form must be one of {', '.join(FORMS)}, got {form!r}")


def curve(form: str, d: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """The form's value at each d."""
    return _features(form, np.atleast_1d(np.asarray(d, dtype=np.float64))) @ np.array([alpha, beta])


def turnover(form: str, alpha: float, beta: float) -> float | None:
    """The d that maximises the curve; None where it never turns over (beta <= 0)."""
    if beta <= 0:
        return None
    if form == "rl":
        return float(np.exp(min(alpha / beta - 1.0, 700.0)))
    return alpha / (2.0 * beta)


def fit_gao(d: Sequence[float] | np.ndarray, gain: Sequence[float] | np.ndarray, form: Form = "rl", *,
            draws: int = 2000, seed: int = 0) -> GaoFit:
    """Least-squares fit of `form` to gains at d = sqrt(KL); at least 3 points with d > 0 (one residual degree)."""
    d_arr = np.asarray(d, dtype=np.float64)
    y = np.asarray(gain, dtype=np.float64)
    if d_arr.shape != y.shape or d_arr.ndim != 1:
        raise ValueError(f"d and gain must be 1-D of one length, got shapes {d_arr.shape} and {y.shape}")
    if np.any(d_arr < 0) or not np.all(np.isfinite(d_arr)) or not np.all(np.isfinite(y)):
        raise ValueError("d must be finite and >= 0 (d = sqrt(KL)); gains finite")
    keep = d_arr > 0  # at d = 0 both forms are 0 whatever the parameters: no information
    x, y = _features(form, d_arr[keep]), y[keep]
    n = len(y)
    if n < 3:
        raise ValueError(f"a Gao fit needs at least 3 points with sqrt(KL) > 0, got {n}")
    xtx_inv = np.linalg.pinv(x.T @ x)
    coef = xtx_inv @ x.T @ y
    resid = y - x @ coef
    s2 = float(resid @ resid) / (n - 2)
    cov = s2 * xtx_inv
    alpha, beta = (float(c) for c in coef)
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    sample = np.random.default_rng(seed).multivariate_normal(coef, cov, size=draws, method="svd")
    turns = np.array([t if (t := turnover(form, a, b)) is not None else np.inf for a, b in sample])
    ordered = np.sort(turns)  # order statistics, not np.quantile: it interpolates inf - inf into nan warnings
    lo, hi = ordered[int(0.025 * (draws - 1))], ordered[int(np.ceil(0.975 * (draws - 1)))]
    ci = (float(lo) if np.isfinite(lo) else float("nan"), float(hi) if np.isfinite(hi) else float("nan"))
    return GaoFit(form, alpha, beta, float(se[0]), float(se[1]), cov, n, turnover(form, alpha, beta), ci)
