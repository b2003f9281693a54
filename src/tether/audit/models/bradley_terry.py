"""Bradley–Terry with Davidson ties and an explicit position (first-shown) effect.

For a comparison of a against b, with a shown first, the log-odds of a winning is
d = score[a] - score[b] + position + rater_position[rater] (the sign flips when b is shown first).
Davidson (1970) ties: P(a) : P(b) : P(tie) = exp(d/2) : exp(-d/2) : nu. Without ties (`ties=None`)
the model is logistic and a tie counts as half a win for each side. Scores and per-rater
deviations carry Gaussian (L2) priors, so players seen in one or two comparisons stay finite
and the MAP estimate is unique; the global position and tie parameters are not penalized.
Fitted by L-BFGS on the exact gradient, accumulated with np.bincount (O(comparisons) memory).

Why `l2=1.0` (a standard-normal prior on log-strengths) by default: in the audit's typical data
most responses appear in one or two comparisons, and there a weak prior lets the scores absorb
the outcomes and biases the shared parameters. Measured on 100k comparisons, one per player,
planted position 0.3 and nu 0.4: l2=0.01 gives position 0.87 and nu 1.85; l2=1 gives 0.25 and
0.36 (MAP shrinkage attenuates a little). With hundreds of comparisons per player the prior's
pull on a score is about l2 * score / (comparisons / 4), i.e. negligible.

Identification. The likelihood says nothing about the position effect when every comparison was shown
in the same display order (the first-shown bonus and the strengths explain the same wins), nor about
Davidson's nu when there is no tie (its estimate runs to 0) or nothing but ties (it runs to infinity,
and the strengths and the position with it). `fit` then leaves the parameter out (position_ = NaN;
tie_ = 0 without ties, which is the logistic model; tie_ = inf and zero strengths with only ties), sets
`position_identified_` / `tie_identified_` to False and warns with an `IdentificationWarning`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from ._inputs import as_codes, as_weights, check_same_length, resolve_count, single_thread_blas
from .base import Estimator, check_frame, factorize, is_frame, lookup

TIES = ("davidson", None)
POSITIONS = ("global", "per_rater", None)


class IdentificationWarning(UserWarning):
    """A parameter the data cannot identify was left out of the fit (see the module docs)."""


class BradleyTerryObjective:
    """Negative log-posterior of the model and its gradient, on a flat parameter vector.

    Layout: [scores (n_players), position (1, unless position is None), rater deviations
    (n_raters, only for "per_rater"), log nu (1, only for Davidson ties)].
    """

    def __init__(
        self,
        a: np.ndarray,
        b: np.ndarray,
        sign: np.ndarray,
        outcome: np.ndarray,
        raters: np.ndarray | None,
        weight: np.ndarray,
        *,
        n_players: int,
        n_raters: int,
        ties: str | None,
        position: str | None,
        l2: float,
        rater_l2: float,
    ) -> None:
        self.a, self.b, self.sign, self.raters, self.weight = a, b, sign, raters, weight
        self.outcome = outcome
        self.n_players, self.n_raters = n_players, n_raters
        self.ties, self.position, self.l2, self.rater_l2 = ties, position, l2, rater_l2
        self.n_params = (
            n_players + (position is not None) + (n_raters if position == "per_rater" else 0) + (ties is not None)
        )
        self._work: tuple[np.ndarray, ...] | None = None
        if ties is None:
            # Logistic target: 1 = a wins, 0 = b wins, 1/2 = tie.
            target = np.array([1.0, 0.0, 0.5])[outcome]
            self.weighted_target = weight * target
            self.half_minus_target = 0.5 - target
        else:
            self.direction = np.array([1.0, -1.0, 0.0])[outcome]
            self.weighted_direction = weight * self.direction
            self.tie_total = float(weight[outcome == 2].sum())

    def restricted(self, *, ties: str | None, position: str | None) -> BradleyTerryObjective:
        """The same data under a model with fewer parameters (for what the data cannot identify)."""
        return BradleyTerryObjective(
            self.a, self.b, self.sign, self.outcome, self.raters, self.weight, n_players=self.n_players,
            n_raters=self.n_raters, ties=ties, position=position, l2=self.l2, rater_l2=self.rater_l2,
        )

    def identification(self) -> tuple[bool, bool, list[str]]:
        """(position identified, tie parameter identified, why not) on the comparisons with weight > 0."""
        used = self.weight > 0
        notes = []
        position_ok = self.position is None or np.unique(self.sign[used]).size > 1
        if not position_ok:
            notes.append("every comparison was shown in one display order, so the position effect cannot be "
                         "told apart from the strengths: fitted without it (position_ = nan)")
        tie_ok = True
        if self.ties is not None:
            n_ties = int((self.outcome[used] == 2).sum())
            if n_ties == 0:
                tie_ok = False
                notes.append("no comparison is a tie, so Davidson's tie parameter is not identified (it runs to "
                             "0): fitted with nu = 0 (tie_ = 0), which is the model without ties")
            elif n_ties == int(used.sum()):
                tie_ok = False
                if self.position is not None and position_ok:
                    position_ok = False
                notes.append("every comparison is a tie, so the tie parameter runs to infinity and neither the "
                             "strengths nor the position effect are identified: tie_ = inf, zero strengths")
        return position_ok, tie_ok, notes

    def unpack(self, x: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, float]:
        """Split x into (scores, position, rater deviations, log nu); absent parts are zero."""
        p = self.n_players
        scores, at = x[:p], p
        position = 0.0
        if self.position is not None:
            position, at = float(x[at]), at + 1
        deviations = np.zeros(self.n_raters)
        if self.position == "per_rater":
            deviations, at = x[at : at + self.n_raters], at + self.n_raters
        log_nu = float(x[at]) if self.ties is not None else 0.0
        return scores, position, deviations, log_nu

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Return (value, gradient) at x."""
        scores, position, deviations, log_nu = self.unpack(x)
        # Preallocated work arrays: on millions of comparisons, fresh temporaries (page faults) cost
        # more than the arithmetic, so every per-comparison step writes into one of four buffers.
        d, t1, q, t2 = self._buffers()
        np.subtract(scores[self.a], scores[self.b], out=d)  # fancy indexing beats np.take(out=) here
        if self.position == "per_rater":
            np.take(deviations, self.raters, out=t1)
            t1 += position
            t1 *= self.sign
            d += t1
        elif self.position == "global":
            d += np.multiply(self.sign, position, out=t1)
        w = self.weight
        if self.ties is not None:
            d *= 0.5  # Davidson works with u = d / 2; d holds u from here on
        np.abs(d, out=t1)
        np.exp(np.negative(t1, out=q), out=q)  # q = exp(-|.|), the only exponential per comparison
        grad_tie = 0.0
        if self.ties is None:
            # softplus(d) - target * d, with softplus(d) = (d + |d|) / 2 + log1p(exp(-|d|)).
            np.add(q, 1.0, out=t2)
            value = 0.5 * float(w @ d + w @ t1) + float(w @ np.log(t2, out=t1)) - float(self.weighted_target @ d)
            # sigmoid(d) - target = sign(d) (1 - q) / (2 (1 + q)) + 1/2 - target
            np.subtract(1.0, q, out=q)
            q /= t2
            np.copysign(q, d, out=q)
            q *= 0.5
            q += self.half_minus_target
        else:
            nu = float(np.exp(log_nu))
            # Z = exp(|u|) (1 + q^2 + nu q); P(winner side) - P(loser side) = (1 - q^2) / Z'; P(tie) = nu q / Z'.
            np.add(q, nu, out=t2)
            t2 *= q
            t2 += 1.0
            value = float(w @ t1) + float(w @ np.log(t2, out=t1)) - float(self.weighted_direction @ d)
            value -= log_nu * self.tie_total
            grad_tie = nu * float(w @ np.divide(q, t2, out=t1)) - self.tie_total
            q *= q
            np.subtract(1.0, q, out=q)
            q /= t2
            np.copysign(q, d, out=q)
            q -= self.direction
            q *= 0.5
        dd = np.multiply(q, w, out=q)
        value += 0.5 * self.l2 * float(scores @ scores)
        grad = [np.bincount(self.a, dd, self.n_players) - np.bincount(self.b, dd, self.n_players) + self.l2 * scores]
        if self.position is not None:
            signed = np.multiply(dd, self.sign, out=t1)
            grad.append(np.array([signed.sum()]))
        if self.position == "per_rater":
            value += 0.5 * self.rater_l2 * float(deviations @ deviations)
            grad.append(np.bincount(self.raters, signed, self.n_raters) + self.rater_l2 * deviations)
        if self.ties is not None:
            grad.append(np.array([grad_tie]))
        return value, np.concatenate(grad)

    def _buffers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if self._work is None:
            self._work = tuple(np.empty(len(self.a)) for _ in range(4))  # type: ignore[assignment]
        return self._work  # type: ignore[return-value]

    def initial(self) -> tuple[np.ndarray, np.ndarray]:
        """Starting point and a diagonal scale ~ sqrt(curvature), so L-BFGS sees a well-conditioned problem."""
        w = self.weight
        total = float(w.sum())
        x0 = np.zeros(self.n_params)
        curv = 0.25
        tie_rate = 0.0
        if self.ties is not None:
            tie_rate = float(np.clip(self.tie_total / total, 1e-3, 0.9))
            x0[-1] = np.log(2 * tie_rate / (1 - tie_rate))  # nu that matches the tie rate at d = 0
            curv = 0.25 * (1 - tie_rate)
        exposure = np.bincount(self.a, w, self.n_players) + np.bincount(self.b, w, self.n_players)
        scale = [curv * exposure + self.l2]
        if self.position is not None:
            scale.append(np.array([curv * total]))
        if self.position == "per_rater":
            scale.append(curv * np.bincount(self.raters, w, self.n_raters) + self.rater_l2)
        if self.ties is not None:
            scale.append(np.array([max(tie_rate * (1 - tie_rate), 0.01) * total]))
        return x0, np.sqrt(np.concatenate(scale))


class BradleyTerry(Estimator):
    """Bradley–Terry–Davidson model with a position effect; `fit` on integer codes or crowd-kit's pairwise frame.

    Learned: `scores_` (n_players,): centred log-strengths, `players_` (what the codes stand for:
    `arange` for codes, sorted names for a frame), `position_` (log-odds bonus of the
    first-shown response), `rater_position_` (n_raters,): each rater's deviation from `position_`,
    `tie_` (Davidson nu; 0 without ties), `converged_`, `n_iter_`, `objective_` (negative log-posterior),
    `position_identified_` and `tie_identified_` (False: the data cannot identify it, see the module docs).
    `tol` bounds the L-BFGS gradient after scaling each parameter by the square root of its initial
    curvature, i.e. roughly the distance to the optimum in standard errors.
    """

    def __init__(
        self,
        ties: str | None = "davidson",
        position: str | None = "global",
        l2: float = 1.0,
        rater_l2: float = 1.0,
        max_iter: int = 1000,
        tol: float = 1e-4,
    ) -> None:
        self.ties = ties
        self.position = position
        self.l2 = l2
        self.rater_l2 = rater_l2
        self.max_iter = max_iter
        self.tol = tol

    def fit(
        self,
        a: Any,
        b: np.ndarray | None = None,
        shown_first: np.ndarray | None = None,
        outcome: np.ndarray | None = None,
        raters: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
        n_players: int | None = None,
        n_raters: int | None = None,
    ) -> BradleyTerry:
        """Fit the MAP estimate. shown_first: 0 = a shown first, 1 = b; outcome: 0 = a wins, 1 = b wins, 2 = tie.

        `a` may instead be crowd-kit's pairwise DataFrame: `worker`, `left`, `right`, `label` (the winner,
        left or right; no ties) and optionally `shown_first` (0 = left, 1 = right; without it, left).
        """
        players = None
        if is_frame(a):
            if any(x is not None for x in (b, shown_first, outcome, raters, n_players, n_raters)):
                raise ValueError("b, shown_first, outcome, raters, n_players, n_raters: give them only with codes "
                                 "(a DataFrame's columns define them)")
            a, b, shown_first, outcome, raters, players = _pair_codes(a)
        full = self.objective(a, b, shown_first, outcome, raters, sample_weight, n_players, n_raters)
        self.position_identified_, self.tie_identified_, notes = full.identification()
        for note in notes:
            warnings.warn(f"BradleyTerry: {note}.", IdentificationWarning, stacklevel=2)
        all_ties = self.ties is not None and not self.tie_identified_ and full.tie_total > 0
        objective = full.restricted(ties=None if not self.tie_identified_ else self.ties,
                                    position=self.position if self.position_identified_ else None)
        if all_ties:
            x, self.objective_, self.n_iter_, self.converged_ = np.zeros(objective.n_params), 0.0, 0, True
        else:
            x = self._minimize(objective)
        scores, position, deviations, log_nu = objective.unpack(x)
        self.scores_ = scores - scores.mean()
        self.position_ = position if self.position_identified_ or self.position is None else float("nan")
        self.rater_position_ = deviations.copy() if self.position_identified_ else np.full(full.n_raters, np.nan)
        if self.ties is None:
            self.tie_ = 0.0
        elif self.tie_identified_:
            self.tie_ = float(np.exp(log_nu))
        else:
            self.tie_ = float("inf") if all_ties else 0.0
        self.n_players_, self.n_raters_ = full.n_players, full.n_raters
        self.players_ = np.arange(full.n_players) if players is None else players
        return self

    def _minimize(self, objective: BradleyTerryObjective) -> np.ndarray:
        """L-BFGS on the scaled problem; sets converged_, n_iter_, objective_ and returns the solution."""
        x0, scale = objective.initial()

        def scaled(z: np.ndarray) -> tuple[float, np.ndarray]:
            value, grad = objective(z / scale)
            return value, grad / scale

        # gtol acts on the scaled gradient, i.e. roughly the distance to the optimum in standard errors.
        with single_thread_blas():
            result = minimize(
                scaled, x0 * scale, jac=True, method="L-BFGS-B",
                options={"maxiter": int(self.max_iter), "gtol": self.tol, "ftol": 1e-15, "maxcor": 20},
            )
        grad_norm = float(np.abs(result.jac).max()) if result.jac.size else 0.0
        self.converged_ = bool(result.success) or grad_norm <= 10 * self.tol
        if not self.converged_:
            warnings.warn(
                f"BradleyTerry: L-BFGS stopped after {result.nit} iterations ({result.message}); "
                f"scaled gradient {grad_norm:.2e} > tol={self.tol}. Raise max_iter or tol.",
                RuntimeWarning,
                stacklevel=3,
            )
        self.objective_ = float(result.fun)
        self.n_iter_ = int(result.nit)
        return result.x / scale

    def fit_predict(self, data: Any) -> Any:
        """crowd-kit's `fit_predict` for a pairwise DataFrame: the fitted scores, a Series by player."""
        import pandas as pd

        return pd.Series(self.fit(data).scores_, index=pd.Index(self.players_, name="label"), name="agg_score")

    def predict_proba(self, a: Any, b: np.ndarray | None = None) -> Any:
        """(n, 3) position-free probabilities [a wins, b wins, tie] under the fitted scores.

        For a DataFrame with `left` and `right` columns: a DataFrame with columns left, right, tie.
        """
        self._check_fitted()
        if is_frame(a):
            import pandas as pd

            check_frame(a, ("left", "right"))
            codes = [lookup(f"data: {side} player", self.players_, a[side]) for side in ("left", "right")]
            return pd.DataFrame(self.predict_proba(*codes), index=a.index, columns=["left", "right", "tie"])
        a_codes, b_codes = as_codes("a", a), as_codes("b", b)
        check_same_length(a=a_codes, b=b_codes)
        for name, codes in (("a", a_codes), ("b", b_codes)):
            resolve_count("n_players", self.n_players_, codes, name)
        d = self.scores_[a_codes] - self.scores_[b_codes]
        if self.ties is None:
            win = expit(d)
            return np.column_stack([win, 1.0 - win, np.zeros_like(d)])
        if np.isinf(self.tie_):  # fitted on nothing but ties
            return np.column_stack([np.zeros_like(d), np.zeros_like(d), np.ones_like(d)])
        u = 0.5 * d
        log_nu = np.log(self.tie_) if self.tie_ > 0 else -np.inf
        top = np.maximum(np.abs(u), log_nu)
        parts = np.column_stack([np.exp(u - top), np.exp(-u - top), np.exp(log_nu - top)])
        return parts / parts.sum(axis=1, keepdims=True)

    def _check_params(self) -> None:
        if self.ties not in TIES:
            raise ValueError(f"ties: expected one of {TIES}, got {self.ties!r}")
        if self.position not in POSITIONS:
            raise ValueError(f"position: expected one of {POSITIONS}, got {self.position!r}")
        if not (self.l2 > 0 and self.rater_l2 > 0):
            raise ValueError(f"l2, rater_l2: must be > 0 (the prior makes sparse data identifiable), got {self.l2}, "
                             f"{self.rater_l2}")

    def objective(
        self,
        a: np.ndarray,
        b: np.ndarray,
        shown_first: np.ndarray,
        outcome: np.ndarray,
        raters: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
        n_players: int | None = None,
        n_raters: int | None = None,
    ) -> BradleyTerryObjective:
        """The validated negative log-posterior that `fit` minimizes (for diagnostics and gradient checks)."""
        self._check_params()
        a_codes, b_codes = as_codes("a", a), as_codes("b", b)
        first, result = as_codes("shown_first", shown_first), as_codes("outcome", outcome)
        n = check_same_length(a=a_codes, b=b_codes, shown_first=first, outcome=result)
        if n == 0:
            raise ValueError("a: no comparisons to fit on")
        _check_below("shown_first", first, 2, "0 = a shown first, 1 = b shown first")
        _check_below("outcome", result, 3, "0 = a wins, 1 = b wins, 2 = tie")
        same = a_codes == b_codes
        if same.any():
            at = int(np.argmax(same))
            raise ValueError(f"b: comparison {at} compares player {a_codes[at]} with itself")
        players = resolve_count("n_players", n_players, np.concatenate([a_codes, b_codes]), "a/b")
        rater_codes = None
        if raters is not None:
            rater_codes = as_codes("raters", raters)
            check_same_length(a=a_codes, raters=rater_codes)
            n_raters = resolve_count("n_raters", n_raters, rater_codes, "raters")
        elif self.position == "per_rater":
            raise ValueError("raters: required when position='per_rater'")
        else:
            n_raters = 0 if n_raters is None else n_raters
        return BradleyTerryObjective(
            a_codes, b_codes, 1.0 - 2.0 * first, result, rater_codes, as_weights(sample_weight, n),
            n_players=players, n_raters=int(n_raters), ties=self.ties, position=self.position,
            l2=float(self.l2), rater_l2=float(self.rater_l2),
        )


def _pair_codes(data: Any) -> tuple[np.ndarray, ...]:
    """crowd-kit's pairwise frame as codes (a = left, b = right) plus the sorted player names."""
    import pandas as pd

    check_frame(data, ("worker", "left", "right", "label", *(["shown_first"] if "shown_first" in data else [])))
    codes, players = factorize(pd.concat([data["left"], data["right"]], ignore_index=True))
    n = len(data)
    won_left, won_right = ((data["label"] == data[side]).to_numpy() for side in ("left", "right"))
    if not (won_left | won_right).all():
        at = int(np.argmax(~(won_left | won_right)))
        raise ValueError(f"data: label {data['label'].iloc[at]!r} in row {data.index[at]!r} is neither its left "
                         "nor its right")
    first = data["shown_first"].to_numpy() if "shown_first" in data else np.zeros(n, dtype=np.int64)
    return codes[:n], codes[n:], first, won_right.astype(np.int64), factorize(data["worker"])[0], players


def _check_below(name: str, codes: np.ndarray, limit: int, meaning: str) -> None:
    if codes.size and codes.max() >= limit:
        at = int(np.argmax(codes >= limit))
        raise ValueError(f"{name}: value {codes[at]} at index {at} is not one of {list(range(limit))} ({meaning})")
