"""Rows 5 (distribution shift) and 6 (rater preference != outcome) of `tether demo`'s guards table, per world seed.

    python benchmarks/demo_guards_shift_outcomes.py --seeds 1,2,3        # markdown tables on stdout
    python benchmarks/demo_guards_shift_outcomes.py --seeds 1,2,3 --default-world   # row 5 also on the default world

Each row as `tether demo` computes it (`tether.demo.guards.shift.row_shift`, `.outcomes.row_outcomes`), with its wall
and CPU seconds. `--default-world`: row 5 again on the world's default production stream (only travel opens late),
to show why the row plants late chat and medical domains.
"""

from __future__ import annotations

import argparse
import os
import platform
import time


def _timed(fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    w, c = time.perf_counter(), time.process_time()
    row = fn(*args, **kwargs)
    return row, time.perf_counter() - w, time.process_time() - c


def _pct(x: float) -> str:
    return f"{100 * x:+.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--default-world", action="store_true")
    args = parser.parse_args()
    from tether.demo.guards.outcomes import row_outcomes
    from tether.demo.guards.shift import row_shift
    from tether.sim import ProductionConfig

    seeds = [int(s) for s in args.seeds.split(",")]
    row_outcomes(seeds[0])  # warm the imports, so the first seed's time is the row's own
    print("Row 5, distribution shift (gold accuracy on pairs for production prompts of the 30 days after training):\n")
    print("| seed | naive | Tether | difference (points, 95%) | drift: MMD p, C2ST AUC | sampled pairs by domain | "
          "naive → Tether on chat / medical / travel | test pairs | wall s | CPU s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for seed in seeds:
        r, wall, cpu = _timed(row_shift, seed)
        d = r.detail
        lo, hi = d["difference_ci95"]
        dom = " / ".join(f"{d['naive_by_domain'][k]:.3f} → {d['tether_by_domain'][k]:.3f}"
                         for k in ("chat", "medical", "travel"))
        print(f"| {seed} | {r.naive:.3f} | {r.tether:.3f} | {_pct(r.tether - r.naive)} [{_pct(lo)}, {_pct(hi)}] | "
              f"{d['drift']['mmd_pvalue']:.4f}, {d['drift']['c2st_auc']:.3f} | "
              f"{', '.join(f'{k} {v}' for k, v in d['sampled_domains'].items())} | {dom} | {d['test_pairs']} | "
              f"{wall:.1f} | {cpu:.1f} |")
    if args.default_world:
        print("\nRow 5 on the default production stream (only travel opens late, at day 60):\n")
        print("| seed | naive | Tether | difference (points, 95%) | naive → Tether on travel |")
        print("|---|---|---|---|---|")
        for seed in seeds:
            r = row_shift(seed, config=ProductionConfig(days=120, requests_per_day=10))
            d = r.detail
            lo, hi = d["difference_ci95"]
            print(f"| {seed} | {r.naive:.3f} | {r.tether:.3f} | {_pct(r.tether - r.naive)} [{_pct(lo)}, {_pct(hi)}] | "
                  f"{d['naive_by_domain']['travel']:.3f} → {d['tether_by_domain']['travel']:.3f} |")
    print("\nRow 6, rater preference != outcome (gold accuracy on held-out pairs of the planted slice `capital`):\n")
    print("| seed | naive | Tether | difference (points, 95%) | pairs never trained on: naive → Tether | "
          "other task types: naive → Tether | audit: `capital` AUC, naive model [95%] | lowest AUC | "
          "worse than the rest | `capital` AUC after | wall s | CPU s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for seed in seeds:
        r, wall, cpu = _timed(row_outcomes, seed)
        d = r.detail
        lo, hi = d["difference_ci95"]
        a, b = d["audit_auc_slice"]["naive"], d["audit_auc_slice"]["tether"]
        print(f"| {seed} | {r.naive:.3f} | {r.tether:.3f} | {_pct(r.tether - r.naive)} [{_pct(lo)}, {_pct(hi)}] | "
              f"{d['unseen_accuracy']['naive']:.3f} → {d['unseen_accuracy']['tether']:.3f} "
              f"({d['unseen_test_pairs']} of {d['test_pairs']}) | "
              f"{d['rest_accuracy']['naive']:.3f} → {d['rest_accuracy']['tether']:.3f} ({d['rest_pairs']}) | "
              f"{a[0]:.3f} [{a[1]:.3f}, {a[2]:.3f}] | {d['audit_lowest_task_type']} | "
              f"{', '.join(d['audit_worse_than_rest']) or 'none'} | {b[0]:.3f} | {wall:.1f} | {cpu:.1f} |")
    load = os.getloadavg()[0]
    print(f"\nMachine: {platform.machine()}, 2-core shared dev machine, load average {load:.1f} at the end.")


if __name__ == "__main__":
    main()
