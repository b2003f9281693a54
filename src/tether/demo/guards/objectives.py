"""Guard 4 of the table: one monolithic reward against separate quality and safety models with a constraint.

The start policy complies with half of the risky requests, and most of its refusals lecture (padded and hedged),
as helpful-first models' refusals often do. Both arms label the same two samples of it per prompt, on ordinary
prompts and on a red-team set of risky prompts, with the same raters and the same number of judgments:

- naive: every pair judged on `overall`; one reward model; best-of-n on it. The raters' own `overall` trades
  safety against style (a crisp harmful answer can beat a lecturing refusal), and one scalar inherits that trade.
- Tether: the ordinary pairs judged on `quality`, the red-team pairs on `safety`; two reward models. The safety
  model's pairwise probabilities are checked for calibration out of fold (ECE, the gate of
  `tether.policy.constraints`; temperature-scaled there), then an answer costs 1 where that model gives at least
  FLAG_P that a rater would judge it less safe than the safest answer sampled for its prompt. Best-of-n maximises
  quality subject to E[cost] <= TARGET, the multiplier found by `tether.policy.constraints`' PID-Lagrangian over
  batches of tuning prompts and then fixed for the test prompts.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from tether.demo.guards.row import GuardRow
from tether.demo.guards.styles import StylePolicy, flat, gold_matrix, label_own_samples
from tether.policy.constraints import MAX_ECE, ConstraintShaper, PIDGains, parse_constraints
from tether.records import PreferencePair
from tether.reward.evaluate import expected_calibration_error
from tether.reward.probe import NgramReward
from tether.sim.tasks import TASKS
from tether.sim.world import World

N = 16  # best-of-n, both arms
LABEL_PROMPTS = 900  # ordinary prompts (the world's mix), one judgment of two samples each
RED_TEAM = 600  # risky prompts, likewise
TUNE_PROMPTS = 400  # the multiplier's batches
TEST_PROMPTS = 800  # scored on gold only
RATERS = 20
FLAG_P = 0.8  # the safety model's probability that an answer is less safe than its prompt's safest sample
TARGET = 0.002  # E[cost]: at most 0.2% of the picks flagged
GAINS = PIDGains(kp=10.0, ki=20.0, kd=0.0)  # cost is a 0/1 share: errors are hundredths, so the gains are large
BATCH, PASSES = 20, 5
POLICY = StylePolicy(unsafe=0.5, preachy=0.8)
RISKY_TASKS = sorted(name for name, task in TASKS.items() if task.risky)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def calibrate(pairs: list[PreferencePair], folds: int = 5) -> dict[str, float]:
    """Out-of-fold P(chosen) of a model like the safety model (each fold scored by one fitted on the others), its
    ECE, and a temperature fitted on those margins (log loss) with the ECE it leaves."""
    margins = np.empty(len(pairs))
    for k in range(folds):
        rm = NgramReward().fit([p for i, p in enumerate(pairs) if i % folds != k])
        part = [p for i, p in enumerate(pairs) if i % folds == k]
        prompts = [p.prompt for p in part]
        margins[k::folds] = rm.score(prompts, [p.chosen for p in part]) - rm.score(prompts, [p.rejected for p in part])
    fit = minimize_scalar(lambda t: float(np.mean(np.logaddexp(0.0, -margins / t))), bounds=(0.05, 20.0),
                          method="bounded")
    t = float(fit.x)
    return {"ece": expected_calibration_error(_sigmoid(margins)), "temperature": t,
            "ece_scaled": expected_calibration_error(_sigmoid(margins / t)), "pairs": len(pairs)}


def flagged(safety: np.ndarray, temperature: float) -> np.ndarray:
    """1 where the (temperature-scaled) safety model gives >= FLAG_P that a rater prefers the prompt's safest
    sample to this one on safety; ``[prompts, n]``."""
    gap = safety.max(axis=1, keepdims=True) - safety
    return (_sigmoid(gap / temperature) >= FLAG_P).astype(np.float64)


def row_objectives(seed: int, *, policy: StylePolicy = POLICY) -> GuardRow:
    """Best-of-n on one `overall` reward model (naive) vs quality subject to a safety constraint (Tether); `policy`
    is the start policy (the benchmark also runs the default one, whose refusals do not lecture)."""
    world = World(seed)
    raters = world.rater_pool(RATERS, id_prefix="g4-rater")
    ordinary = world.prompts(LABEL_PROMPTS, stream="guard4-label")
    red = world.prompts(RED_TEAM, tasks=RISKY_TASKS, stream="guard4-redteam")

    def judged(objective_ordinary: str, objective_red: str) -> tuple[list[PreferencePair], list[PreferencePair]]:
        return (label_own_samples(world, policy, ordinary, raters, objective_ordinary, "guard4-label"),
                label_own_samples(world, policy, red, raters, objective_red, "guard4-redteam"))

    naive_pairs = [p for part in judged("overall", "overall") for p in part]
    naive_rm = NgramReward().fit(naive_pairs)
    quality_pairs, safety_pairs = judged("quality", "safety")
    quality_rm = NgramReward().fit(quality_pairs)
    cal = calibrate(safety_pairs)
    safety_rm = NgramReward().fit(safety_pairs)

    tune = world.prompts(TUNE_PROMPTS, stream="guard4-tune")
    tune_answers = policy.sample(world, tune, N, "guard4-tune")
    tp, ta = flat(tune, tune_answers)
    q_tune = quality_rm.score(tp, ta).reshape(len(tune), N)
    mu, sd = float(q_tune.mean()), float(q_tune.std()) or 1.0  # the quality contract: z over the start's samples
    z_tune = (q_tune - mu) / sd
    c_tune = flagged(safety_rm.score(tp, ta).reshape(len(tune), N), cal["temperature"])
    shaper = ConstraintShaper(parse_constraints([f"cost:unsafe<={TARGET}"]), GAINS)
    lambdas, costs = [], []
    for _ in range(PASSES):
        for b in range(0, len(tune), BATCH):
            lam = shaper.controllers[0].value
            z, c = z_tune[b:b + BATCH], c_tune[b:b + BATCH]
            pick = np.argmax((z - lam * c) / (1.0 + lam), axis=1)
            rows = np.arange(len(pick))
            _, fields = shaper.shape(z[rows, pick], {"unsafe": c[rows, pick]},
                                     [tune_answers[b + i][j] for i, j in enumerate(pick)])
            lambdas.append(fields["constraint/unsafe/lambda"])
            costs.append(fields["constraint/unsafe/cost"])
    per_pass = len(lambdas) // PASSES
    lam = float(np.mean(lambdas[-per_pass:]))  # the last pass's mean multiplier, fixed for deployment

    test = world.prompts(TEST_PROMPTS, stream="guard4-test")
    answers = policy.sample(world, test, N, "guard4-test")
    xp, xa = flat(test, answers)
    shape = (len(test), N)
    z = (quality_rm.score(xp, xa).reshape(shape) - mu) / sd
    c = flagged(safety_rm.score(xp, xa).reshape(shape), cal["temperature"])
    violation = (gold_matrix(world, test, answers, "safety") < 1.0).astype(np.float64)
    quality = gold_matrix(world, test, answers, "quality")
    risky = np.array([p.risky for p in test])
    rows = np.arange(len(test))

    def arm(pick: np.ndarray) -> dict[str, float]:
        return {"violation_rate": float(violation[rows, pick].mean()),
                "violation_rate_risky": float(violation[rows, pick][risky].mean()) if risky.any() else 0.0,
                "gold_quality": float(quality[rows, pick].mean()), "flagged_share": float(c[rows, pick].mean())}

    naive = arm(np.argmax(naive_rm.score(xp, xa).reshape(shape), axis=1))
    tether = arm(np.argmax((z - lam * c) / (1.0 + lam), axis=1))
    detail = {
        "n": N, "naive": naive, "tether": tether,
        "quality_kept": tether["gold_quality"] / naive["gold_quality"],
        "start_policy": {"violation_rate": float(violation.mean()), "gold_quality": float(quality.mean()),
                         "unsafe": policy.unsafe, "preachy_refusals": policy.preachy},
        "quality_only": arm(np.argmax(z, axis=1)),
        "multiplier": {"final": lam, "gains": [GAINS.kp, GAINS.ki, GAINS.kd], "target": TARGET,
                       "last_pass_cost": float(np.mean(costs[-per_pass:])), "steps": len(lambdas),
                       "trajectory": [round(x, 3) for x in lambdas[::per_pass // 4 or 1]]},
        "safety_calibration": {**cal, "gate_max_ece": MAX_ECE, "gate_passed": cal["ece_scaled"] <= MAX_ECE},
        "labels": {"label_prompts_each_arm": len(ordinary) + len(red), "naive_pairs": len(naive_pairs),
                   "quality_pairs": len(quality_pairs), "safety_pairs": len(safety_pairs)},
        "test_prompts": TEST_PROMPTS, "risky_share": float(risky.mean()),
    }
    return GuardRow(
        failure_mode=4, name="one monolithic reward", metric=f"gold safety-violation rate (best-of-{N})",
        higher_is_better=False, naive=naive["violation_rate"], tether=tether["violation_rate"],
        naive_arm=f"one reward model on every pair judged `overall`, best-of-{N} on it "
                  f"(gold quality {naive['gold_quality']:.3f})",
        tether_arm=f"separate quality and safety models; best-of-{N} on quality subject to <= {TARGET:.0%} of "
                   f"picks flagged unsafe, PID multiplier {lam:.2f} (gold quality {tether['gold_quality']:.3f})",
        detail=detail)
