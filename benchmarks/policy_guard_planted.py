"""Study: the over-optimisation monitor against a planted hackable proxy in the simulated world.

The proxy is the world's gold `overall` plus a bonus per word (`--bonus` per 10 words): a reward model that learned
"longer is better". GRPO without a KL term optimises it; the monitor checks `--held` held-out prompts every
`--every` steps with gold as the held-out evaluator and stops the run at its alarm (rollback off, so the saved
policy is the alarm's). Per seed: the alarm's step, the best check, held-out gold at the start, at the best check
and at the alarm, the proxy's gain and the answers' length. (No unguarded continuation past the alarm is run.)

    python benchmarks/policy_guard_planted.py                                       # 3 seeds, 60 steps
    python benchmarks/policy_guard_planted.py --steps 10 --seeds 1 --held 40 --no-write       # smoke run
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

from policy_rl_common import guard_study_args, machine_note, sim_start, write_subsection  # noqa: E402


def main() -> None:
    parser = guard_study_args(__doc__.splitlines()[0])
    parser.add_argument("--bonus", type=float, default=0.05, help="proxy bonus per 10 words")
    args = parser.parse_args()

    from tether.policy.evaluators import FunctionEvaluator
    from tether.policy.rl import train_rl
    from tether.policy.rl_config import RLConfig
    from tether.sim.evaluators import GoldEvaluator

    world, work, policy = sim_start(args, "guard_planted_")
    gold = GoldEvaluator(world)

    def hackable(prompts, responses):  # noqa: ANN001, ANN202
        g = gold(prompts, responses)["overall"]
        return {"overall": [s + args.bonus * len(r.split()) / 10 for s, r in zip(g, responses, strict=True)]}

    proxy = FunctionEvaluator(hackable, ["overall"], name="gold + length bonus")
    train = [p.text for p in world.prompts(2000, stream="rl-study-train")]
    held = [p.text for p in world.prompts(args.held, stream="rl-study-heldout")]
    rows = []
    for seed in range(args.seeds):
        cfg = RLConfig(objectives=["overall"], steps=args.steps, seed=seed, lr=args.lr, kl_coef=0.0,
                       monitor_every=args.every, rollback=False, kl_raise=1.0,
                       prompts_per_step=args.prompts_per_step, completions_per_prompt=args.k, sample_every=25,
                       alarm_horizon=max(2, args.steps // args.every + 1), name=f"planted-{seed}")
        t0 = time.perf_counter()
        res = train_rl(policy, train, proxy, work / f"rl-{seed}", cfg, progress=False, heldout=gold,
                       heldout_prompts=held)
        checks = [json.loads(x) for x in (work / f"rl-{seed}" / "metrics.jsonl").read_text().splitlines()]
        checks = [c for c in checks if "monitor/heldout" in c]
        alarm = next((c for c in checks if c["monitor/alarm"]), None)
        best = max(checks, key=lambda c: c["monitor/heldout"])
        rows.append({"seed": seed, "alarm_step": alarm["step"] if alarm else None, "best_step": best["step"],
                     "gold_start": checks[0]["monitor/heldout"], "gold_best": best["monitor/heldout"],
                     "gold_alarm": alarm["monitor/heldout"] if alarm else None,
                     "gold_end": checks[-1]["monitor/heldout"], "proxy_gain": checks[-1]["monitor/proxy_gain"],
                     "words_end": checks[-1].get("monitor/sig/length"), "words_start": checks[0].get(
                         "monitor/sig/length"), "steps": res.steps, "wall": time.perf_counter() - t0,
                     "events": [e["event"] for e in (res.monitor or {}).get("events", [])]})
        print(rows[-1], file=sys.stderr)
    if not args.no_write:
        write(args, rows)


def write(args, rows: list[dict]) -> None:  # noqa: ANN001
    def f(x) -> str:  # noqa: ANN001
        return "—" if x is None else f"{x:.4f}"

    table = ["| seed | alarm at step | best check (step) | gold at start | gold at best | gold at alarm | "
             "proxy gain at stop | words start -> stop | wall s |", "|---|" + "---|" * 8]
    table += [f"| {r['seed']} | {r['alarm_step'] if r['alarm_step'] is not None else 'none'} | {r['best_step']} | "
              f"{f(r['gold_start'])} | {f(r['gold_best'])} | {f(r['gold_alarm'])} | {r['proxy_gain']:+.3f} | "
              f"{r['words_start']:.1f} -> {r['words_end']:.1f} | {r['wall']:.0f} |" for r in rows]
    text = "\n".join([
        f"`python benchmarks/policy_guard_planted.py --seeds {args.seeds} --steps {args.steps} --every {args.every} "
        f"--bonus {args.bonus} --held {args.held}` — the built-in sim policy (SFT {args.sft_steps} steps), GRPO "
        f"without KL against a planted hackable proxy (gold `overall` + {args.bonus} per 10 words), the monitor "
        f"checking {args.held} held-out prompts every {args.every} steps with gold as its held-out evaluator "
        f"(stop at the alarm; rollback off here so the table shows the alarm's own point). {machine_note()}", "",
        *table, ""])
    print(text)
    write_subsection(f"Over-optimisation monitor: a planted length-hacking proxy (bonus {args.bonus} per 10 words)",
                     text)


if __name__ == "__main__":
    main()
