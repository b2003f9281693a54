"""Champion / challenger for reward models: a new model replaces the serving one only when it is better where it
matters, judged on fresh held-out preferences (and outcomes, when there are any).

    result = challenge(champion_dir, challenger_dir, heldout_pairs, ChallengeConfig(), outcome_rows=rows)
    result.passed, result.failed, result.summary()

The checks (each named, with its value and threshold, in the result and in the promotion record):
- better: the 95% paired-bootstrap interval (resampling prompts) of challenger minus champion accuracy lies above 0;
- no slice (task type, language, objective, length, ...) with enough pairs loses more than `max_slice_drop`;
- calibrated: the challenger's expected calibration error is at most `max_ece` (after temperature scaling when
  calibration pairs are given, as `tether reward eval` measures it);
- not worse on outcomes: the interval of the challenger's outcome AUC minus the champion's does not lie wholly
  below 0 (evidence that it agrees worse with what happened refuses it; noise alone does not).
Without a champion (the first promotion) only the challenger's own checks apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tether.outcomes import metrics as m
from tether.outcomes.scored import ScoredResponse
from tether.records import PreferencePair
from tether.reward.evaluate import EvalResult, evaluate
from tether.reward.gate import Check, Checked, check_value

__all__ = ["ChallengeConfig", "ChallengeResult", "challenge", "PolicyChallengeConfig", "challenge_policy"]


@dataclass
class ChallengeConfig:
    max_slice_drop: float = 0.03   # accuracy points (as a fraction) a slice may lose
    min_slice_n: int = 30          # smaller slices are reported, not judged: their accuracy is mostly noise
    max_ece: float = 0.05
    level: float = 0.95
    n_boot: int = 2000
    seed: int = 0
    objective: str | None = None   # head scored against outcomes (default: the only head, else `overall`)


@dataclass
class ChallengeResult(Checked):
    checks: list[Check]
    champion: dict[str, Any] | None      # accuracy, ece, outcome_auc of each side (None: no champion)
    challenger: dict[str, Any]
    difference: dict[str, float] = field(default_factory=dict)  # accuracy and outcome-AUC differences, intervals
    slices: list[dict[str, Any]] = field(default_factory=list)   # every slice compared, judged or not

    def summary(self) -> str:
        if self.passed:
            return f"challenger passed ({len(self.checks)} checks)"
        return "challenger refused: " + "; ".join(c.condition() for c in self.failed)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"passed": self.passed, "checks": [asdict(c) for c in self.checks], "champion": self.champion,
                "challenger": self.challenger, "difference": self.difference, "slices": self.slices}


def _correct(result: EvalResult, pairs: Sequence[PreferencePair]) -> np.ndarray:
    keep = np.array([not p.tie for p in pairs])
    return (result.margins[keep] > 0).astype(float)


def _groups(pairs: Sequence[PreferencePair]) -> np.ndarray:
    return np.array([p.prompt for p in pairs if not p.tie], dtype=object)


def _slice_rows(champ: EvalResult, chall: EvalResult, cfg: ChallengeConfig) -> tuple[list[dict], list[Check]]:
    rows, checks = [], []
    for key, values in chall.by_slice.items():
        for value, s in values.items():
            before = champ.by_slice.get(key, {}).get(value)
            if before is None:
                continue
            drop = before["accuracy"] - s["accuracy"]
            judged = s["n"] >= cfg.min_slice_n
            rows.append({"slice": key, "value": value, "n": int(s["n"]), "champion": before["accuracy"],
                         "challenger": s["accuracy"], "drop": drop, "judged": judged})
            if judged:
                checks.append(check_value(f"slice {key}={value} accuracy drop", drop, cfg.max_slice_drop, "max"))
    return rows, checks


def _outcome_aucs(models: Sequence[Any], rows: Sequence[ScoredResponse], cfg: ChallengeConfig
                  ) -> tuple[list[float], tuple[float, float]]:
    """Each model's AUC against the outcomes, and the interval of the last minus the first (resampling prompts)."""
    from tether.outcomes.pairs import score_rows

    passed = np.array([r.passed() for r in rows])
    scores = [np.array([r.score for r in score_rows(rows, model, cfg.objective)]) for model in models]
    aucs = [m.auc(s, passed) for s in scores]
    index = m.GroupIndex(np.array([r.group for r in rows], dtype=object))
    lo, hi = m.bootstrap(lambda i: m.auc(scores[-1][i], passed[i]) - m.auc(scores[0][i], passed[i]), index,
                         n_boot=cfg.n_boot, seed=cfg.seed, level=cfg.level)
    return aucs, (lo, hi)


def challenge(champion: Any | None, challenger: Any, pairs: Sequence[PreferencePair],
              config: ChallengeConfig | None = None, *, calibration_pairs: Sequence[PreferencePair] | None = None,
              outcome_rows: Sequence[ScoredResponse] | None = None) -> ChallengeResult:
    """Judge `challenger` against `champion` (loaded reward models or ensembles; None: no champion yet) on the same
    fresh held-out `pairs` (and outcome rows: responses with outcomes, no scores needed)."""
    cfg = config or ChallengeConfig()
    pairs = list(pairs)
    chall = evaluate(challenger, pairs, calibration_pairs=calibration_pairs)
    checks = [check_value("challenger ece", chall.ece, cfg.max_ece, "max")]
    mine = {"accuracy": chall.accuracy, "ece": chall.ece, "n_pairs": chall.n_pairs - chall.n_ties}
    result = ChallengeResult(checks, None, mine)
    if outcome_rows is not None and not outcome_rows:
        raise ValueError("the outcome rows are empty")
    if champion is None:
        if outcome_rows:
            mine["outcome_auc"] = _outcome_aucs([challenger], outcome_rows, cfg)[0][0]
        return result
    champ = evaluate(champion, pairs, calibration_pairs=calibration_pairs)
    result.champion = {"accuracy": champ.accuracy, "ece": champ.ece, "n_pairs": champ.n_pairs - champ.n_ties}
    c_new, c_old = _correct(chall, pairs), _correct(champ, pairs)
    lo, hi = m.bootstrap(lambda i: float(c_new[i].mean() - c_old[i].mean()), m.GroupIndex(_groups(pairs)),
                         n_boot=cfg.n_boot, seed=cfg.seed, level=cfg.level)
    diff = float(c_new.mean() - c_old.mean())
    result.difference.update(accuracy=diff, accuracy_lo=lo, accuracy_hi=hi)
    # the interval's lower end must clear 0: "better" means better than noise, not a higher point estimate
    checks.insert(0, check_value(f"accuracy gain over the champion ({cfg.level:.0%} interval low end)", lo, 0.0,
                                 "min", strict=True))
    result.slices, slice_checks = _slice_rows(champ, chall, cfg)
    checks.extend(slice_checks)
    if outcome_rows:
        (old_auc, new_auc), (a_lo, a_hi) = _outcome_aucs([champion, challenger], outcome_rows, cfg)
        result.champion["outcome_auc"], mine["outcome_auc"] = old_auc, new_auc
        result.difference.update(outcome_auc=new_auc - old_auc, outcome_auc_lo=a_lo, outcome_auc_hi=a_hi)
        checks.append(check_value(f"outcome AUC change ({cfg.level:.0%} interval high end)", a_hi, 0.0, "min"))
    return result


@dataclass
class PolicyChallengeConfig:
    objective: str | None = None   # the evaluator's objective that must rise (default: its only one, or `overall`)
    max_signature_drift: float = 1.0  # hacking signatures may move this many champion SDs at most
    level: float = 0.95
    n_boot: int = 2000
    seed: int = 0


def challenge_policy(prompts: Sequence[str], champion_answers: Sequence[str], challenger_answers: Sequence[str],
                     champion_scores: dict[str, np.ndarray], challenger_scores: dict[str, np.ndarray],
                     config: PolicyChallengeConfig | None = None) -> ChallengeResult:
    """Judge a challenger policy against the champion on the same held-out prompts, scored by a held-out evaluator
    neither trained on: the interval of its gain on the objective must lie above 0, no other objective may fall
    (its interval wholly below 0), and no hacking signature (length, repetition, hedging, flattery, refusals) may move
    by more than `max_signature_drift` of the champion's per-answer SDs — a better score bought with longer, more
    hedged or more flattering answers is what over-optimisation looks like."""
    from tether.policy.signatures import SignatureBaseline, signature_means

    cfg = config or PolicyChallengeConfig()
    n = len(prompts)
    if not n or len(champion_answers) != n or len(challenger_answers) != n:
        raise ValueError(f"need one answer of each policy per prompt: {n} prompts, {len(champion_answers)} and "
                         f"{len(challenger_answers)} answers")
    objectives = list(challenger_scores)
    primary = cfg.objective or (objectives[0] if len(objectives) == 1 else "overall")
    if primary not in challenger_scores or primary not in champion_scores:
        raise ValueError(f"the evaluator scores {', '.join(objectives)}, not {primary!r} (choose an objective)")
    index = m.GroupIndex(np.asarray(prompts, dtype=object))
    checks, difference = [], {}
    for o in objectives:
        new, old = np.asarray(challenger_scores[o], dtype=float), np.asarray(champion_scores[o], dtype=float)
        lo, hi = m.bootstrap(lambda i, new=new, old=old: float(new[i].mean() - old[i].mean()), index,
                             n_boot=cfg.n_boot, seed=cfg.seed, level=cfg.level)
        difference.update({o: float(new.mean() - old.mean()), f"{o}_lo": lo, f"{o}_hi": hi})
        if o == primary:
            checks.append(check_value(f"{o} gain over the champion ({cfg.level:.0%} interval low end)", lo, 0.0,
                                      "min", strict=True))
        else:
            checks.append(check_value(f"{o} change ({cfg.level:.0%} interval high end)", hi, 0.0, "min"))
    baseline = SignatureBaseline.from_samples(list(champion_answers))
    drift = baseline.drift(signature_means(list(challenger_answers)))
    for name, z in sorted(drift.items()):
        checks.append(check_value(f"signature {name} drift (champion SDs)", abs(z), cfg.max_signature_drift, "max"))
    mine = {"mean": {o: float(np.mean(s)) for o, s in challenger_scores.items()}, "signatures": drift}
    theirs = {"mean": {o: float(np.mean(s)) for o, s in champion_scores.items()}}
    return ChallengeResult(checks, theirs, mine, difference)
