"""Study: does DPO on curated pairs of the policy's own samples raise the gold reward? Simulated world, CPU.

    SFT the built-in small GPT-2 (tether.sim's default config, a fixed step count: ~its 45 s budget)
      -> sample two answers per training prompt (temperature 0.7)
      -> simulated raters compare them (a campaign: 3 raters per pair, counterbalanced display order)
      -> audit + curate (tether.audit: reliability weights, soft labels, ties, reversals down-weighted)
      -> DPO from the SFT policy (tether.policy.train_dpo, the SFT policy as reference)
      -> greedy answers of both policies to held-out prompts (own random stream), scored by the gold reward

The gain is paired over held-out prompts (DPO minus SFT gold reward of the same prompt), per seed and pooled, with a
95% t-interval; a second arm trains on the same samples labelled by the gold reward itself (the labels' ceiling).
Each seed's work (SFT policy, samples, pairs) is kept under --work, so reruns reuse it.

    python benchmarks/policy_dpo_sim.py --seeds 0 1 --train-prompts 1500 --eval 400
    python benchmarks/policy_dpo_sim.py --seeds 0 --train-prompts 200 --eval 50 --sft-steps 50 --no-write  # smoke
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))

from policy_common import write_subsection  # noqa: E402


def sft_policy(world, folder: Path, steps: int, threads: int, seed: int) -> dict:  # noqa: ANN001
    """The sim's SFT for a fixed step count (a time budget would depend on the machine's load)."""
    from tether.sim import PolicyConfig, train_policy

    if not (folder / "config.json").is_file():
        train_policy(world, folder, PolicyConfig(max_steps=steps, max_seconds=3600, threads=threads, seed=seed),
                     show_progress=False)
    return json.loads((folder / "tether_policy.json").read_text())["result"]


def sampled_pairs(world, policy: Path, n: int, seed: int, work: Path, temperature: float,  # noqa: ANN001
                  greedy: bool = False) -> list:
    """Two sampled answers per training prompt (`greedy`: the greedy answer and one sample), as candidate pairs
    (identical answers dropped); each set of answers is kept under `work` as soon as it is drawn."""
    from tether.sim import CandidatePair, Style
    from tether.sim.policy import generate, load_policy

    prompts = world.prompts(n, stream="dpo-train")
    texts = [p.text for p in prompts]
    answers = []
    for k in (1, 2):
        first_greedy = greedy and k == 1
        path = work / (f"greedy-{n}.json" if first_greedy else f"samples-{n}-t{temperature}-{k}.json")
        if not path.is_file():
            model, tok = load_policy(policy)
            path.write_text(json.dumps(generate(model, tok, texts, do_sample=not first_greedy,
                                                temperature=temperature, seed=seed * 10 + k)))
        answers.append(json.loads(path.read_text()))
    return [CandidatePair(p, a, b, Style(), Style(), ("policy-sample",))
            for p, a, b in zip(prompts, *answers, strict=True) if a != b]


def curated(world, candidates: list, seed: int, n_gold: int) -> tuple[list, dict]:  # noqa: ANN001
    """The raters' campaign on the candidates, audited and curated as the real pipeline does.

    `n_gold` designed pairs with known labels go into the campaign as qualification items: without them most
    pairs (two samples of one policy are often equally good) give the reliability models nothing to go on and
    every rater scores 0. They calibrate the raters and are left out of the training pairs."""
    from tether.audit import AuditConfig, CurateConfig, curate, run_audit
    from tether.sim import CampaignConfig

    items = world.candidate_pairs(n_gold)
    gold = {c.pair_id: world.gold_label(c.prompt, c.response_a, c.response_b) for c in items}
    comparisons = world.run_campaign(candidates + items, config=CampaignConfig(name=f"dpo-study-{seed}", overlap=3))
    audit = run_audit(comparisons, AuditConfig(n_bootstrap=0, gold=gold))
    # the 0.4 rule blocks task types for *scaling a campaign*; for training their pairs stay at a lower weight
    pairs = [p for p in curate(audit, CurateConfig(policy="downweight", include_blocked=True)).pairs
             if p.provenance["pair_id"] not in gold]
    right = sum(world.gold_label(p.prompt, p.chosen, p.rejected) == "a" for p in pairs if not p.tie)
    wrong = sum(world.gold_label(p.prompt, p.chosen, p.rejected) == "b" for p in pairs if not p.tie)
    return pairs, {"comparisons": len(comparisons), "pairs": len(pairs), "ties": sum(p.tie for p in pairs),
                   "mean_weight": sum(p.weight for p in pairs) / max(1, len(pairs)), "gold_items": len(items),
                   "blocked": len(audit.blocked_task_types), "task_types": len(audit.verdicts),
                   "right": right, "wrong": wrong}


def gold_labelled(world, candidates: list) -> list:  # noqa: ANN001
    """The same candidates labelled by the gold reward (gold ties left out): the ceiling of the labels."""
    return world.gold_pairs(candidates)


def greedy_gold(world, folder: Path, prompts: list[str]) -> list[dict]:  # noqa: ANN001
    from tether.sim.policy import generate, load_policy

    model, tok = load_policy(folder)
    answers = generate(model, tok, prompts)
    return [world.gold_reward(p, a) for p, a in zip(prompts, answers, strict=True)]


def paired(a: list[dict], b: list[dict], key: str) -> dict:
    """Mean of b - a over prompts with a 95% t-interval."""
    from scipy import stats

    d = [y[key] - x[key] for x, y in zip(a, b, strict=True)]
    n = len(d)
    mean = sum(d) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": n}


def cached(path: Path, compute):  # noqa: ANN001, ANN201
    """JSON-able work kept under --work: the audit and the SFT policy's scores do not change with DPO settings."""
    if not path.is_file():
        path.write_text(json.dumps(compute()))
    return json.loads(path.read_text())


def _dump(pairs: list, counts: dict) -> tuple[list, dict]:
    return [p.model_dump(mode="json") for p in pairs], counts


def run_seed(seed: int, args) -> dict:  # noqa: ANN001
    import torch

    from tether.policy import DPOConfig, train_dpo
    from tether.records import PreferencePair
    from tether.sim import World

    torch.set_num_threads(args.threads)
    work = Path(args.work) / f"seed-{seed}"
    work.mkdir(parents=True, exist_ok=True)
    world = World(seed=seed)
    t0 = time.perf_counter()
    sft = sft_policy(world, work / "sft", args.sft_steps, args.threads, seed)
    candidates = sampled_pairs(world, work / "sft", args.train_prompts, seed, work, args.temperature, args.greedy)
    tag = f"{args.train_prompts}-t{args.temperature}{'-greedy' if args.greedy else ''}"
    pairs, counts = cached(work / f"curated-{tag}-{args.gold_items}.json",
                           lambda: _dump(
        *curated(world, candidates, seed, args.gold_items)))
    pairs = [PreferencePair(**p) for p in pairs]
    arms = {"curated rater pairs": pairs}
    if args.gold_arm:
        arms["gold-labelled pairs"] = gold_labelled(world, candidates)
    cfg = DPOConfig(loss=args.loss, beta=args.beta, lr=args.lr, epochs=args.epochs, batch_size=args.batch,
                    sft_weight=args.sft_weight,
                    max_length=192, mixed_precision="no", samples=0, seed=seed, bucket=False)
    held = [p.text for p in world.prompts(args.eval, stream="dpo-eval")]
    base = cached(work / f"base-{args.eval}.json", lambda: greedy_gold(world, work / "sft", held))
    out = {"seed": seed, "sft": sft, "counts": counts, "arms": {}, "base": base}
    for name, arm_pairs in arms.items():
        folder = work / (f"dpo-{name.split()[0]}-{tag}-{args.loss}-{args.lr}-"
                         f"{args.epochs}-{args.sft_weight}")

        def arm(folder: Path = folder, arm_pairs: list = arm_pairs) -> dict:
            res = train_dpo(work / "sft", arm_pairs, folder, cfg, progress=False)
            return {"gold": greedy_gold(world, folder, held), "steps": res.steps, "pairs": res.n_pairs,
                    "ties": res.n_ties, "accuracy": res.final_accuracy, "displacement": res.displacement,
                    "seconds": res.seconds}

        out["arms"][name] = cached(folder.with_name(folder.name + f"-eval{args.eval}.json"), arm)
    out["seconds"] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--train-prompts", type=int, default=1500)
    ap.add_argument("--gold-items", type=int, default=200, help="qualification pairs with known labels")
    ap.add_argument("--eval", type=int, default=400, help="held-out prompts scored per seed")
    ap.add_argument("--sft-steps", type=int, default=300, help="SFT steps (~45 s on 2 idle cores)")
    ap.add_argument("--loss", default="sigmoid")
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--sft-weight", type=float, default=1.0, help="RPO: weight of the chosen answers' NLL")
    ap.add_argument("--temperature", type=float, default=1.0, help="sampling temperature of the two answers")
    ap.add_argument("--greedy", action="store_true", help="pair the greedy answer with one sample instead of two")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gold-arm", action=argparse.BooleanOptionalAction, default=True,
                    help="also train on the same samples labelled by the gold reward")
    ap.add_argument("--work", default="/tmp/policy_dpo_sim")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    runs = [run_seed(s, args) for s in args.seeds]
    report(runs, args)


def report(runs: list[dict], args) -> None:  # noqa: ANN001
    keys = ("overall", "quality", "safety", "honesty")
    lines = [f"`python {' '.join(map(shlex.quote, sys.argv))}` — per seed: the sim's GPT-2 after its "
             f"{args.sft_steps}-step SFT (its default config; ~45 s on 2 idle cores) samples two answers to each "
             f"of {args.train_prompts} prompts (temperature {args.temperature}); 3 simulated raters per pair, "
             f"{args.gold_items} designed pairs with "
             "known labels mixed in to qualify the raters; audit + curate (reversals "
             "down-weighted, soft labels, ties, blocked task types kept at their lower weight); DPO "
             f"({args.loss}, beta {args.beta}, RPO weight {args.sft_weight}, lr {args.lr}, {args.epochs:g} epochs, "
             f"batch {args.batch}, fp32) "
             f"from the SFT policy; greedy answers to {args.eval} held-out prompts scored by the gold reward. "
             "Gain = DPO - SFT, paired over prompts, 95% t-interval.", "",
             "| seed | arm | pairs (ties) | steps | DPO s | final reward acc. | SFT overall | DPO overall | "
             "gain overall [95% CI] | gain quality [95% CI] | displacement |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    pooled: dict[str, tuple[list, list]] = {}
    for r in runs:
        for name, arm in r["arms"].items():
            g, q = paired(r["base"], arm["gold"], "overall"), paired(r["base"], arm["gold"], "quality")
            sft_mean = sum(x["overall"] for x in r["base"]) / len(r["base"])
            dpo_mean = sum(x["overall"] for x in arm["gold"]) / len(arm["gold"])
            disp = f"step {arm['displacement']['step']}" if arm["displacement"] else "-"
            lines.append(f"| {r['seed']} | {name} | {arm['pairs']} ({arm['ties']}) | {arm['steps']} | "
                         f"{arm['seconds']:.0f} | {arm['accuracy']:.3f} | {sft_mean:.3f} | {dpo_mean:.3f} | "
                         f"{g['mean']:+.4f} [{g['low']:+.4f}, {g['high']:+.4f}] | "
                         f"{q['mean']:+.4f} [{q['low']:+.4f}, {q['high']:+.4f}] | {disp} |")
            a, b = pooled.setdefault(name, ([], []))
            a += r["base"]
            b += arm["gold"]
    lines += ["", "Pooled over seeds (paired over all held-out prompts):", "",
              "| arm | " + " | ".join(f"gain {k} [95% CI]" for k in keys) + " |",
              "|---|" + "---|" * len(keys)]
    for name, (a, b) in pooled.items():
        cells = [paired(a, b, k) for k in keys]
        lines.append(f"| {name} | " + " | ".join(f"{c['mean']:+.4f} [{c['low']:+.4f}, {c['high']:+.4f}]"
                                                 for c in cells) + " |")
    counts = "; ".join(f"seed {r['seed']}: {r['counts']['comparisons']} judgments (incl. {r['counts']['gold_items']} "
                       f"qualification pairs x 3) -> {r['counts']['pairs']} curated pairs of the policy's samples "
                       f"({r['counts']['ties']} ties, mean weight {r['counts']['mean_weight']:.2f}; gold agrees with "
                       f"{r['counts']['right']}, disagrees with {r['counts']['wrong']}, the rest are gold ties; "
                       f"{r['counts']['blocked']} of {r['counts']['task_types']} task types below the 0.4 agreement "
                       "rule, kept at their lower weight), "
                       f"whole seed {r['seconds']:.0f} s" for r in runs)
    lines += ["", counts + ". Machine: 2-core shared dev machine, other work running."]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_subsection("Study: DPO on curated pairs of the policy's own samples (simulated world)", text)


if __name__ == "__main__":
    main()
