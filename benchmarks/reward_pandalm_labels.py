"""PandaLM: which training labels pay off on real annotations, frozen encoder + reward head per arm.

Same split as `reward_pandalm.py` (prompts split 80/20 with split seed = seed; the audit sees only the train
items), the same frozen MiniLM-L6 embeddings (max length --max-length) and head as `reward_sim_labels.py`
for every arm, the same budget (--iters full-batch steps, weights rescaled to mean 1):

- majority: one hard label per train item by majority (tie majorities and three-way splits dropped), weight 1;
- curated-rater: `curate()` defaults (one reliability per rater; on PandaLM every weight is the same), hard;
- tether: `curate(reliability="slice", weights="posterior")`, hard labels;
- tether-soft: the same pairs, p_chosen as the target.

Ties are left out of training in every arm (the head has no tie output). Held out: accuracy on items whose
three-annotator majority is a or b, and on the unanimous ones; the length-only reference beside them.

    python benchmarks/reward_pandalm_labels.py --seeds 0,1,2 --head mlp --results pandalm.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
from reward_pandalm import held_pairs, load_split, longer_wins, majority_pairs  # noqa: E402
from reward_sim_labels import Embedder, score_arm, t_interval  # noqa: E402

ARMS = ("majority", "curated-rater", "tether", "tether-soft")


def run_seed(seed: int, args: argparse.Namespace, embed: Embedder) -> dict:
    from tether.audit.audit import run_audit
    from tether.audit.config import CurateConfig
    from tether.audit.curate import curate

    train, held, _ = load_split(args.holdout, seed)
    audit = run_audit(train)
    tether = curate(audit, CurateConfig(reliability="slice", weights="posterior")).pairs
    sets = {"majority": (majority_pairs(train), False), "curated-rater": (curate(audit).pairs, False),
            "tether": (tether, False), "tether-soft": (tether, True)}
    test, unanimous = held_pairs(held)
    e_c = embed([(p.prompt, p.chosen) for p in test])
    e_r = embed([(p.prompt, p.rejected) for p in test])
    out = {"seed": seed, "n_train_items": audit.table.n_items, "n_test": len(test),
           "n_unanimous": int(unanimous.sum()), "length": longer_wins(test, unanimous), "arms": {}}
    for key in args.arms:
        pairs, soft = sets[key]
        t0 = time.process_time()
        correct, decided = score_arm(embed, pairs, soft, args, seed, (e_c, e_r))
        w = np.array([p.weight for p in decided])
        out["arms"][key] = {"pairs": len(decided), "acc": float(correct.mean()),
                            "acc_unanimous": float(correct[unanimous].mean()),
                            "acc_split": float(correct[~unanimous].mean()) if (~unanimous).any() else None,
                            "weight_cv": float(w.std() / w.mean()) if w.size else None,
                            "p_chosen_mean": float(np.mean([p.p_chosen for p in decided])),
                            "cpu_s": time.process_time() - t0}
        print(f"seed {seed} {key}: {len(decided)} pairs, held-out accuracy {out['arms'][key]['acc']:.4f}",
              file=sys.stderr, flush=True)
    return out


def label_study(seed: int, args: argparse.Namespace) -> dict:
    """No reward model: how the Tether labels and weights differ from majority vote and from one reliability per
    rater on the train items, and how p_chosen matches the held-out items' annotators (same split)."""
    from collections import Counter

    from tether.audit.audit import run_audit
    from tether.audit.config import CurateConfig
    from tether.audit.curate import curate

    train, _, _ = load_split(args.holdout, seed)
    audit = run_audit(train)
    old = [p for p in curate(audit).pairs if not p.tie]
    new = [p for p in curate(audit, CurateConfig(reliability="slice", weights="posterior")).pairs if not p.tie]
    maj = {p.provenance["pair_id"]: p.chosen for p in majority_pairs(train)}
    out = {"seed": seed}
    for name, pairs in (("one reliability per rater", old), ("tether", new)):
        w = np.array([p.weight for p in pairs])
        top = np.array([max(p.provenance["votes"].values()) for p in pairs])
        shared = [p for p in pairs if p.provenance["pair_id"] in maj]
        out[name] = {"pairs": len(pairs), "weight_cv": float(w.std() / w.mean()),
                     "weight_unanimous": float(w[top == 3].mean()), "weight_2_1": float(w[top == 2].mean()),
                     "differs_from_majority": float(np.mean([p.chosen != maj[p.provenance["pair_id"]]
                                                             for p in shared])),
                     "p_chosen_mean": float(np.mean([p.p_chosen for p in pairs])),
                     "votes_with_label": float(np.mean([p.provenance["votes"][
                         "a" if p.chosen == _side_a(p, train) else "b"] / sum(p.provenance["votes"].values())
                         for p in pairs]))}
    out["split_items"] = Counter(max(p.provenance["votes"].values()) for p in new)
    print(f"seed {seed}: {json.dumps(out)}", file=sys.stderr, flush=True)
    return out


def _side_a(pair, train) -> str:  # noqa: ANN001
    for c in train:
        if c.pair_id == pair.provenance["pair_id"]:
            return c.response_a
    raise KeyError(pair.provenance["pair_id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--l2", type=float, default=1e-2)
    parser.add_argument("--head", choices=("linear", "mlp"), default="mlp")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--cache", type=Path, help="file for the frozen encoder's embeddings")
    parser.add_argument("--results", type=Path)
    parser.add_argument("--labels-only", action="store_true", help="labels and weights only, no reward model")
    args = parser.parse_args()
    args.arms = args.arms.split(",")
    if args.labels_only:
        found = [label_study(int(s), args) for s in args.seeds.split(",")]
        if args.results:
            args.results.write_text(json.dumps(found, indent=1, default=str))
        return
    import torch

    torch.set_num_threads(1)
    embed = Embedder(max_length=args.max_length)
    if args.cache:
        embed.load(args.cache)
    t0, c0 = time.perf_counter(), time.process_time()
    results = [run_seed(int(s), args, embed) for s in args.seeds.split(",")]
    if args.cache:
        embed.save(args.cache)
    summary = {"args": {k: str(v) for k, v in vars(args).items()}, "wall_s": time.perf_counter() - t0,
               "cpu_s": time.process_time() - c0, "seeds": results, "vs_majority": {}}
    for key in args.arms:
        accs = [r["arms"][key]["acc"] for r in results]
        d = [r["arms"][key]["acc"] - r["arms"]["majority"]["acc"] for r in results]
        summary["vs_majority"][key] = t_interval(d) if len(d) > 1 and key != "majority" else None
        print(f"{key:14s} acc {np.mean(accs):.4f} per seed {[round(a, 4) for a in accs]} "
              f"vs majority {[round(100 * x, 2) for x in d]} points")
    if args.results:
        args.results.write_text(json.dumps(summary, indent=1))
    print(f"wall {summary['wall_s']:.0f} s, cpu {summary['cpu_s']:.0f} s")


if __name__ == "__main__":
    main()
