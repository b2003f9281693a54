"""PandaLM: which training labels pay off on real annotations, frozen encoder + reward head per arm.

Same split as `reward_pandalm.py` (prompts split 80/20 with split seed = seed; the audit sees only the train
items), the same frozen MiniLM-L6 embeddings (max length --max-length) and head as `reward_sim_labels.py`
for every arm, the same budget (--iters full-batch steps, weights rescaled to mean 1):

- majority: one hard label per train item by majority (tie majorities and three-way splits dropped), weight 1;
- curated-rater: `curate(reliability="rater", weights="reliability")` (one reliability per rater, the former
  default; on PandaLM every weight is the same), hard;
- tether: `curate(reliability="slice", weights="posterior")`, hard labels;
- tether-soft: the same pairs, p_chosen as the target;
- curated-rater-soft: the curated-rater pairs with their p_chosen as the target;
- majority-smooth: the majority pairs with one soft target for all, the curated-rater set's mean p_chosen (is
  curated-rater-soft's gain the labels' or plain label smoothing's?);
- tether-soft-flat: tether-soft with every weight 1 (the posterior weights' own effect);
- tether-ties (`--head ngram` only): tether-soft with the tie pairs kept, target 0.5.

Ties are left out of training in every other arm (the MiniLM heads have no tie output). Held out: accuracy on
items whose three-annotator majority is a or b, and on the unanimous ones; the length-only reference beside them.

    python benchmarks/reward_pandalm_labels.py --seeds 0,1,2 --head mlp --results pandalm.json
    python benchmarks/reward_pandalm_labels.py --seeds 0,1,2 --head ngram --l2 1e-3 --iters 200  # RESULTS.md

`--head ngram` is the hashed word n-gram probe (`tether.reward.probe.NgramReward`), not the packaged MiniLM
reward model: figures from it say which labels teach a cheap linear model more, nothing about MiniLM's accuracy.
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
from reward_sim_labels import Embedder, Texts, make_embedder, score_arm, t_interval  # noqa: E402

ARMS = ("majority", "curated-rater", "tether", "tether-soft")


def probe_with_ties(pairs: list, args: argparse.Namespace, test: tuple) -> tuple[np.ndarray, list]:
    """The n-gram probe on every pair, ties included at target 0.5 (soft labels elsewhere)."""
    from tether.reward.probe import NgramReward

    probe = NgramReward(l2=args.l2, max_iter=args.iters).fit(pairs, soft=True)
    margin = probe.score(*zip(*test[0], strict=True)) - probe.score(*zip(*test[1], strict=True))
    return margin > 0, [p for p in pairs if not p.tie]


def run_seed(seed: int, args: argparse.Namespace, embed: Embedder | Texts) -> dict:
    from tether.audit.audit import run_audit
    from tether.audit.config import CurateConfig
    from tether.audit.curate import curate

    train, held, _ = load_split(args.holdout, seed)
    audit = run_audit(train)
    tether = curate(audit, CurateConfig(reliability="slice", weights="posterior")).pairs
    rater = curate(audit, CurateConfig(reliability="rater", weights="reliability")).pairs
    flat = [p.model_copy(update={"weight": 1.0}) for p in tether]
    smooth = float(np.mean([p.p_chosen for p in rater if not p.tie]))
    maj = majority_pairs(train)
    sets = {"majority": (maj, False), "curated-rater": (rater, False),
            "majority-smooth": ([p.model_copy(update={"p_chosen": smooth}) for p in maj], True),
            "curated-rater-soft": (rater, True), "tether": (tether, False), "tether-soft": (tether, True),
            "tether-soft-flat": (flat, True), "tether-ties": (tether, True)}
    test, unanimous = held_pairs(held)
    e_c = embed([(p.prompt, p.chosen) for p in test])
    e_r = embed([(p.prompt, p.rejected) for p in test])
    out = {"seed": seed, "n_train_items": audit.table.n_items, "n_test": len(test),
           "n_unanimous": int(unanimous.sum()), "length": longer_wins(test, unanimous), "arms": {}}
    for key in args.arms:
        pairs, soft = sets[key]
        t0 = time.process_time()
        if key == "tether-ties":
            correct, decided = probe_with_ties(pairs, args, (e_c, e_r))
        else:
            correct, decided = score_arm(embed, pairs, soft, args, seed, (e_c, e_r))
        w = np.array([p.weight for p in decided])
        out["arms"][key] = {"pairs": len(decided), "acc": float(correct.mean()),
                            "acc_unanimous": float(correct[unanimous].mean()),
                            "acc_split": float(correct[~unanimous].mean()) if (~unanimous).any() else None,
                            "weight_cv": float(w.std() / w.mean()) if w.size else None,
                            "p_chosen_mean": float(np.mean([1.0 if p.p_chosen is None else p.p_chosen
                                                            for p in decided])),
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
    per_rater = CurateConfig(reliability="rater", weights="reliability")
    old = [p for p in curate(audit, per_rater).pairs if not p.tie]
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
    parser.add_argument("--head", choices=("linear", "mlp", "ngram"), default="mlp",
                        help="ngram: the hashed word n-gram probe (tether.reward.probe), no encoder")
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
    if "tether-ties" in args.arms and args.head != "ngram":
        parser.error("the tether-ties arm needs --head ngram")
    embed = make_embedder(args, max_length=args.max_length)
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
