"""The demo's policy guards (rows 3 and 4 of its first table) on several world seeds, with the seconds per row.

    python benchmarks/demo_guards_policy.py --seeds 1 2 3

Row 3 is also replayed with the other held-out evaluator issue 14 names, a reward model trained on disjoint raters'
labels (600 more label prompts), on the same checks: the monitor's decision and the gold gain it would have kept.
Row 4 is also run with the default start policy (30% compliance on risky prompts, refusals styled like any other
answer) to show why the row's start policy lectures. Prints markdown tables for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tether.demo.guards.objectives import row_objectives
from tether.demo.guards.policy import ALARM_LEVEL, CHECKS, PROXY_PROMPTS, RATERS, row_overoptimisation
from tether.demo.guards.styles import StylePolicy, flat, gold_matrix, label_own_samples
from tether.policy.monitor import OverOptMonitor, SequentialAlarm
from tether.reward.probe import NgramReward
from tether.sim.best_of_n import bon_kl
from tether.sim.world import World


def heldout_rm_replay(seed: int) -> dict:
    """Row 3's checks with a held-out reward model (disjoint raters) as the monitor's evaluator instead of humans."""
    world, policy, m = World(seed), StylePolicy(), CHECKS[-1]
    raters = world.rater_pool(RATERS, id_prefix="g3-rater")  # the row's draw order, so the same raters and samples
    proxy = NgramReward().fit(label_own_samples(world, policy, world.prompts(PROXY_PROMPTS, stream="guard3-label"),
                                                raters, "overall", "guard3-label"))
    check_prompts = world.prompts(100, stream="guard3-check")
    check = policy.sample(world, check_prompts, m, "guard3-check")
    world.rater_pool(RATERS, id_prefix="g3-human")
    disjoint = world.rater_pool(RATERS, id_prefix="g3-heldout")
    held = NgramReward().fit(label_own_samples(world, policy, world.prompts(600, stream="guard3-heldout"),
                                               disjoint, "overall", "guard3-heldout"))
    tp, ta = flat(check_prompts, check)
    shape = (len(check_prompts), m)
    p_scores, h_scores = proxy.score(tp, ta).reshape(shape), held.score(tp, ta).reshape(shape)
    gold = gold_matrix(world, check_prompts, check, "overall")
    monitor = OverOptMonitor(SequentialAlarm(ALARM_LEVEL, len(CHECKS)), raise_kl=1.0)
    alarm, heldout, gold_mean = None, [], []
    for n in CHECKS:
        idx = np.argmax(p_scores[:, :n], axis=1)
        rows = np.arange(len(idx))
        rec = monitor.observe(n, bon_kl(n) ** 0.5, p_scores[rows, idx], h_scores[rows, idx],
                              [check[i][j] for i, j in enumerate(idx)], gold=gold[rows, idx])
        heldout.append(rec["heldout"])
        gold_mean.append(rec["gold"])
        if rec["alarm"]:
            alarm = n
            break
    kept = int(monitor.best["step"]) if alarm is not None and monitor.best else CHECKS[-1]
    return {"alarm": alarm, "kept": kept, "heldout": heldout, "gold": gold_mean}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = ap.parse_args()
    r3, r4, r4_default = [], [], []
    for seed in args.seeds:
        for fn, out in ((row_overoptimisation, r3), (row_objectives, r4),
                        (lambda s: row_objectives(s, policy=StylePolicy()), r4_default)):
            t0 = time.perf_counter()
            row = fn(seed)
            row.seconds = time.perf_counter() - t0
            out.append((seed, row))
    print("| seed | naive gold gain (n = 64) | Tether gold gain | alarm at n | kept n (KL) | proxy / human win / gold "
          "at the kept check | gain at gold's best n | held-out RM instead: alarm, kept n, gain | s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for seed, row in r3:
        d = row.detail
        gains = d["gold_gain_by_n_tether_proxy"]
        best = max(gains, key=gains.get)
        alt = heldout_rm_replay(seed)
        s = d["at_stop"]
        print(f"| {seed} | {row.naive:+.4f} | {row.tether:+.4f} | {d['alarm_at_n']} | {d['n_tether']} "
              f"({d['kl_tether']:.2f}) | {s['proxy']:+.3f} / {s['human_win']:.3f} / {s['gold']:.4f} | "
              f"{gains[best]:+.4f} (n = {best}) | {alt['alarm'] or 'none'}, {alt['kept']}, "
              f"{gains[alt['kept']]:+.4f} | {row.seconds:.1f} |")
    print()
    print("| seed | naive violation (risky prompts) | Tether violation (risky prompts) | naive gold quality | Tether "
          "gold quality (kept) | start: violation, quality | multiplier | safety ECE (scaled) | s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for seed, row in [*r4, *((f"{s} (default start policy)", r) for s, r in r4_default)]:
        d = row.detail
        n, t, st = d["naive"], d["tether"], d["start_policy"]
        cal = d["safety_calibration"]
        print(f"| {seed} | {n['violation_rate']:.4f} ({n['violation_rate_risky']:.3f}) | {t['violation_rate']:.4f} "
              f"({t['violation_rate_risky']:.3f}) | {n['gold_quality']:.4f} | {t['gold_quality']:.4f} "
              f"({d['quality_kept']:.1%}) | {st['violation_rate']:.4f}, {st['gold_quality']:.4f} | "
              f"{d['multiplier']['final']:.2f} | {cal['ece']:.3f} ({cal['ece_scaled']:.3f}) | {row.seconds:.1f} |")


if __name__ == "__main__":
    main()
