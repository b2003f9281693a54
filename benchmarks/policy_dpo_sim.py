"""Study: does DPO on curated pairs of the policy's own samples raise the gold reward? Simulated world, CPU.

    SFT the built-in small GPT-2 (tether.sim's default config, a fixed step count)
      -> sample k answers per training prompt (KV-cached rollout, temperature 1.0)
      -> simulated raters compare every pair of distinct answers (3 raters per pair, counterbalanced display order),
         with designed qualification pairs of known label mixed in
      -> audit + curate (tether.audit: reliability weights, soft labels, ties, reversals down-weighted)
      -> training pairs: every curated pair, or (`--pairing best-worst`) one per prompt, the best of its k answers
         against the worst by a Bradley-Terry fit to its curated judgments (tether.policy.ranking)
      -> DPO from the SFT policy (tether.policy.train_dpo, the SFT policy as reference)
      -> both policies' greedy answers to held-out prompts (own random stream), and (`--eval-samples m`) the mean of
         m sampled answers per prompt (same seeds for both), scored by the gold reward

The gain is paired over held-out prompts (DPO minus SFT gold reward of the same prompt), per seed and pooled, with a
95% t-interval; a second arm trains on the same samples labelled by the gold reward itself (the labels' ceiling).
Each seed's work (SFT policy, samples, pairs, evaluations) is kept under --work, so reruns reuse it.

    python benchmarks/policy_dpo_sim.py --seeds 0 1 --train-prompts 600 --k 4 --pairing best-worst --gold-items 500 \
        --eval 200 --eval-samples 2
    python benchmarks/policy_dpo_sim.py --seeds 0 --train-prompts 100 --gold-items 50 --eval 30 --k 4 \
        --pairing best-worst --eval-samples 2 --epochs 1 --no-write  # smoke
"""

from __future__ import annotations

import argparse
import itertools
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
                  greedy: bool = False, k: int = 2) -> list:
    """k sampled answers per training prompt (`greedy`: the greedy answer and one sample instead), as candidate
    pairs: every pair of distinct answers to a prompt (k = 2: one pair). The answers are kept under `work`."""
    from tether.sim import CandidatePair, Style

    prompts = world.prompts(n, stream="dpo-train")
    texts = [p.text for p in prompts]
    if greedy:
        first = cached(work / f"greedy-{n}.json", lambda: policy_answers(policy, texts, seed=seed))
        other = cached(work / f"samples-{n}-t{temperature}-k1.json",
                       lambda: policy_answers(policy, texts, k=1, temperature=temperature, seed=seed * 10 + 1))
        answers = [[a, b] for a, b in zip(first, other, strict=True)]
    else:
        flat = cached(work / f"samples-{n}-t{temperature}-k{k}.json",
                      lambda: policy_answers(policy, texts, k=k, temperature=temperature, seed=seed * 10 + 1))
        answers = [flat[i * k:(i + 1) * k] for i in range(n)]
    out = []
    for p, group in zip(prompts, answers, strict=True):
        distinct = list(dict.fromkeys(group))
        out += [CandidatePair(p, a, b, Style(), Style(), ("policy-sample",))
                for a, b in itertools.combinations(distinct, 2)]
    return out


def policy_answers(folder: Path, prompts: list[str], *, k: int = 1, temperature: float | None = None,
                   seed: int = 0) -> list[str]:
    """k answers per prompt (adjacent), sampled at `temperature` or greedy (None), by the KV-cached rollout."""
    from tether.policy.generation import sample_texts
    from tether.sim.policy import PROMPT_FORMAT, load_policy

    model, tok = load_policy(folder)
    texts, _ = sample_texts(model, tok, prompts, k=k, prompt_format=PROMPT_FORMAT, do_sample=temperature is not None,
                            temperature=temperature or 1.0, seed=seed)
    return texts


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


def policy_gold(world, folder: Path, prompts: list[str], samples: int = 0, temperature: float = 1.0,  # noqa: ANN001
                seed: int = 0) -> list[dict]:
    """Gold reward per held-out prompt: of the greedy answer (`samples` 0), or the mean over `samples` answers
    sampled at `temperature` (the same seed for every policy: common random numbers pair the comparison)."""
    if not samples:
        answers = policy_answers(folder, prompts)
        return [world.gold_reward(p, a) for p, a in zip(prompts, answers, strict=True)]
    answers = policy_answers(folder, prompts, k=samples, temperature=temperature, seed=10_000 + seed)
    out = []
    for i, p in enumerate(prompts):
        golds = [world.gold_reward(p, a) for a in answers[i * samples:(i + 1) * samples]]
        out.append({key: sum(g[key] for g in golds) / samples for key in golds[0]})
    return out


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
    from tether.policy.ranking import best_worst_pairs
    from tether.records import PreferencePair
    from tether.sim import World

    torch.set_num_threads(args.threads)
    work = Path(args.work) / f"seed-{seed}"
    work.mkdir(parents=True, exist_ok=True)
    world = World(seed=seed)
    t0 = time.perf_counter()
    sft = sft_policy(world, work / "sft", args.sft_steps, args.threads, seed)
    candidates = sampled_pairs(world, work / "sft", args.train_prompts, seed, work, args.temperature, args.greedy,
                               args.k)
    tag = f"{args.train_prompts}-t{args.temperature}{'-greedy' if args.greedy else f'-k{args.k}'}"
    pairs, counts = cached(work / f"curated-{tag}-{args.gold_items}.json",
                           lambda: _dump(*curated(world, candidates, seed, args.gold_items)))
    pairs = [PreferencePair(**p) for p in pairs]
    gold = gold_labelled(world, candidates)
    if args.pairing == "best-worst":  # one pair per prompt from the ranking of its k answers
        pairs, gold = best_worst_pairs(pairs, min_gap=args.min_gap), best_worst_pairs(gold)
        bw = [world.gold_label(p.prompt, p.chosen, p.rejected) for p in pairs]
        counts = {**counts, "bw_pairs": len(pairs), "bw_right": bw.count("a"), "bw_wrong": bw.count("b")}
    arms = {"curated rater pairs": pairs}
    if args.gold_arm:
        arms["gold-labelled pairs"] = gold
    cfg = DPOConfig(loss=args.loss, beta=args.beta, lr=args.lr, epochs=args.epochs, batch_size=args.batch,
                    sft_weight=args.sft_weight, use_weights=args.pairing != "best-worst",
                    max_length=192, mixed_precision="no", samples=0, seed=seed, bucket=False)
    held = [p.text for p in world.prompts(args.eval, stream="dpo-eval")]
    evals = {"greedy": 0, "sampled": args.eval_samples} if args.eval_samples else {"greedy": 0}

    def gold_of(folder: Path) -> dict:
        return {name: policy_gold(world, folder, held, m, args.temperature, seed) for name, m in evals.items()}

    base = cached(work / f"base-{args.eval}-s{args.eval_samples}-t{args.temperature}.json",
                  lambda: gold_of(work / "sft"))
    out = {"seed": seed, "sft": sft, "counts": counts, "arms": {}, "base": base}
    for name, arm_pairs in arms.items():
        pairing = f"best-worst{args.min_gap:g}" if args.pairing == "best-worst" else args.pairing
        folder = work / (f"dpo-{name.split()[0]}-{tag}-{pairing}-{args.loss}-{args.beta}-{args.lr}-"
                         f"{args.epochs}-{args.sft_weight}")

        def arm(folder: Path = folder, arm_pairs: list = arm_pairs) -> dict:
            res = train_dpo(work / "sft", arm_pairs, folder, cfg, progress=False)
            return {"gold": gold_of(folder), "steps": res.steps, "pairs": res.n_pairs,
                    "ties": res.n_ties, "accuracy": res.final_accuracy, "displacement": res.displacement,
                    "seconds": res.seconds}

        out["arms"][name] = cached(
            folder.with_name(folder.name + f"-eval{args.eval}-s{args.eval_samples}.json"), arm)
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
    ap.add_argument("--k", type=int, default=2, help="sampled answers per prompt; raters judge every distinct pair")
    ap.add_argument("--pairing", choices=("all", "best-worst"), default="all",
                    help="train on every curated pair, or on one per prompt: best vs worst of its k answers")
    ap.add_argument("--min-gap", type=float, default=0.0, help="best-worst: least Bradley-Terry gap kept")
    ap.add_argument("--eval-samples", type=int, default=0,
                    help="also score the mean gold of this many sampled answers per held-out prompt")
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
    pairing = ("every curated pair" if args.pairing == "all" else
               "one pair per prompt, best vs worst of its answers by a Bradley-Terry fit to the curated judgments")
    sampled = (f"; also the mean gold of {args.eval_samples} answers per held-out prompt sampled at temperature "
               f"{args.temperature} (same seeds for both policies)" if args.eval_samples else "")
    lines = [f"`python {' '.join(map(shlex.quote, sys.argv))}` — per seed: the sim's GPT-2 after its "
             f"{args.sft_steps}-step SFT (its default config) samples {args.k} answers to each "
             f"of {args.train_prompts} prompts (temperature {args.temperature}); 3 simulated raters per pair of "
             f"distinct answers, {args.gold_items} designed pairs with "
             "known labels mixed in to qualify the raters; audit + curate (reversals "
             "down-weighted, soft labels, ties, blocked task types kept at their lower weight); training pairs: "
             f"{pairing}; DPO ({args.loss}, beta {args.beta}, RPO weight {args.sft_weight}, lr {args.lr}, "
             f"{args.epochs:g} epochs, batch {args.batch}, fp32) from the SFT policy; greedy answers to {args.eval} "
             f"held-out prompts scored by the gold reward{sampled}. Gain = DPO - SFT in gold `overall`, paired over "
             "prompts, 95% t-interval.", "",
             "| seed | arm | answers scored | pairs (ties) | steps | DPO s | final reward acc. | SFT overall | "
             "DPO overall | gain overall [95% CI] | gain quality [95% CI] | displacement |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    pooled: dict[tuple[str, str], tuple[list, list]] = {}
    for r in runs:
        for name, arm in r["arms"].items():
            for mode, base in r["base"].items():
                got = arm["gold"][mode]
                g, q = paired(base, got, "overall"), paired(base, got, "quality")
                sft_mean = sum(x["overall"] for x in base) / len(base)
                dpo_mean = sum(x["overall"] for x in got) / len(got)
                disp = f"step {arm['displacement']['step']}" if arm["displacement"] else "-"
                lines.append(f"| {r['seed']} | {name} | {mode} | {arm['pairs']} ({arm['ties']}) | {arm['steps']} | "
                             f"{arm['seconds']:.0f} | {arm['accuracy']:.3f} | {sft_mean:.3f} | {dpo_mean:.3f} | "
                             f"{g['mean']:+.4f} [{g['low']:+.4f}, {g['high']:+.4f}] | "
                             f"{q['mean']:+.4f} [{q['low']:+.4f}, {q['high']:+.4f}] | {disp} |")
                a, b = pooled.setdefault((name, mode), ([], []))
                a += base
                b += got
    lines += ["", "Pooled over seeds (paired over all held-out prompts):", "",
              "| arm | answers scored | " + " | ".join(f"gain {k} [95% CI]" for k in keys) + " |",
              "|---|---|" + "---|" * len(keys)]
    for (name, mode), (a, b) in pooled.items():
        cells = [paired(a, b, k) for k in keys]
        lines.append(f"| {name} | {mode} | " + " | ".join(f"{c['mean']:+.4f} [{c['low']:+.4f}, {c['high']:+.4f}]"
                                                          for c in cells) + " |")
    counts = "; ".join(
        f"seed {r['seed']}: {r['counts']['comparisons']} judgments (incl. {r['counts']['gold_items']} "
        f"qualification pairs x 3) -> {r['counts']['pairs']} curated pairs of the policy's samples "
        f"({r['counts']['ties']} ties, mean weight {r['counts']['mean_weight']:.2f}; gold agrees with "
        f"{r['counts']['right']}, disagrees with {r['counts']['wrong']}, the rest are gold ties; "
        f"{r['counts']['blocked']} of {r['counts']['task_types']} task types below the 0.4 agreement rule, kept at "
        "their lower weight)"
        + (f" -> {r['counts']['bw_pairs']} best-worst pairs (gold agrees with {r['counts']['bw_right']}, disagrees "
           f"with {r['counts']['bw_wrong']})" if "bw_pairs" in r["counts"] else "")
        + f", whole seed {r['seconds']:.0f} s" for r in runs)
    lines += ["", counts + ". Machine: 2-core shared dev machine, other work running."]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_subsection("Study: DPO on curated pairs of the policy's own samples (simulated world)", text)


if __name__ == "__main__":
    main()
