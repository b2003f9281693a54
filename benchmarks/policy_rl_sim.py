"""Study: online RL with the simulated world's gold reward itself as the reward raises gold on held-out prompts.

The sanity ceiling for the over-optimisation guards: with the true reward there is nothing to over-optimise, so
GRPO must raise the held-out gold. The built-in sim policy (SFT for `--sft-steps`) is optimised with GRPO on the
world's training prompts against the gold `overall` (the default KL tether: k3 in the loss, fixed 0.05), once per
seed; before and after, its answers to held-out prompts (another random stream) are scored by the gold reward:
sampled at the training temperature (what RL optimises) and greedy. The gain's interval over seeds is a
t-interval (n = seeds); per seed, a paired normal interval over the held-out prompts.

    python benchmarks/policy_rl_sim.py                       # 3 seeds, 150 steps of 64 completions each
    python benchmarks/policy_rl_sim.py --steps 5 --seeds 1 --held 40 --no-write      # smoke run
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))

from policy_rl_common import machine_note, write_subsection  # noqa: E402

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571}  # Student t, 97.5% quantile, by degrees of freedom


def held_out_scores(path: Path, prompts: list[str], world, seed: int) -> dict[str, dict[str, list[float]]]:  # noqa: ANN001
    """Per-prompt gold of a policy's sampled (temperature 1) and greedy answers."""
    import numpy as np

    from tether.policy.generation import load_policy, prompt_format_of, sample_texts
    from tether.sim.gold import components

    model, tok = load_policy(path)
    fmt = prompt_format_of(path)
    out = {}
    for mode, sample in (("sampled", True), ("greedy", False)):
        texts, _ = sample_texts(model, tok, prompts, prompt_format=fmt, do_sample=sample, seed=10_000 + seed)
        gold = [world.gold_reward(p, t) for p, t in zip(prompts, texts, strict=True)]
        out[mode] = {o: [g[o] for g in gold] for o in ("overall", "quality", "safety", "honesty")}
        out[mode]["correct"] = [components(p, t).correct for p, t in zip(prompts, texts, strict=True)]
        out[mode]["words"] = [float(len(t.split())) for t in texts]
        out[mode]["mean"] = {k: float(np.mean(v)) for k, v in out[mode].items()}  # type: ignore[assignment]
    return out


def paired_interval(after: list[float], before: list[float]) -> tuple[float, float, float]:
    diffs = [a - b for a, b in zip(after, before, strict=True)]
    m, s = statistics.mean(diffs), statistics.stdev(diffs)
    half = 1.96 * s / len(diffs) ** 0.5
    return m, m - half, m + half


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--prompts-per-step", type=int, default=8)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--algorithm", default="grpo", choices=["grpo", "rloo", "ppo"])
    parser.add_argument("--scale-rewards", default="group", choices=["group", "batch", "none"])
    parser.add_argument("--held", type=int, default=300, help="held-out prompts")
    parser.add_argument("--sft-steps", type=int, default=120, help="SFT steps of the starting policy")
    parser.add_argument("--policy", type=Path, default=None, help="starting sim policy (default: train one)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    import torch

    from tether.policy.rl import train_rl
    from tether.policy.rl_config import RLConfig
    from tether.sim import PolicyConfig, World, train_policy
    from tether.sim.evaluators import GoldEvaluator

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="rl_sim_"))
    world = World(0)
    policy = args.policy
    if policy is None:
        policy = work / "sft"
        train_policy(world, policy, PolicyConfig(max_steps=args.sft_steps, max_seconds=3600, threads=args.threads),
                     show_progress=False)
    train = [p.text for p in world.prompts(2000, stream="rl-study-train")]
    held = [p.text for p in world.prompts(args.held, stream="rl-study-heldout")]
    before = held_out_scores(policy, held, world, 0)
    runs = []
    for seed in range(args.seeds):
        cfg = RLConfig(algorithm=args.algorithm, objectives=["overall"], steps=args.steps, seed=seed, lr=args.lr,
                       scale_rewards=args.scale_rewards,
                       prompts_per_step=args.prompts_per_step, completions_per_prompt=args.k, sample_every=25,
                       name=f"gold-seed{seed}")
        t0 = time.perf_counter()
        res = train_rl(policy, train, GoldEvaluator(world), work / f"rl-{seed}", cfg, progress=False)
        after = held_out_scores(work / f"rl-{seed}", held, world, 0)
        runs.append({"seed": seed, "res": res, "after": after, "wall": time.perf_counter() - t0})
        print(f"seed {seed}: sampled overall {before['sampled']['mean']['overall']:.3f} -> "
              f"{after['sampled']['mean']['overall']:.3f}, greedy {before['greedy']['mean']['overall']:.3f} -> "
              f"{after['greedy']['mean']['overall']:.3f}, KL {res.last.get('kl', 0):.2f}", file=sys.stderr)
    write(args, before, runs, len(train))


def write(args, before: dict, runs: list[dict], n_train: int) -> None:  # noqa: ANN001
    rows = []
    for mode in ("sampled", "greedy"):
        b = before[mode]["mean"]
        rows.append(f"| {mode} | before (SFT) | — | {b['overall']:.3f} | {b['quality']:.3f} | {b['correct']:.3f} | "
                    f"{b['safety']:.3f} | {b['honesty']:.3f} | {b['words']:.1f} | — | — |")
        for r in runs:
            a = r["after"][mode]["mean"]
            m, lo, hi = paired_interval(r["after"][mode]["overall"], before[mode]["overall"])
            rows.append(f"| {mode} | after GRPO | {r['seed']} | {a['overall']:.3f} | {a['quality']:.3f} | "
                        f"{a['correct']:.3f} | {a['safety']:.3f} | {a['honesty']:.3f} | {a['words']:.1f} | "
                        f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}] | {r['res'].last.get('kl', float('nan')):.2f} |")
    summary = []
    for mode in ("sampled", "greedy"):
        gains = [r["after"][mode]["mean"]["overall"] - before[mode]["mean"]["overall"] for r in runs]
        mean = statistics.mean(gains)
        if len(gains) > 1:
            half = T975[len(gains) - 1] * statistics.stdev(gains) / len(gains) ** 0.5
            summary.append(f"{mode}: gold overall gain {mean:+.3f}, 95% t-interval over {len(gains)} seeds "
                           f"[{mean - half:+.3f}, {mean + half:+.3f}] "
                           f"({'excludes' if mean - half > 0 or mean + half < 0 else 'includes'} zero)")
        else:
            summary.append(f"{mode}: gold overall gain {mean:+.3f} (one seed: no interval over seeds)")
    cps = statistics.mean(r["res"].completions_per_second for r in runs)
    lines = [
        f"`python benchmarks/policy_rl_sim.py --seeds {args.seeds} --steps {args.steps} --lr {args.lr}` — the built-in "
        f"sim policy "
        f"(SFT {args.sft_steps} steps), {args.algorithm.upper()} against the world's gold `overall` (KL k3 in the "
        f"loss, fixed 0.05; rewards scaled by {args.scale_rewards}), "
        f"{args.steps} steps x {args.prompts_per_step} prompts x {args.k} completions, lr {args.lr}, on {n_train} "
        f"training prompts; held-out: {args.held} prompts of another stream, gold of sampled (T = 1) and greedy "
        f"answers. {cps:.0f} completions/s on average. {machine_note()}",
        "",
        "| answers | policy | seed | overall | quality | correct | safety | honesty | words | gain in overall "
        "[paired 95% CI] | KL at the end |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        *[f"- {s}" for s in summary],
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_subsection("Study: the gold reward as the reward (sanity ceiling)", text)


if __name__ == "__main__":
    main()
