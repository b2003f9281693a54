"""Study (issue 19): six simulated months of drifting preferences. A reward model trained once at launch against the
loop (cadence and negative-feedback triggers, batches labelled by the raters of the time, retraining, the real
champion/challenger gate), both scored monthly on gold accuracy against that month's preferences; and a planted
challenger, worse on one task type, put to the gate.

    nice -n 10 env OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/loop_six_months.py [--seeds 1 2 3] \
        [--strength 1.0] [--batch-pairs 700 --requests-per-day 50 --judge-days 36 --train-days 36] [--out F]

`--strength` scales the default drift (`PreferenceDrift.of_strength`): 1 is the default launch-to-month-6 change of
preferences, 0.5 half of it over the same six months.

Goals: the static model loses >= 5 points; the loop stays within 2 points of its initial accuracy; the planted
challenger is refused and the refusal names its slice. Larger than the demo row (`tether.demo.guards.stale`).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from tether.demo.guards.stale import detail
from tether.demo.guards.stale_loop import Sizes, planted_challenger, six_months
from tether.sim.drift import PreferenceDrift

STUDY = Sizes(launch_pairs=1500, batch_pairs=700, eval_pairs=800, requests_per_day=50.0, tick_days=6,
              train_days=36.0, judge_days=36.0)
SLICE = "code_output"


def one(seed: int, strength: float = 1.0, sizes: Sizes = STUDY) -> dict:
    t0 = time.perf_counter()
    drift = PreferenceDrift.of_strength(strength, sizes.months)
    run = six_months(seed, sizes, drift)
    d = detail(run, sizes, drift)
    t1 = time.perf_counter()
    planted = planted_challenger(seed, SLICE, drift=drift)
    capital = next((r for r in planted.slices if r["slice"] == "task_type" and r["value"] == SLICE), None)
    slice_check = f"slice task_type={SLICE} accuracy drop"
    return {
        "seed": seed, "strength": strength, "seconds_run": round(t1 - t0, 1),
        "seconds_planted": round(time.perf_counter() - t1, 1),
        "static_drop": d["naive_drop"], "loop_max_distance": d["tether_max_distance_from_initial"],
        "loop_max_loss": d["tether_max_loss_from_initial"],
        "static": d["naive_accuracy"], "loop": d["tether_accuracy"],
        "without_calibration_check": d["diagnostic_tether_accuracy_without_calibration_check"],
        "challenges": d["challenges"], "promotions": len(d["promotions"]),
        "refusal_reasons": _reasons(d["refusals"]),
        "challenger_gold_minus_champion": [round(r["gold"]["challenger"] - r["gold"]["champion"], 3)
                                           for r in d["refusals"]],
        "planted": {"refused": not planted.passed, "names_slice": any(c.name == slice_check for c in planted.failed),
                    "failed": [c.condition() for c in planted.failed],
                    "accuracy_gain": planted.difference.get("accuracy"), "slice": capital,
                    "gain_interval": [planted.difference.get("accuracy_lo"), planted.difference.get("accuracy_hi")]},
        "detail": d,
    }


def _reasons(refusals: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in refusals:
        for name in r["failed"]:
            key = name.split("=")[0] if name.startswith("slice") else name
            out[key] = out.get(key, 0) + 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--strength", type=float, default=1.0)
    ap.add_argument("--batch-pairs", type=int, default=STUDY.batch_pairs)
    ap.add_argument("--requests-per-day", type=float, default=STUDY.requests_per_day)
    ap.add_argument("--judge-days", type=float, default=STUDY.judge_days)
    ap.add_argument("--train-days", type=float, default=STUDY.train_days)
    ap.add_argument("--out", type=Path, default=Path("loop_six_months.json"))
    args = ap.parse_args()
    rows = []
    for seed in args.seeds:
        sizes = replace(STUDY, batch_pairs=args.batch_pairs, requests_per_day=args.requests_per_day,
                        judge_days=args.judge_days, train_days=args.train_days)
        r = one(seed, args.strength, sizes)
        rows.append(r)
        print(json.dumps({k: v for k, v in r.items() if k != "detail"}), flush=True)
    args.out.write_text(json.dumps(rows, indent=1))
    drops, gaps = [r["static_drop"] for r in rows], [r["loop_max_distance"] for r in rows]
    print(f"static drop (points): {[round(100 * x, 1) for x in drops]}  goal >= 5: "
          f"{'met' if min(drops) >= 0.05 else 'not met'}")
    print(f"loop max distance from initial (points): {[round(100 * x, 1) for x in gaps]}  goal <= 2: "
          f"{'met' if max(gaps) <= 0.02 else 'not met'}")
    print(f"planted challenger refused naming the slice: {[r['planted']['names_slice'] for r in rows]}")


if __name__ == "__main__":
    main()
