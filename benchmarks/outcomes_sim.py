"""Outcome audit on the simulated world: find a planted slice where raters and outcomes disagree, then fix it.

Per seed: World(seed) with a planted slice — every rater prefers a confident wrong answer on task type --planted
(`TraitDistribution(confident_wrong={planted: --bias})`); outcomes follow gold correctness, as production's do.

1. One campaign (30 raters, overlap 3, objective `overall`) over --pairs candidate pairs; `run_audit` + `curate`
   (blocked task types kept at the audit's weight, hard labels) -> the rater pairs. The rater audit's agreement on
   the planted task type is reported: raters agree with each other there, so it cannot see the slice.
2. Reward model R on the rater pairs (MiniLM + head, --steps optimizer steps of batch 16 at learning rate --lr,
   training seed = seed).
3. --eval-prompts factual prompts x 4 sampled responses with outcomes (`tether.sim.outcome_rows`, stream
   `outcome-eval`), scored by R; `audit_outcomes` -> AUC per task type and the verdict's lines. Found = the
   verdict says the model prefers what fails (AUC interval under 0.5) on the planted task type and on no other,
   and its AUC is the lowest. Task types flagged only "at chance" are reported beside: there the model sees no
   outcome at all (MiniLM cannot do the arithmetic of `interest` or `code_output`), which is a different finding.
4. --train-prompts other prompts x --per-prompt responses (stream `outcome-train`) -> `outcome_pairs` with
   --match (`closest`: each failing response with its most alike passing one); reward model R+O on rater pairs +
   outcome pairs, same settings and the same number of steps.
5. Gold accuracy of R and R+O on --test fresh gold-labelled pairs of the planted task type (and on --test pairs of
   the other task types), difference with a 95% paired bootstrap interval over the test pairs (2000 resamples,
   seeded); the outcome audit of R+O on the same eval rows.

    python benchmarks/outcomes_sim.py             # 3 seeds, writes `### Simulated world: ...` (hours on 2 busy cores)
    python benchmarks/outcomes_sim.py --seeds 0 --models rater --no-write --results s0-r.json  # one model of one seed
    python benchmarks/outcomes_sim.py --ceilings --results ceil.json   # no training: raters' utility, pair agreement
    python benchmarks/outcomes_sim.py --render s0.json s1.json  # one table from per-seed runs saved with --results
    python benchmarks/outcomes_sim.py --rule s0-r.json s1-r.json  # slice-versus-rest rule on saved rater runs
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
RULE_TITLE = "Simulated world: the planted slice against the rest (slice-versus-rest rule)"
OBJECTIVE = "overall"
ROW_FIELDS = ("line", "prompt", "response", "score", "value", "group", "slices")


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n_boot: int, seed: int) -> tuple[float, float, float]:
    """Mean of b - a over test pairs, with a percentile 95% interval from resampling the pairs."""
    d = b.astype(float) - a.astype(float)
    idx = np.random.default_rng(seed).integers(0, d.size, size=(n_boot, d.size))
    boots = d[idx].mean(axis=1)
    return float(d.mean()), float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))


def slice_aucs(audit) -> dict[str, list]:  # noqa: ANN001
    return {k: [s.auc.value, s.auc.lo, s.auc.hi, s.n] for k, s in audit.by_slice["task_type"].items()}


def audit_figures(result) -> dict:  # noqa: ANN001
    """What the benchmark keeps of one outcome audit: AUC per task type and overall, the verdict's task-type lines,
    and each slice against the rest (`key=value`: [gap, lo, hi, AUC there, AUC on the rest, n, worse])."""
    return {"auc": slice_aucs(result),
            "auc_overall": [result.overall.auc.value, result.overall.auc.lo, result.overall.auc.hi],
            "verdict": [v for v in result.verdict if "task_type" in v],
            "gaps": {f"{g.key}={g.value}": [g.gap.value, g.gap.lo, g.gap.hi, g.auc, g.auc_rest, g.n, g.worse]
                     for g in result.slice_gaps}}


def reaudit(m: dict, n_boot: int, seed: int, slice_level: float | None = None) -> dict:
    """The audit's figures of one saved model, computed again from its saved scored rows with the audit's current
    rules (`--render` of runs saved before a rule was added)."""
    from tether.outcomes import AuditConfig, audit_outcomes
    from tether.outcomes.scored import ScoredResponse

    rows = [ScoredResponse(keys=(), **r) for r in m["rows"]]
    return audit_figures(audit_outcomes(rows, AuditConfig(n_boot=n_boot, seed=seed, slice_level=slice_level)))


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
    train_rows = outcome_rows(world, args.train_prompts, args.per_prompt, stream="outcome-train")
    o_pairs = outcome_pairs(train_rows, PairConfig(objective=OBJECTIVE, seed=seed, match=args.match,
                                                   min_similarity=args.min_similarity))
    slice_test = world.gold_pairs(world.candidate_pairs(args.test, tasks=[args.planted]), [OBJECTIVE])
    other_test = [p for p in world.gold_pairs(world.candidate_pairs(args.test), [OBJECTIVE])
                  if p.provenance["task_type"] != args.planted]
    label_right = [world.gold_label(p.prompt, p.chosen, p.rejected, OBJECTIVE) == "a"
                   for p in rater_pairs if p.provenance.get("task_type") == args.planted and not p.tie]

    cfg = TrainConfig(backbone="minilm", max_steps=args.steps, batch_size=16, max_length=args.max_length, seed=seed,
                      lr=args.lr, use_soft_labels=False)
    audit_cfg = AuditConfig(n_boot=args.n_boot, seed=seed)
    out = {"seed": seed, "n_rater_pairs": len(rater_pairs), "n_outcome_pairs": len(o_pairs),
           "n_eval_rows": len(eval_rows), "n_slice_test": len(slice_test), "n_other_test": len(other_test),
           "planted_alpha": agree.primary.value if agree else float("nan"),
           "alpha_overall": audit.agreement_overall.primary.value,
           "planted_label_acc": float(np.mean(label_right)) if label_right else float("nan"),
           "blocked": sorted(audit.blocked_task_types), "models": {},
           # how often an outcome pair's order (pass over fail) is also the gold `overall` order
           "outcome_pairs_gold": float(np.mean([world.gold_label(q.prompt, q.chosen, q.rejected, OBJECTIVE) == "a"
                                                for q in o_pairs])) if o_pairs else float("nan")}
    right = {}
    for key, pairs in (("rater", rater_pairs), ("rater+outcome", rater_pairs + o_pairs)):
        if key not in args.models.split(","):
            continue
        t1 = time.perf_counter()
        train(pairs, work / f"s{seed}-{key}", replace(cfg, name=f"sim-{key}"), progress=False)
        model = RewardModel.load(work / f"s{seed}-{key}")
        scored = score_rows(eval_rows, model, OBJECTIVE)
        result = audit_outcomes(scored, audit_cfg)
        right[key] = {"slice": pair_margins(model, slice_test) > 0, "other": pair_margins(model, other_test) > 0}
        figures = audit_figures(result)
        aucs = figures["auc"]
        out["models"][key] = {
            **figures,
            "gold_slice": float(right[key]["slice"].mean()), "gold_other": float(right[key]["other"].mean()),
            "right_slice": right[key]["slice"].astype(int).tolist(),
            "right_other": right[key]["other"].astype(int).tolist(),
            "seconds": time.perf_counter() - t1,
            # the scored eval rows, so --render can audit them again with the audit's current rules
            "rows": [{k: getattr(r, k) for k in ROW_FIELDS} for r in scored],
        }
        m = out["models"][key]
        print(f"seed {seed} {key}: {len(pairs)} pairs; AUC on {args.planted} {aucs[args.planted][0]:.3f} "
              f"[{aucs[args.planted][1]:.3f}, {aucs[args.planted][2]:.3f}]; gold accuracy on the slice "
              f"{m['gold_slice']:.3f}, elsewhere {m['gold_other']:.3f}; {m['seconds']:.0f} s",
              file=sys.stderr, flush=True)
    add_gains(out)
    out["seconds"] = time.perf_counter() - t0
    return out


def add_gains(out: dict) -> None:
    """Gain of rater+outcome over rater in gold accuracy, paired over the same test pairs (both models needed)."""
    if {"rater", "rater+outcome"} <= set(out["models"]):
        a, b = out["models"]["rater"], out["models"]["rater+outcome"]
        for part in ("slice", "other"):
            out[f"gain_{part}"] = paired_bootstrap(np.array(a[f"right_{part}"]), np.array(b[f"right_{part}"]), 2000,
                                                   out["seed"])


def merge_seeds(results: list[dict]) -> list[dict]:
    """One result per seed from runs that each trained some of the models (--models), gains computed here."""
    by_seed: dict[int, dict] = {}
    for r in results:
        if r["seed"] in by_seed:
            by_seed[r["seed"]]["models"].update(r["models"])
            by_seed[r["seed"]]["split"] = True
            by_seed[r["seed"]]["seconds"] += r["seconds"]
        else:
            by_seed[r["seed"]] = {**r, "models": dict(r["models"])}
    for r in by_seed.values():
        add_gains(r)
    return [by_seed[k] for k in sorted(by_seed)]


def ceilings(seed: int, args: argparse.Namespace) -> dict:
    """No training: outcome AUC per task type, on the same eval rows, of the gold `overall` reward and of the raters'
    own mean perceived utility (every rater who reads the language, `tether.sim.raters.perceive`) — what a reward
    model that learnt its labels perfectly would score, so what the audit could at best see."""
    import random

    from tether.outcomes import AuditConfig, audit_outcomes
    from tether.sim import TraitDistribution, World, outcome_rows
    from tether.sim.gold import gold_reward, parsed
    from tether.sim.raters import perceive

    world = World(seed=seed)
    pool = world.rater_pool(30, traits=TraitDistribution(confident_wrong={args.planted: args.bias}))
    rows = outcome_rows(world, args.eval_prompts, 4, stream="outcome-eval")
    rng = random.Random(seed)

    def rater_mean(prompt: str, text: str) -> float:
        lang = parsed(prompt)[0].language
        return float(np.mean([perceive(r, prompt, text, OBJECTIVE, world.config.gold, rng)[0]
                              for r in pool if lang in r.traits.languages]))

    out = {}
    for key, fn in (("gold", lambda q, t: gold_reward(q, t, world.config.gold)[OBJECTIVE]), ("raters", rater_mean)):
        res = audit_outcomes([replace(r, score=fn(r.prompt, r.response)) for r in rows],
                             AuditConfig(n_boot=args.n_boot, seed=seed))
        out[key] = slice_aucs(res)
    # how often outcome pairs (this run's training rows) are also in the gold `overall` order, per way of matching
    from tether.outcomes import outcome_pairs
    from tether.outcomes.pairs import PairConfig

    train_rows = outcome_rows(world, args.train_prompts, args.per_prompt, stream="outcome-train")
    agree = {}
    for match in ("all", "closest"):
        pairs = outcome_pairs(train_rows, PairConfig(objective=OBJECTIVE, seed=seed, match=match))
        ok = [world.gold_label(q.prompt, q.chosen, q.rejected, OBJECTIVE) == "a" for q in pairs]
        mine = [o for o, q in zip(ok, pairs, strict=True) if q.provenance["task_type"] == args.planted]
        agree[match] = [float(np.mean(ok)), len(ok), float(np.mean(mine)) if mine else float("nan"), len(mine)]
    return {"seed": seed, **out, "pairs_gold": agree}


def findings(m: dict, planted: str) -> dict:
    """From one model's audit: task types its verdict says it prefers failing responses on (`below`), task types
    it flags only at chance, whether the planted one has the lowest AUC, and the slices (any key) flagged worse
    than the rest (`worse`; None for runs saved before that rule)."""
    def said(words: str) -> list[str]:
        return sorted(k for k in m["auc"] if any(f"task_type {k!r}" in v and words in v for v in m["verdict"]))

    others = [v for k, v in m["auc"].items() if k != planted]
    return {"below": said("ranks failing responses above passing"), "chance": said("only at chance"),
            "lowest": all(v[0] > m["auc"][planted][0] for v in others),
            "worse": sorted(k for k, g in m["gaps"].items() if g[6]) if "gaps" in m else None}


def rule_report(results: list[dict], bonferroni: list[dict], args: argparse.Namespace, minutes: float,
                note: str) -> str:
    """The slice-versus-rest rule on the rater model of each seed: the planted slice's gap, what is flagged at the
    audit's 95% and at a Bonferroni level over the slices compared, and whether only the planted slice is."""
    p = args.planted
    lines = [
        f"`python benchmarks/outcomes_sim.py --seeds S --models rater --results FILE --planted {p} --bias "
        f"{args.bias} --pairs {args.pairs} --steps {args.steps} --eval-prompts {args.eval_prompts} --train-prompts "
        f"{args.train_prompts} --test {args.test} --lr {args.lr} --max-length {args.max_length} --per-prompt "
        f"{args.per_prompt} --match {args.match}` for S = " + ", ".join(str(r["seed"]) for r in results)
        + " (one process each, side by side, `nice`), then `python benchmarks/outcomes_sim.py --rule FILE...`, which "
        f"audits each run's saved scored rows again. The rater model is the second design's (same settings and "
        f"seeds), audited on {results[0]['n_eval_rows']} eval rows ({args.eval_prompts} prompts x 4). Rule: for "
        "every slice (task type, language, response-length tertile), the AUC on the slice minus the AUC on every "
        "other response, "
        f"with a percentile interval from {args.n_boot} resamples of prompts (the same resamples for every slice); "
        f"a slice is worse than the rest when the interval lies wholly below 0. {minutes:.0f} min of wall time "
        f"summed over the runs. {note}",
        "",
        f"| seed | AUC on `{p}` | AUC on the rest | gap (95%) | worse than the rest, 95% | gap at Bonferroni level "
        f"(k slices, level) | worse than the rest, Bonferroni | `{p}` lowest AUC |",
        "|---|---|---|---|---|---|---|---|",
    ]
    key = f"task_type={p}"
    for r, b in zip(results, bonferroni, strict=True):
        g, gb = r["models"]["rater"]["gaps"][key], b["gaps"][key]
        f = findings(r["models"]["rater"], p)
        lines.append(f"| {r['seed']} | {g[3]:.3f} | {g[4]:.3f} | {ci(g)} | {', '.join(f['worse']) or 'none'} | "
                     f"{ci(gb)} ({len(b['gaps'])}, {b['level']:.4f}) | "
                     f"{', '.join(k for k, v in sorted(b['gaps'].items()) if v[6]) or 'none'} | "
                     f"{'yes' if f['lowest'] else 'no'} |")
    flagged = [findings(r["models"]["rater"], p)["worse"] for r in results]
    flagged_b = [sorted(k for k, v in b["gaps"].items() if v[6]) for b in bonferroni]

    def task_types(keys: list[str]) -> list[str]:
        return [k for k in keys if k.startswith("task_type=")]

    only, only_b = sum(f == [key] for f in flagged), sum(f == [key] for f in flagged_b)
    only_tt, only_tt_b = (sum(task_types(f) == [key] for f in fs) for fs in (flagged, flagged_b))
    first = results[0]["models"]["rater"]["gaps"]
    lines += ["", "Every slice against the rest, rater model (first seed): " + ", ".join(
        f"`{k}` {ci(v)}" for k, v in first.items()) + ".", "",
        "Done-when check (slice-versus-rest rule):",
        f"- the audit flags `{p}` and no other slice as worse than the rest (95% intervals): "
        f"**{'met' if only == len(results) else 'not met'}** — in {only} of {len(results)} seeds ({only_b} of "
        f"{len(results)} at the Bonferroni level over the slices compared).",
        f"- among task types, `{p}` and no other is flagged: in {only_tt} of {len(results)} seeds at 95% "
        f"({only_tt_b} of {len(results)} at the Bonferroni level); a slice that contains `{p}` (its language, a "
        "length tertile) may be flagged with it, as its rows are partly the same."]
    return "\n".join(lines)


def ci(v: list) -> str:
    return f"{v[0]:.3f} [{v[1]:.3f}, {v[2]:.3f}]"


def pts(g: list) -> str:
    return f"{100 * g[0]:+.1f} [{100 * g[1]:+.1f}, {100 * g[2]:+.1f}]"


def report(results: list[dict], args: argparse.Namespace, minutes: float, note: str,
           ceiling: list[dict] | None = None) -> str:
    seeds = ",".join(str(r["seed"]) for r in results)
    p = args.planted
    lines = [
        f"`python benchmarks/outcomes_sim.py --seeds {seeds} --planted {p} --bias {args.bias} --pairs {args.pairs} "
        f"--steps {args.steps} --eval-prompts {args.eval_prompts} --train-prompts {args.train_prompts} "
        f"--test {args.test} --lr {args.lr} --max-length {args.max_length} --per-prompt {args.per_prompt} "
        f"--match {args.match}" + (f" --min-similarity {args.min_similarity}" if args.min_similarity else "")
        + f"` — World(seed), every rater prefers a confident (unhedged) wrong answer on `{p}` "
        f"(`TraitDistribution(confident_wrong={{'{p}': {args.bias}}})`), outcomes follow gold correctness. Rater "
        f"pairs: one campaign of {args.pairs} candidate pairs (30 raters, overlap 3), `run_audit` + `curate` "
        "(blocked task types kept, hard labels). Reward models: MiniLM-L6 + head, "
        f"{args.steps} steps of batch 16, learning rate {args.lr}, max length {args.max_length}, training seed = "
        f"world seed; `rater` on the rater pairs, `rater+outcome` on those plus `outcome_pairs` (match "
        f"`{args.match}`) from {args.train_prompts} other prompts x {args.per_prompt} sampled responses. Outcome audit "
        f"(`audit_outcomes`, {args.n_boot} bootstrap resamples of prompts) on {args.eval_prompts} held-out factual "
        f"prompts x 4 responses. Gold accuracy on {args.test} fresh `{p}` pairs and fresh pairs of the other task "
        f"types (gold ties left out); gain = rater+outcome minus rater, paired bootstrap over test pairs (2000, "
        f"seeded), 95%. {minutes:.0f} min of wall time summed over the runs (runs may have gone side by side). {note}"
        + (" Run as one process per seed and model (`--seeds S --models M --results FILE` with the settings above), "
           "joined with `--render`." if any(r.get("split") for r in results) else ""),
        "",
        f"| seed | rater audit: alpha on `{p}` (overall) | rater labels right on `{p}` | AUC on `{p}`, rater model "
        f"| lowest AUC among other task types | verdict: prefers what fails on | verdict: only at chance on "
        f"| worse than the rest (slice against rest) | AUC on `{p}` after retraining |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        a, b = r["models"]["rater"], r["models"]["rater+outcome"]
        low_k, low_v = min(((k, v) for k, v in a["auc"].items() if k != p), key=lambda kv: kv[1][0])
        lines.append(f"| {r['seed']} | {r['planted_alpha']:.2f} ({r['alpha_overall']:.2f}) | "
                     f"{r['planted_label_acc']:.2f} | {ci(a['auc'][p])} | {ci(low_v)} (`{low_k}`) | "
                     f"{', '.join(findings(a, p)['below']) or 'none'} | "
                     f"{', '.join(findings(a, p)['chance']) or 'none'} | "
                     f"{'n/a' if findings(a, p)['worse'] is None else ', '.join(findings(a, p)['worse']) or 'none'} | "
                     f"{ci(b['auc'][p])} |")
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
    found = sum(x["below"] == [p] and x["lowest"] for x in f)
    worse = sum(x["worse"] == [f"task_type={p}"] for x in f)
    worse_tt = sum([k for k in x["worse"] or [] if k.startswith("task_type=")] == [f"task_type={p}"] for x in f)
    has_rule = all(x["worse"] is not None for x in f)
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
    if ceiling:
        lines += ["", "Without training (`--ceilings`, the same eval rows): outcome AUC per task type of the raters' "
                  "mean perceived utility, what a reward model that learnt the rater labels perfectly would score; "
                  "and how often outcome pairs from the training rows are in the gold `overall` order.", "",
                  f"| seed | raters' utility on `{p}` | lowest other task type | gold reward on `{p}` | pairs in gold "
                  f"order, match all (on `{p}`) | match closest (on `{p}`) |", "|---|---|---|---|---|---|"]
    for c in ceiling or []:
        low_k, low_v = min(((k, v) for k, v in c["raters"].items() if k != p), key=lambda kv: kv[1][0])
        agree = [f"{100 * a[0]:.1f}% of {a[1]} ({100 * a[2]:.1f}% of {a[3]})" for a in
                 (c["pairs_gold"]["all"], c["pairs_gold"]["closest"])]
        lines.append(f"| {c['seed']} | {ci(c['raters'][p])} | {ci(low_v)} (`{low_k}`) | {ci(c['gold'][p])} | "
                     f"{agree[0]} | {agree[1]} |")
    lines += ["", "Outcome pairs whose order (passing over failing) is also the gold `overall` order: " + "; ".join(
        f"seed {r['seed']} {100 * r.get('outcome_pairs_gold', float('nan')):.1f}%" for r in results) + "."]
    lines += ["", "Verdict lines of the outcome audit on the rater model (first seed): "
              + " ".join(results[0]["models"]["rater"]["verdict"] or ["(none on task types)"]), "",
              "Done-when checks:",
              f"- the audit finds the planted slice: **{'met' if found == len(results) else 'not met'}** — its "
              f"verdict says the rater model prefers failing responses (AUC interval wholly below 0.5) on `{p}` and "
              f"on no other task type, and `{p}` has the lowest AUC, in {found} of {len(results)} seeds.",
              "- the audit finds the planted slice by the slice-versus-rest rule: "
              + (f"**{'met' if worse == len(results) else 'not met'}** — `{p}` and no other slice (task type or "
                 f"language or length) has its AUC-gap interval against the rest wholly below 0, in {worse} of "
                 f"{len(results)} seeds (`{p}` and no other task type: {worse_tt} of {len(results)})."
                 if has_rule else "not measured (runs saved before the rule)."),
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
    parser.add_argument("--lr", type=float, default=1.5e-4, help="learning rate of the backbone")
    parser.add_argument("--max-length", type=int, default=96, help="tokens per prompt + response")
    parser.add_argument("--per-prompt", type=int, default=8, help="sampled responses per outcome-train prompt")
    parser.add_argument("--match", default="closest", help="how outcome pairs are matched: all or closest")
    parser.add_argument("--min-similarity", type=float, default=0.0, help="with --match closest")
    parser.add_argument("--n-boot", type=int, default=500)
    parser.add_argument("--models", default="rater,rater+outcome", help="which models this run trains (split a "
                        "seed over two processes; --render joins them by seed)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--results", type=Path, help="save the figures as JSON here")
    parser.add_argument("--render", type=Path, nargs="+", help="only write the text from saved --results files "
                        "(one per seed run, same settings), no training")
    parser.add_argument("--rule", type=Path, nargs="+", help="only the slice-versus-rest rule on the rater model of "
                        "saved --results files (audited again from their scored rows; writes its own subsection)")
    parser.add_argument("--ceilings", action="store_true", help="no training: only the AUC per task type of the gold "
                        "reward and of the raters' mean perceived utility (saved with --results for --render)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.rule:
        saved = [json.loads(f.read_text()) for f in args.rule]
        results = merge_seeds([r for s in saved for r in s["results"]])
        first = saved[0]["args"]
        for key in ("planted", "bias", "pairs", "steps", "eval_prompts", "train_prompts", "test", "n_boot", "lr",
                    "max_length", "per_prompt", "match"):
            setattr(args, key, type(getattr(args, key))(first[key]))
        strict = []
        for r in results:
            m = r["models"]["rater"]
            m.update(reaudit(m, args.n_boot, r["seed"]))
            level = 1 - 0.05 / len(m["gaps"])  # Bonferroni over the slices compared
            strict.append({**reaudit(m, args.n_boot, r["seed"], slice_level=level), "level": level})
        text = rule_report(results, strict, args, sum(s["minutes"] for s in saved), saved[-1]["note"])
        print(text)
        if not args.no_write:
            write_subsection(RULE_TITLE, text, section_title=SECTION)
        return
    if args.render:
        loaded = [json.loads(f.read_text()) for f in args.render]
        ceiling = [c for s in loaded for c in s.get("ceilings", [])]
        saved = [s for s in loaded if "results" in s]
        results = merge_seeds([r for s in saved for r in s["results"]])
        for r in results:
            for m in r["models"].values():
                if "rows" in m:
                    m.update(reaudit(m, int(saved[0]["args"]["n_boot"]), r["seed"]))
        minutes = sum(s["minutes"] for s in saved)  # process minutes summed over the runs (they may overlap)
        first = saved[0]["args"]
        for key in ("planted", "bias", "pairs", "steps", "eval_prompts", "train_prompts", "test", "n_boot", "lr",
                    "max_length", "per_prompt", "match", "min_similarity"):
            setattr(args, key, type(getattr(args, key))(first[key]))
        text = report(results, args, minutes, saved[-1]["note"], ceiling)
        print(text)
        if not args.no_write:
            write_subsection(TITLE, text, section_title=SECTION)
        return
    if args.ceilings:
        found = [ceilings(int(s), args) for s in args.seeds.split(",")]
        print(json.dumps(found, indent=1))
        if args.results:
            args.results.write_text(json.dumps({"ceilings": found}, indent=1))
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
    if args.models != "rater,rater+outcome":
        print("one model per seed: join the runs with --render", file=sys.stderr)
        return
    text = report(results, args, minutes, note)
    print(text)
    if not args.no_write:
        write_subsection(TITLE, text, section_title=SECTION)


if __name__ == "__main__":
    main()
