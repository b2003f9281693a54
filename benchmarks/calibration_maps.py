"""Which calibration map makes the n-gram probe's margins mean what they say (issue 19, guard 7)?

    nice -n 10 env OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/calibration_maps.py [--seeds 1 2] [--reps 20]

For world seeds x months (0, 3, 6) of the default drift: a probe trained on a 600-pair campaign of that month, then a
1600-pair campaign of the same month scored and split at random, `n` pairs to fit each map and `n` others to judge it
(hard labels, the ECE of `tether.reward.evaluate`). Maps: temperature (`fit_temperature`), temperature with a
label-noise ceiling ``eps + (1 - 2 eps) sigmoid(m / T)`` and a power law ``sigmoid(sign(m) |m / T|^k)`` (both by
maximum likelihood), isotonic (`IsotonicMap`). Prints mean held-out ECE and the share of splits at or under 0.05.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from scipy.optimize import minimize

from tether.demo.guards.stale_loop import Sizes, _Probe, label
from tether.reward.evaluate import IsotonicMap, _sigmoid, expected_calibration_error, fit_temperature
from tether.sim import World
from tether.sim.drift import PreferenceDrift


def _mle(m: np.ndarray, f, x0: list[float]) -> np.ndarray:  # noqa: ANN001
    return minimize(lambda th: -np.log(np.clip(f(m, th), 1e-12, 1)).mean(), x0, method="Nelder-Mead").x


def noisy(m: np.ndarray, th: np.ndarray) -> np.ndarray:
    eps = 0.25 / (1 + np.exp(-th[1]))
    return eps + (1 - 2 * eps) * _sigmoid(m / np.exp(th[0]))


def power(m: np.ndarray, th: np.ndarray) -> np.ndarray:
    return _sigmoid(np.sign(m) * np.abs(m / np.exp(th[0])) ** np.exp(th[1]))


def old_ece(q: np.ndarray) -> float:
    """The ECE before zero margins counted half right: a 0.5 prediction was a miss."""
    return expected_calibration_error(np.where(q == 0.5, 0.5 - 1e-12, q))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    drift, sizes = PreferenceDrift(), Sizes()
    maps = ("temperature", "temperature (old ECE)", "noise ceiling", "power", "isotonic")
    print("month  n   " + "  ".join(f"{k:>22}" for k in maps) + "   (mean ECE / share <= 0.05)")
    for month in (0, 3, 6):
        for n in (150, 300, 450):
            res: dict[str, list[float]] = {k: [] for k in maps}
            for seed in args.seeds:
                world = World(seed)
                raters = world.rater_pool()
                train = label(drift, world, raters, world.candidate_pairs(600), month * 30, "t", sizes, seed)
                held = label(drift, world, raters, world.candidate_pairs(1600), month * 30, "h", sizes, seed)
                probe = _Probe({}, sizes.l2).fit(train.train + train.calibration + train.judge)
                pool = [p for p in held.train + held.calibration + held.judge if not p.tie]
                prompts = [p.prompt for p in pool]
                m = probe.score(prompts, [p.chosen for p in pool]) - probe.score(prompts, [p.rejected for p in pool])
                rng = np.random.default_rng(seed)
                for _ in range(args.reps):
                    idx = rng.permutation(len(m))
                    fit, judge = m[idx[:n]], m[idx[n:2 * n]]
                    t = fit_temperature(fit)
                    res["temperature"].append(expected_calibration_error(_sigmoid(judge / t)))
                    res["temperature (old ECE)"].append(old_ece(_sigmoid(judge / t)))
                    res["noise ceiling"].append(expected_calibration_error(noisy(judge, _mle(fit, noisy, [0, -2]))))
                    res["power"].append(expected_calibration_error(power(judge, _mle(fit, power, [0, 0]))))
                    res["isotonic"].append(expected_calibration_error(IsotonicMap.fit(fit)(judge)))
            print(f"{month:>5} {n:>3}  " + "  ".join(
                f"{np.mean(v):>14.3f} / {np.mean(np.array(v) <= 0.05):.2f}" for v in res.values()), flush=True)


if __name__ == "__main__":
    main()
