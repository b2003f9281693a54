"""Guards 1 and 2 of `tether demo`'s first table, per world seed: naive pipeline vs Tether on gold, and seconds.

Runs `tether.demo.guards.labels.row_raters` (failure mode 1: a sign-up pool's majority vote vs qualification on
gold + audit and curation; metric: gold accuracy of the n-gram reward probe each arm trains) and `row_position`
(failure mode 2: one display order + majority vote vs randomized, counterbalanced order + the audit's position-aware
labels; metric: label accuracy against gold) once per seed, and prints a markdown table plus the supporting figures.

    python benchmarks/guards_labels.py --seeds 1 2 3
"""

from __future__ import annotations

import argparse
import json
import time

from tether.demo.guards.labels import row_position, row_raters


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--json", action="store_true", help="also print every row's detail as JSON")
    args = ap.parse_args()
    print("| mode | seed | metric | naive | tether | difference, 95% CI | seconds | supporting figures |")
    print("|---|---|---|---|---|---|---|---|")
    for fn in (row_raters, row_position):
        for seed in args.seeds:
            t0 = time.perf_counter()
            row = fn(seed)
            row.seconds = time.perf_counter() - t0
            d = row.detail
            low, high = d["difference_ci95"]
            if row.failure_mode == 1:
                extra = (f"labels vs gold {d['label_accuracy']['naive']:.3f} / {d['label_accuracy']['tether']:.3f}; "
                         f"probe on gold labels {d['probe_on_gold_labels']:.3f}; train pairs "
                         f"{d['train_pairs']['naive']} / {d['train_pairs']['tether']}; qualified "
                         f"{d['qualified_by_hidden_group']}; blocked {d['blocked_task_types']}")
            else:
                extra = (f"randomized majority {d['label_accuracy_randomized_majority']:.3f}; audit on one order "
                         f"{d['label_accuracy_audit_one_order']:.3f}; probe {d['probe_gold_accuracy']['naive']:.3f} / "
                         f"{d['probe_gold_accuracy']['tether']:.3f}; blocked {d['blocked_task_types']}")
            print(f"| {row.failure_mode} | {seed} | {row.metric.split(' (')[0]} | {row.naive:.3f} | "
                  f"{row.tether:.3f} | {row.tether - row.naive:+.3f} [{low:+.3f}, {high:+.3f}] | {row.seconds:.1f} | "
                  f"{extra} |")
            if args.json:
                print(json.dumps(row.to_dict(), default=str))


if __name__ == "__main__":
    main()
