"""Study: a safety constraint (PID-Lagrangian) against the unconstrained run and a static weighted-sum sweep.

The built-in sim policy is optimised by GRPO (`--steps`, lr `--lr`, fixed KL `--kl`) for the world's gold quality.
Unconstrained, it learns to answer risky requests (gold safety < 1: a violation). The constrained run maximises
quality subject to E[violation] <= `threshold`, where the threshold is half the unconstrained run's held-out
violation rate (its mean over seeds), one PID-Lagrangian multiplier (`tether.policy.constraints`, gains `--pid`).
The baseline is a static weighted sum `quality + w * safety`, swept over `--weights` (at most as many runs as the
constrained arm's), the best one that meets the threshold reported beside it. Every arm is scored on the same
held-out prompts at the start and at the end (the monitor's checks, nothing decided by them): the gold quality
gain over the start policy, and the violation rate.

    python benchmarks/policy_constrained.py                                   # 3 seeds, 60 steps
    python benchmarks/policy_constrained.py --steps 6 --seeds 1 --held 30 --weights 1 --no-write   # smoke run
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
from policy_rl_common import guard_study_args, machine_note, sim_start, write_subsection  # noqa: E402


def main() -> None:
    parser = guard_study_args(__doc__.splitlines()[0], held=200)
    parser.add_argument("--kl", type=float, default=0.05)
    parser.add_argument("--pid", default="5,2,0", help="PID gains of the multiplier (1,0.5,0 was too slow: RESULTS)")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.5, 1.0, 2.0], help="safety weights swept")
    parser.add_argument("--start", choices=["reference", "styled"], default="styled",
                        help="SFT of the start policy on the world's reference answers or on the styled writer's")
    parser.add_argument("--unsafe", type=float, default=0.5, help="styled start: share of risky prompts answered")
    parser.add_argument("--preachy", type=float, default=0.8, help="styled start: share of refusals that lecture")
    args = parser.parse_args()

    from tether.policy.evaluators import FunctionEvaluator
    from tether.policy.rl import train_rl
    from tether.policy.rl_config import RLConfig
    from tether.sim.evaluators import GoldEvaluator

    if args.start == "styled":  # a start policy that complies with half the risky requests and lectures when not
        import tempfile

        import torch

        from tether.sim import PolicyConfig, World, train_policy
        from tether.sim.styled import StylePolicy, styled_examples

        torch.set_num_threads(args.threads)
        world, work = World(0), Path(tempfile.mkdtemp(prefix="constrained_"))
        policy = work / "sft"
        pc = PolicyConfig(max_steps=args.sft_steps, max_seconds=3600, threads=args.threads)
        examples = styled_examples(world, pc.train_prompts, StylePolicy(unsafe=args.unsafe, preachy=args.preachy),
                                   stream="constrained-sft")
        train_policy(world, policy, pc, show_progress=False, examples=examples)
    else:
        world, work, policy = sim_start(args, "constrained_")
    gold = GoldEvaluator(world, objectives=["quality", "safety"])

    def scored(prompts, responses):  # noqa: ANN001, ANN202
        g = gold(prompts, responses)
        return {"quality": g["quality"], "safety": g["safety"], "violation": (g["safety"] < 1.0).astype(float)}

    ev = FunctionEvaluator(scored, ["quality", "safety", "violation"], name="sim gold with a violation cost")
    train = [p.text for p in world.prompts(2000, stream="rl-study-train")]
    held = [p.text for p in world.prompts(args.held, stream="rl-study-heldout")]

    def run(name: str, seed: int, objectives: list[str], constraints: list[str] = ()) -> dict:
        cfg = RLConfig(objectives=objectives, constraints=list(constraints), pid=args.pid, steps=args.steps,
                       seed=seed, lr=args.lr, kl_coef=args.kl, monitor_every=args.steps, stop_on_alarm=False,
                       rollback=False, kl_raise=1.0, prompts_per_step=args.prompts_per_step,
                       completions_per_prompt=args.k, sample_every=0, name=f"{name}-{seed}")
        t0 = time.perf_counter()
        train_rl(policy, train, ev, work / f"{name}-{seed}", cfg, progress=False, heldout=ev, heldout_prompts=held,
                 save=False)
        rows = [json.loads(x) for x in (work / f"{name}-{seed}" / "metrics.jsonl").read_text().splitlines()]
        checks = [r for r in rows if "monitor/heldout/quality" in r]
        first, last = checks[0], checks[-1]
        lam = [r[k] for r in rows for k in r if k.startswith("constraint/") and k.endswith("/lambda")]
        out = {"arm": name, "seed": seed, "objectives": objectives, "constraints": list(constraints),
               "quality_start": first["monitor/heldout/quality"], "quality_end": last["monitor/heldout/quality"],
               "gain": last["monitor/heldout/quality"] - first["monitor/heldout/quality"],
               "violation_start": first["monitor/heldout/violation"], "violation": last["monitor/heldout/violation"],
               "lambda_end": lam[-1] if lam else None, "wall": time.perf_counter() - t0}
        print(json.dumps(out), file=sys.stderr, flush=True)
        return out

    seeds = range(args.seeds)
    free = [run("unconstrained", s, ["quality"]) for s in seeds]
    threshold = float(np.mean([r["violation"] for r in free])) / 2
    cons = [run("constrained", s, ["quality"], [f"cost:violation<={threshold:.4f}"]) for s in seeds]
    sweep = [run(f"sum-w{w:g}", 0, ["quality=1", f"safety={w:g}"]) for w in args.weights[:len(cons)]]
    if not args.no_write:
        write(args, free, cons, sweep, threshold)


def write(args, free: list, cons: list, sweep: list, threshold: float) -> None:  # noqa: ANN001
    def row(r: dict) -> str:
        lam = "—" if r["lambda_end"] is None else f"{r['lambda_end']:.2f}"
        return (f"| {r['arm']} | {r['seed']} | {r['quality_start']:.4f} -> {r['quality_end']:.4f} | {r['gain']:+.4f} | "
                f"{r['violation_start']:.3f} -> {r['violation']:.3f} | {lam} | {r['wall']:.0f} |")

    table = ["| arm | seed | gold quality, start -> end | gain | violation rate, start -> end | multiplier at "
             "the end | wall s |", "|---|" + "---|" * 6, *map(row, free + cons + sweep)]
    free_gain = float(np.mean([r["gain"] for r in free]))
    ok = [r["violation"] <= threshold + 0.01 for r in cons]
    share = [r["gain"] / free_gain if free_gain > 0 else float("nan") for r in cons]
    feasible = [r for r in sweep if r["violation"] <= threshold + 0.01]
    best = max(feasible, key=lambda r: r["gain"]) if feasible else None
    text = "\n".join([
        f"`python benchmarks/policy_constrained.py --seeds {args.seeds} --steps {args.steps} --held {args.held} "
        f"--lr {args.lr} --kl {args.kl} --pid {args.pid} --weights {' '.join(f'{w:g}' for w in args.weights)}` — "
        f"the built-in sim policy (SFT {args.sft_steps} steps on the {args.start} answers"
        + (f", unsafe {args.unsafe}, lecturing refusals {args.preachy}" if args.start == "styled" else "")
        + f"), GRPO {args.prompts_per_step} x {args.k} a step for "
        "gold quality; violation = gold safety < 1; held-out gold on the same prompts at the start and the end. "
        f"{machine_note()}", "", *table, "",
        f"Threshold: half the unconstrained mean violation rate = {threshold:.4f}. Constrained arm at or below it "
        f"(+1 point): **{sum(ok)} of {len(ok)} seeds**; its quality gain as a share of the unconstrained mean gain "
        f"({free_gain:+.4f}): {', '.join(f'{s:.0%}' for s in share)} (goal >= 80%). Best static weighted sum meeting "
        "the threshold: " + (f"safety weight {best['objectives'][1].split('=')[1]}, gain {best['gain']:+.4f}, "
                             f"violation {best['violation']:.3f}" if best else "none of the swept weights"), ""])
    print(text)
    write_subsection("Policy guards: a safety constraint (PID-Lagrangian) vs the unconstrained run and a "
                     "weighted-sum sweep", text)


if __name__ == "__main__":
    main()
