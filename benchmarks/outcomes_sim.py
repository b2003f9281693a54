"""Outcome audit on the simulated world: find a planted slice where raters and outcomes disagree, then fix it.

Per seed: World(seed) with a planted slice — every rater prefers a confident wrong answer on task type --planted
(`TraitDistribution(confident_wrong={planted: --bias})`); outcomes follow gold correctness, as production's do.

1. One campaign (30 raters, overlap 3, objective `overall`) over --pairs candidate pairs; `run_audit` + `curate`
   (blocked task types kept at the audit's weight, hard labels) -> the rater pairs. The rater audit's agreement on
   the planted task type is reported: raters agree with each other there, so it cannot see the slice.
2. Reward model R on the rater pairs (MiniLM + head, --steps optimizer steps of batch 16, training seed = seed).
3. --eval-prompts factual prompts x 4 sampled responses with outcomes (`tether.sim.outcome_rows`, stream
   `outcome-eval`), scored by R; `audit_outcomes` -> AUC per task type and the verdict's lines. Found = the
   verdict flags the planted task type (AUC at chance or below while overall is above) and no other, and its AUC
   is the lowest; strictly below chance (interval under 0.5) is reported beside.
4. --train-prompts other prompts x 4 responses (stream `outcome-train`) -> `outcome_pairs`; reward model R+O on
   rater pairs + outcome pairs, same settings and the same number of steps.
5. Gold accuracy of R and R+O on --test fresh gold-labelled pairs of the planted task type (and on --test pairs of
   the other task types), difference with a 95% paired bootstrap interval over the test pairs (2000 resamples,
   seeded); the outcome audit of R+O on the same eval rows.

    python benchmarks/outcomes_sim.py                      # 3 seeds, writes `### Simulated world: ...` (~15 min)
    python benchmarks/outcomes_sim.py --render s0.json s1.json  # one table from per-seed runs saved with --results
    python benchmarks/outcomes_sim.py --seeds 0 --pairs 150 --steps 5 --eval-prompts 60 --train-prompts 60 \
        --test 100 --no-write                              # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
from reward_common import machine_note, write_subsection  # noqa: E402

SECTION = "## Outcomes"
TITLE = "Simulated world: a planted slice where raters and outcomes disagree"
OBJECTIVE = "overall"


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n_boot: int, seed: int) -> tuple[float, float, float]:
    """Mean of b - a over test pairs, with a percentile 95% interval from resampling the pairs."""
    d = b.astype(float) - a.astype(float)
    idx = np.random.default_rng(seed).integers(0, d.size, size=(n_boot, d.size))
    boots = d[idx].mean(axis=1)
    return float(d.mean()), float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))


def slice_aucs(audit) -> dict[str, list]:  # noqa: ANN001
    return {k: [s.auc.value, s.auc.lo, s.auc.hi, s.n] for k, s in audit.by_slice["task_type"].items()}


def run_seed(seed: int, args: argparse.Namespace, work: Path) -> dict:
    from tether.audit.audit import run_audit
    from tether.audit.config import CurateConfig
    from tether.audit.curate import curate
    from tether.outcomes import AuditConfig, audit_outcomes, outcome_pairs, score_rows
    from tether.outcomes.pairs import PairConfig
    from tether.reward.model import RewardModel, pair_margins
    from tether.reward.train import TrainConfig, train
    from tether.sim import CampaignConfig, TraitDistribution, World, outcome_rows

    t0 = time.perf_counter()
    world = World(seed=seed)
    traits = TraitDistribution(confident_wrong={args.planted: args.bias})
    run = world.simulate_campaign(world.candidate_pairs(args.pairs), world.rater_pool(30, traits=traits),
                                  CampaignConfig(overlap=3, objective=OBJECTIVE))
    audit = run_audit(run.comparisons)
    rater_pairs = curate(audit, CurateConfig(include_blocked=True)).pairs
    agree = audit.agreement_by_task_type.get(args.planted)
    eval_rows = outcome_rows(world, args.eval_prompts, 4, stream="outcome-eval")
    train_rows = outcome_rows(world, args.train_prompts, 4, stream="outcome-train")
    o_pairs = outcome_pairs(train_rows, PairConfig(objective=OBJECTIVE, seed=seed))
    slice_test = world.gold_pairs(world.candidate_pairs(args.test, tasks=[args.planted]), [OBJECTIVE])
    other_test = [p for p in world.gold_pairs(world.candidate_pairs(args.test), [OBJECTIVE])
                  if p.provenance["task_type"] != args.planted]
    label_right = [world.gold_label(p.prompt, p.chosen, p.rejected, OBJECTIVE) == "a"
                   for p in rater_pairs if p.provenance.get("task_type") == args.planted and not p.tie]

    cfg = TrainConfig(backbone="minilm", max_steps=args.steps, batch_size=16, max_length=128, seed=seed,
                      use_soft_labels=False)
    audit_cfg = AuditConfig(n_boot=args.n_boot, seed=seed)
    out = {"seed": seed, "n_rater_pairs": len(rater_pairs), "n_outcome_pairs": len(o_pairs),
           "n_eval_rows": len(eval_rows), "n_slice_test": len(slice_test), "n_other_test": len(other_test),
           "planted_alpha": agree.primary.value if agree else float("nan"),
           "alpha_overall": audit.agreement_overall.primary.value,
           "planted_label_acc": float(np.mean(label_right)) if label_right else float("nan"),
           "blocked": sorted(audit.blocked_task_types), "models": {}}
    right = {}
    for key, pairs in (("rater", rater_pairs), ("rater+outcome", rater_pairs + o_pairs)):
        t1 = time.perf_counter()
        train(pairs, work / f"s{seed}-{key}", replace(cfg, name=f"sim-{key}"), progress=False)
        model = RewardModel.load(work / f"s{seed}-{key}")
        result = audit_outcomes(score_rows(eval_rows, model, OBJECTIVE), audit_cfg)
        right[key] = {"slice": pair_margins(model, slice_test) > 0, "other": pair_margins(model, other_test) > 0}
        aucs = slice_aucs(result)
        out["models"][key] = {
            "auc": aucs, "auc_overall": [result.overall.auc.value, result.overall.auc.lo, result.overall.auc.hi],
            "verdict": [v for v in result.verdict if "task_type" in v],
            "gold_slice": float(right[key]["slice"].mean()), "gold_other": float(right[key]["other"].mean()),
            "seconds": time.perf_counter() - t1,
        }
        m = out["models"][key]
        print(f"seed {seed} {key}: {len(pairs)} pairs; AUC on {args.planted} {aucs[args.planted][0]:.3f} "
              f"[{aucs[args.planted][1]:.3f}, {aucs[args.planted][2]:.3f}]; gold accuracy on the slice "
              f"{m['gold_slice']:.3f}, elsewhere {m['gold_other']:.3f}; {m['seconds']:.0f} s",
              file=sys.stderr, flush=True)
    for part in ("slice", "other"):
        out[f"gain_{part}"] = paired_bootstrap(right["rater"][part], right["rater+outcome"][part], 2000, seed)
    out["seconds"] = time.perf_counter() - t0
    return out


def findings(m: dict, planted: str) -> dict:
    """From one model's audit: task types its verdict flags, whether the planted one has the lowest AUC, and
    whether the planted one's AUC interval lies wholly below 0.5 while no other's does."""
    others = [v for k, v in m["auc"].items() if k != planted]
    mine = m["auc"][planted]
    return {"flagged": sorted(k for k in m["auc"] if any(f"task_type {k!r}" in v for v in m["verdict"])),
            "lowest": all(v[0] > mine[0] for v in others),
            "below": mine[2] < 0.5 and all(v[2] >= 0.5 for v in others)}


def ci(v: list) -> str:
    return f"{v[0]:.3f} [{v[1]:.3f}, {v[2]:.3f}]"


def pts(g: list) -> str:
    return f"{100 * g[0]:+.1f} [{100 * g[1]:+.1f}, {100 * g[2]:+.1f}]"


def report(results: list[dict], args: argparse.Namespace, minutes: float, note: str) -> str:
    seeds = ",".join(str(r["seed"]) for r in results)
    p = args.planted
    lines = [
        f"`python benchmarks/outcomes_sim.py --seeds {seeds} --planted {p} --bias {args.bias} --pairs {args.pairs} "
        f"--steps {args.steps} --eval-prompts {args.eval_prompts} --train-prompts {args.train_prompts} "
        f"--test {args.test}` — World(seed), every rater prefers a confident (unhedged) wrong answer on `{p}` "
        f"(`TraitDistribution(confident_wrong={{'{p}': {args.bias}}})`), outcomes follow gold correctness. Rater "
        f"pairs: one campaign of {args.pairs} candidate pairs (30 raters, overlap 3), `run_audit` + `curate` "
        "(blocked task types kept, hard labels). Reward models: MiniLM-L6 + head, "
        f"{args.steps} steps of batch 16, training seed = world seed; `rater` on the rater pairs, `rater+outcome` on "
        f"those plus `outcome_pairs` from {args.train_prompts} other prompts x 4 sampled responses. Outcome audit "
        f"(`audit_outcomes`, {args.n_boot} bootstrap resamples of prompts) on {args.eval_prompts} held-out factual "
        f"prompts x 4 responses. Gold accuracy on {args.test} fresh `{p}` pairs and fresh pairs of the other task "
        f"types (gold ties left out); gain = rater+outcome minus rater, paired bootstrap over test pairs (2000, "
        f"seeded), 95%. {minutes:.0f} min (summed over the runs). {note}",
        "",
        f"| seed | rater audit: alpha on `{p}` (overall) | rater labels right on `{p}` | AUC on `{p}`, rater model "
        f"| lowest AUC among other task types | task types the verdict flags | AUC on `{p}` after retraining |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        a, b = r["models"]["rater"], r["models"]["rater+outcome"]
        low_k, low_v = min(((k, v) for k, v in a["auc"].items() if k != p), key=lambda kv: kv[1][0])
        lines.append(f"| {r['seed']} | {r['planted_alpha']:.2f} ({r['alpha_overall']:.2f}) | "
                     f"{r['planted_label_acc']:.2f} | {ci(a['auc'][p])} | {ci(low_v)} (`{low_k}`) | "
                     f"{', '.join(findings(a, p)['flagged']) or 'none'} | {ci(b['auc'][p])} |")
    lines += ["", f"| seed | rater pairs + outcome pairs | gold accuracy on `{p}`: rater → rater+outcome | gain "
              "(points, 95%) | other task types: rater → rater+outcome | gain (points, 95%) |",
              "|---|---|---|---|---|---|"]
    for r in results:
        a, b = r["models"]["rater"], r["models"]["rater+outcome"]
        lines.append(f"| {r['seed']} | {r['n_rater_pairs']} + {r['n_outcome_pairs']} | {a['gold_slice']:.3f} → "
                     f"{b['gold_slice']:.3f} ({r['n_slice_test']} pairs) | **{pts(r['gain_slice'])}** | "
                     f"{a['gold_other']:.3f} → {b['gold_other']:.3f} ({r['n_other_test']} pairs) | "
                     f"{pts(r['gain_other'])} |")
    f = [findings(r["models"]["rater"], p) for r in results]
    found = sum(x["flagged"] == [p] and x["lowest"] for x in f)
    below = sum(x["below"] for x in f)
    raised = sum(r["gain_slice"][1] > 0 for r in results)
    lines += ["", "Outcome AUC over all task types, rater model → rater+outcome model: " + "; ".join(
        f"seed {r['seed']} {ci(r['models']['rater']['auc_overall'])} → "
        f"{ci(r['models']['rater+outcome']['auc_overall'])}" for r in results) + "."]
    for key in ("rater", "rater+outcome"):
        lines += ["", f"Per task type AUC, {key} model (first seed): " + ", ".join(
            f"`{k}` {ci(v)}" for k, v in results[0]["models"][key]["auc"].items()) + "."]
    if any(r["models"]["rater"]["auc_overall"][1] <= 0.5 for r in results):
        lines += ["", "Where the rater model's overall AUC interval includes 0.5, it hardly separates passing from "
                  "failing responses on any task type (the sampled responses also vary in length, hedging and "
                  "fluency independently of the outcome), so the audit's rule — flag a slice at chance while the "
                  "model is above chance overall — has little to contrast the planted slice with: at "
                  f"{args.steps} steps and {args.pairs} candidate pairs the model has not learnt correctness from "
                  "the raters anywhere, not only where they are biased."]
    if any(r["gain_slice"][2] < 0 for r in results):
        lines += ["", "Where retraining lowered gold accuracy on the slice: outcome pairs are ordered by correctness "
                  "alone (a passing response that is verbose, hedged or disfluent is `chosen` over a failing concise "
                  "one) while the gold `overall` objective also weighs concision, fluency and honesty, and the same "
                  "number of steps is spread over about 2.8x as many pairs — the likely cause, not tested here "
                  "(e.g. by outcome pairs that differ in correctness only, or more steps)."]
    lines += ["", "Verdict lines of the outcome audit on the rater model (first seed): "
              + " ".join(results[0]["models"]["rater"]["verdict"] or ["(none on task types)"]), "",
              "Done-when checks:",
              f"- the audit finds the planted slice: **{'met' if found == len(results) else 'not met'}** — its "
              f"verdict flags `{p}` and no other task type, and `{p}` has the lowest AUC, in {found} of "
              f"{len(results)} seeds; the AUC interval lies wholly below 0.5 (the model prefers what fails) in "
              f"{below} of {len(results)}.",
              f"- retraining with outcome pairs raises gold accuracy on the slice, interval excluding zero: "
              f"**{'met' if raised == len(results) else 'not met'}** — in {raised} of {len(results)} seeds."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--planted", default="capital", help="task type where raters favour confident wrong")
    parser.add_argument("--bias", type=float, default=0.15, help="utility raters add to a confident wrong answer")
    parser.add_argument("--pairs", type=int, default=800, help="candidate pairs in the campaign")
    parser.add_argument("--steps", type=int, default=150, help="optimizer steps (batch 16) for each model")
    parser.add_argument("--eval-prompts", type=int, default=300)
    parser.add_argument("--train-prompts", type=int, default=300)
    parser.add_argument("--test", type=int, default=400, help="fresh pairs for each gold test set")
    parser.add_argument("--n-boot", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--results", type=Path, help="save the figures as JSON here")
    parser.add_argument("--render", type=Path, nargs="+", help="only write the text from saved --results files "
                        "(one per seed run, same settings), no training")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.render:
        saved = [json.loads(f.read_text()) for f in args.render]
        results = [r for s in saved for r in s["results"]]
        minutes = sum(s["minutes"] for s in saved)  # process minutes summed over the runs (they may overlap)
        first = saved[0]["args"]
        for key in ("planted", "bias", "pairs", "steps", "eval_prompts", "train_prompts", "test", "n_boot"):
            setattr(args, key, type(getattr(args, key))(first[key]))
        text = report(results, args, minutes, saved[-1]["note"])
        print(text)
        if not args.no_write:
            write_subsection(TITLE, text, section_title=SECTION)
        return

    import torch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="outcomes_sim_") as tmp:
        results = [run_seed(int(s), args, Path(tmp)) for s in args.seeds.split(",")]
    minutes = (time.perf_counter() - t0) / 60
    note = machine_note()
    if args.results:
        args.results.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                            "results": results, "minutes": minutes, "note": note}, indent=1))
    text = report(results, args, minutes, note)
    print(text)
    if not args.no_write:
        write_subsection(TITLE, text, section_title=SECTION)


if __name__ == "__main__":
    main()
