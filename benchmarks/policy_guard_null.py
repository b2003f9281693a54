"""Study: the over-optimisation monitor's false alarms when there is nothing to over-optimise.

The simulated world's gold `overall` is both the reward and the held-out evaluator (and the truth): the proxy cannot
diverge from the held-out score, so any alarm is a false one. The built-in sim policy (SFT `--sft-steps`) is
optimised with GRPO (the default fixed KL 0.05) with the monitor checking `--held` held-out prompts every
`--every` steps; per seed: alarms, KL raises, flagged signatures, the best check, the held-out gain at the end and
the Gao RL fit's predicted turnover.

    python benchmarks/policy_guard_null.py                                  # 3 seeds, 150 steps
    python benchmarks/policy_guard_null.py --steps 10 --seeds 1 --held 40 --no-write      # smoke run
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))

from policy_rl_common import guard_study_args, machine_note, sim_start, write_subsection  # noqa: E402


def main() -> None:
    parser = guard_study_args(__doc__.splitlines()[0], steps=150, every=10, held=200)
    args = parser.parse_args()

    from tether.policy.rl import train_rl
    from tether.policy.rl_config import RLConfig
    from tether.sim.evaluators import GoldEvaluator

    world, work, policy = sim_start(args, "guard_null_")
    train = [p.text for p in world.prompts(2000, stream="rl-study-train")]
    held = [p.text for p in world.prompts(args.held, stream="rl-study-heldout")]
    gold = GoldEvaluator(world)
    rows = []
    for seed in range(args.seeds):
        cfg = RLConfig(objectives=["overall"], steps=args.steps, seed=seed, lr=args.lr, monitor_every=args.every,
                       prompts_per_step=args.prompts_per_step, completions_per_prompt=args.k, sample_every=25,
                       alarm_horizon=max(2, args.steps // args.every + 1), name=f"null-seed{seed}")
        t0 = time.perf_counter()
        res = train_rl(policy, train, gold, work / f"rl-{seed}", cfg, progress=False, heldout=gold,
                       heldout_prompts=held)
        mon = res.monitor or {}
        kinds = [e["event"] for e in mon.get("events", [])]
        fit = mon.get("fit", {})
        row = {"seed": seed, "steps": res.steps, "alarms": kinds.count("alarm"), "kl_raises": kinds.count("kl_raised"),
               "sig_flags": kinds.count("signatures"), "best": (mon.get("best") or {}).get("step"),
               "turnover": fit.get("gao/turnover"), "turnover_ci": (fit.get("gao/turnover_lo"),
                                                                     fit.get("gao/turnover_hi")),
               "wall": time.perf_counter() - t0, "events": mon.get("events", [])}
        import json

        checks = [json.loads(x) for x in (work / f"rl-{seed}" / "metrics.jsonl").read_text().splitlines()]
        checks = [c for c in checks if "monitor/heldout" in c]
        row["gain"] = checks[-1]["monitor/heldout_gain"]
        row["max_gain"] = max(c["monitor/heldout_gain"] for c in checks)
        row["sqrt_kl"] = checks[-1]["monitor/sqrt_kl"]
        rows.append(row)
        print(row, file=sys.stderr)
    if not args.no_write:
        write(args, rows)


def write(args, rows: list[dict]) -> None:  # noqa: ANN001
    def f(x) -> str:  # noqa: ANN001
        return "—" if x is None or x != x else f"{x:.3g}"

    table = ["| seed | steps run | alarms | KL raises | signature flags | best check (step) | held-out gain at the "
             "end | best gain | sqrt(KL) at the end | Gao turnover [95%] | wall s |", "|---|" + "---|" * 10]
    table += [f"| {r['seed']} | {r['steps']} | {r['alarms']} | {r['kl_raises']} | {r['sig_flags']} | {r['best']} | "
              f"{r['gain']:+.4f} | {r['max_gain']:+.4f} | {r['sqrt_kl']:.3f} | {f(r['turnover'])} "
              f"[{f(r['turnover_ci'][0])}, {f(r['turnover_ci'][1])}] | {r['wall']:.0f} |" for r in rows]
    alarms = sum(r["alarms"] for r in rows)
    text = "\n".join([
        f"`python benchmarks/policy_guard_null.py --seeds {args.seeds} --steps {args.steps} --every {args.every} "
        f"--held {args.held}` — the built-in sim policy (SFT {args.sft_steps} steps), GRPO (fixed KL 0.05) against "
        f"the world's gold `overall`, the monitor checking {args.held} held-out prompts every {args.every} steps with "
        f"gold as its held-out evaluator too (so every alarm is a false one; alarm level 0.05 over the run's checks). "
        f"{machine_note()}", "", *table, "",
        f"False alarms: **{alarms} over {len(rows)} seeds** (goal 0).", "",
        "Read with care: with one evaluator as proxy and held-out, the proxy rises at a check exactly when the "
        "held-out score does, so the alarm only counts checks where the held-out score rose — an alarm is then "
        "nearly impossible by construction, and 0 is weak evidence. The calibrated false-alarm rate is checked on "
        "simulated null sequences in tests/policy/test_guards.py. Note also that the held-out gold (sampled "
        "answers, T = 1) barely moves in these short runs: the best check beats the start by at most the gain "
        "in the table.", ""])
    print(text)
    write_subsection("Over-optimisation monitor: false alarms with gold as the reward", text)


if __name__ == "__main__":
    main()
