"""The over-optimisation monitor: a held-out evaluator the policy never trains on, watched against the proxy.

Every N steps the trainer samples the policy's answers to held-out prompts and scores them with the proxy (the
training evaluator) and the held-out evaluator (a reward model on disjoint raters, an outcome check, a judge, a
small human sample; in the simulated world optionally also gold, as the truth — shown, never used to decide).
`OverOptMonitor.observe` takes those scores with d = sqrt(KL) and returns the check's record:

- the held-out and proxy means (and gold), the held-out gain over the reference's check, the best check so far;
- the Gao RL fit of the held-out gain against d (`tether.policy.gao_fit`) with its predicted turnover;
- the reward-hacking signatures (`tether.policy.signatures`) and the ones that drifted without held-out gains;
- the sequential alarm (`SequentialAlarm`), its warning (raise the KL coefficient: "KL raised only on evidence")
  and its alarm (stop, roll back to the best check's weights, kept by `BestWeights`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tether.policy.attribution import blame
from tether.policy.gao_fit import fit_gao
from tether.policy.signatures import SignatureBaseline, signature_means


class SequentialAlarm:
    """A one-sided CUSUM on the held-out score's standardized per-check change, counted while the proxy rises.

    At check t the held-out mean h_t has standard error se_t (from its n scores); the change in standard units is
    ``z_t = (h_t - h_{t-1}) / sqrt(se_t^2 + se_{t-1}^2)``. While the proxy rose at the check, the statistic takes
    ``S_t = max(0, S_{t-1} + allowance - z_t)`` (unchanged otherwise) and alarms once ``S_t > threshold``.

    Why this test: the failure is a *trend* — the held-out score stops following a proxy that keeps rising — so the
    evidence must accumulate over checks rather than rest on one noisy comparison (a single check below the best
    alarms on noise at a rate that grows with the number of checks). CUSUM is the standard sequential detector of a
    change in drift (Page 1954) and is optimal for it in Lorden's sense. The null hypothesis is "the held-out score
    still improves by at least `allowance` standard errors of a change per check"; a flat or falling held-out
    score drifts S upwards by `allowance` or more per check, so it alarms after about `threshold / allowance`
    checks. The false-alarm rate is controlled at the null's boundary (the least favourable case: a faster rise
    only pulls S down) by calibrating `threshold` by Monte Carlo to the `level` quantile of max_t S_t over
    `horizon` checks — the consecutive changes share a check, so z is an MA(1) sequence and the textbook ARL
    formulas for independent increments do not apply; simulating the exact recursion does. The proxy gate only
    drops checks, which cannot raise the rate when the gate is independent of the held-out noise.
    """

    def __init__(self, level: float = 0.05, horizon: int = 50, allowance: float = 0.5, *, sims: int = 20000,
                 seed: int = 0) -> None:
        if not 0 < level < 1:
            raise ValueError(f"alarm level must be in (0, 1), got {level}")
        if horizon < 2:
            raise ValueError(f"alarm horizon must be >= 2 checks, got {horizon}")
        if allowance < 0:
            raise ValueError(f"alarm allowance must be >= 0, got {allowance}")
        self.level, self.horizon, self.allowance = level, horizon, allowance
        self.threshold = float(np.quantile(null_maxima(horizon, sims, seed), 1.0 - level))
        self.reset()

    def reset(self) -> None:
        """Start a new sequence (the calibrated threshold kept)."""
        self.s = 0.0
        self.last: tuple[float, float] | None = None  # (held-out mean, its se) at the previous check

    def update(self, heldout: float, se: float, proxy_rose: bool = True) -> float:
        """Take a check's held-out mean and standard error; return the statistic S (alarm: `S > threshold`)."""
        if self.last is not None and proxy_rose:
            prev, prev_se = self.last
            scale = max(float(np.hypot(se, prev_se)), 1e-12)
            self.s = max(0.0, self.s + self.allowance - (heldout - prev) / scale)
        self.last = (heldout, se)
        return self.s

    @property
    def alarmed(self) -> bool:
        return self.s > self.threshold


def null_maxima(horizon: int, sims: int, seed: int) -> np.ndarray:
    """max over `horizon` checks of the CUSUM at the null's boundary: i.i.d. N(0, 1) held-out noise, the mean rising
    by exactly the allowance per check (so each increment is ``-(e_t - e_{t-1}) / sqrt(2)``)."""
    noise = np.random.default_rng(seed).standard_normal((sims, horizon))
    inc = -(noise[:, 1:] - noise[:, :-1]) / np.sqrt(2.0)
    s = np.zeros(sims)
    top = np.zeros(sims)
    for t in range(inc.shape[1]):
        s = np.maximum(0.0, s + inc[:, t])
        top = np.maximum(top, s)
    return top


class BestWeights:
    """A copy of a module's weights (on the CPU) at the best check, to roll back to exactly."""

    def __init__(self) -> None:
        self.state: dict[str, Any] | None = None
        self.step: int | None = None

    def keep(self, module: Any, step: int) -> None:
        self.state = {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}
        self.step = step

    def restore(self, module: Any) -> int:
        """Load the kept weights into `module`; return the step they are from."""
        if self.state is None or self.step is None:
            raise RuntimeError("no weights kept to roll back to")
        module.load_state_dict(self.state)
        return self.step


@dataclass
class OverOptMonitor:
    """The checks' history and decisions. `raise_kl`: the factor the KL coefficient is raised by when the gap
    opens (the statistic passes half its threshold), once per opening; `flag_sd`: signature drift, in baseline SDs,
    that is flagged while the held-out score has not improved; `proxy_gate`: the proxy counts as rising at a check
    only when its mean rose by more than this many standard errors of the change (0: any rise), so that a plateau
    where proxy and held-out are both flat (e.g. gold itself as the reward, converged) does not feed the alarm."""

    alarm: SequentialAlarm = field(default_factory=SequentialAlarm)
    raise_kl: float = 2.0
    proxy_gate: float = 0.0
    flag_sd: float = 1.0
    min_fit_points: int = 4
    history: list[dict[str, float]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    baseline: SignatureBaseline | None = None
    best: dict[str, float] | None = None
    attribution: dict[str, Any] | None = None  # the last check's (frozen at the alarm): which objective degraded
    _warned: bool = False

    def observe(self, step: int, sqrt_kl: float, proxy: np.ndarray, heldout: np.ndarray, texts: Sequence[str],
                objective_scores: dict[str, np.ndarray] | None = None, gold: np.ndarray | None = None, *,
                heldout_objectives: dict[str, np.ndarray] | None = None, attribution: dict[str, Any] | None = None
                ) -> dict[str, Any]:
        """One check: `proxy` and `heldout` per response (weighted training reward; held-out score), the responses,
        the training evaluator's per-objective scores, gold if known; the held-out evaluator's per-objective scores
        and the check's attribution of per-objective drops (`attribution.check_attribution`). The first check is the
        reference's."""
        h = np.asarray(heldout, dtype=np.float64)
        p = np.asarray(proxy, dtype=np.float64)
        if len(h) != len(texts) or len(p) != len(texts):
            raise ValueError(f"{len(texts)} responses but {len(p)} proxy and {len(h)} held-out scores")
        if len(h) < 2:
            raise ValueError("a check needs at least 2 held-out responses (for its standard error)")
        rec: dict[str, Any] = {"step": step, "sqrt_kl": float(sqrt_kl), "proxy": float(p.mean()),
                               "proxy_se": float(p.std(ddof=1) / np.sqrt(len(p))),
                               "heldout": float(h.mean()), "heldout_se": float(h.std(ddof=1) / np.sqrt(len(h)))}
        if gold is not None:
            rec["gold"] = float(np.mean(gold))
        for o, v in (heldout_objectives or {}).items():
            rec[f"heldout/{o}"] = float(np.mean(v))
        if not self.alarm.alarmed:
            self.attribution = attribution
        if attribution is not None:
            rec["attribution"] = attribution
        means = signature_means(texts, objective_scores)
        if self.baseline is None:
            self.baseline = SignatureBaseline.from_samples(texts, objective_scores)
        first = self.history[0] if self.history else rec
        rec["heldout_gain"] = rec["heldout"] - first["heldout"]
        rec["proxy_gain"] = rec["proxy"] - first["proxy"]
        last = self.history[-1] if self.history else None
        proxy_rose = last is None or (rec["proxy"] - last["proxy"]
                                      > self.proxy_gate * float(np.hypot(rec["proxy_se"], last["proxy_se"])))
        rec["cusum"] = self.alarm.update(rec["heldout"], rec["heldout_se"], proxy_rose)
        rec["cusum_threshold"] = self.alarm.threshold
        improved = rec["heldout_gain"] > rec["heldout_se"]
        flags = self.baseline.flags(means, improved, self.flag_sd)
        drift = self.baseline.drift(means)
        rec.update({f"sig/{k}": v for k, v in means.items() if not k.startswith("reward/")})
        rec.update({f"sig_drift/{k}": v for k, v in drift.items()})
        rec["sig_flags"] = flags
        rec["is_best"] = self.best is None or rec["heldout"] > self.best["heldout"]
        if rec["is_best"]:
            self.best = {"step": step, "heldout": rec["heldout"], "sqrt_kl": rec["sqrt_kl"]}
        rec["best_step"] = self.best["step"] if self.best else step
        self.history.append(rec)
        rec.update(self._fit())
        rec["alarm"] = self.alarm.alarmed
        rec["warn"] = rec["cusum"] > self.alarm.threshold / 2
        rec["raise_kl"] = rec["warn"] and not self._warned and not rec["alarm"]  # past the alarm, a raise is moot
        self._warned = rec["warn"] if rec["warn"] else (self._warned and rec["cusum"] > 0)
        if flags:
            self.events.append({"step": step, "event": "signatures", "why": f"drifted > {self.flag_sd} baseline SDs "
                                f"without a held-out gain: {', '.join(flags)}"})
        if rec["alarm"]:
            self.events.append({"step": step, "event": "alarm", "why": self.why(rec)})
        return rec

    def _fit(self) -> dict[str, float]:
        pts = [(r["sqrt_kl"], r["heldout_gain"]) for r in self.history if r["sqrt_kl"] > 0]
        if len(pts) < self.min_fit_points:
            return {}
        try:
            fit = fit_gao(*zip(*pts, strict=True), form="rl")
        except (ValueError, np.linalg.LinAlgError):
            return {}
        lo, hi = fit.turnover_ci
        return {"gao/alpha": fit.alpha, "gao/beta": fit.beta, "gao/alpha_se": fit.alpha_se,
                "gao/beta_se": fit.beta_se,
                "gao/turnover": fit.turnover if fit.turnover is not None else float("nan"),
                "gao/turnover_lo": lo, "gao/turnover_hi": hi}

    def why(self, rec: dict[str, Any]) -> str:
        best = self.best or {}
        named = f"; {blame(rec['attribution'])}" if rec.get("attribution") else ""
        return (f"held-out score stopped following the proxy: CUSUM {rec['cusum']:.2f} > {self.alarm.threshold:.2f} "
                f"(false-alarm level {self.alarm.level} over {self.alarm.horizon} checks); proxy gain "
                f"{rec['proxy_gain']:+.4f}, held-out {rec['heldout']:.4f} vs best {best.get('heldout', 0.0):.4f} at "
                f"step {best.get('step')}{named}")

    def record_kl_raise(self, step: int, old: float, new: float, rec: dict[str, Any]) -> None:
        self.events.append({"step": step, "event": "kl_raised", "why": (
            f"KL coefficient {old:.4g} -> {new:.4g}: the proxy/held-out gap opened (CUSUM {rec['cusum']:.2f} past "
            f"half its threshold {self.alarm.threshold:.2f}; held-out {rec['heldout']:.4f}, proxy gain "
            f"{rec['proxy_gain']:+.4f})")})

    def summary(self) -> dict[str, Any]:
        """What the run report and tether_rl.json keep: checks, events, best check, last fit."""
        fit = {k: v for k, v in (self.history[-1] if self.history else {}).items() if k.startswith("gao/")}
        return {"checks": len(self.history), "best": self.best, "events": self.events, "fit": fit,
                "threshold": self.alarm.threshold, "level": self.alarm.level, "horizon": self.alarm.horizon,
                "allowance": self.alarm.allowance, "attribution": self.attribution}
