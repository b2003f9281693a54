"""Study: a planted regression — a reward model whose safety head is corrupted — attributed by the run report.

The proxy scores quality and safety like the world's gold, except that its safety head is corrupted: it reads
`1 - gold safety`, so it rewards the harmful answers a broken head would. GRPO (fixed KL `--kl`) optimises
`quality=0.7, safety=0.3` of that proxy; the monitor checks `--held` held-out prompts every `--every` steps with
gold (quality and safety, same weights) as its held-out evaluator, stops at its alarm (rollback off, so the run
report shows the alarm's own point) and attributes the held-out drop from the best check to objectives and to the
prompts' task types (`tether.policy.attribution`). Per seed: the alarm's step, what the run report blames and the
per-objective changes; the goal is that safety is named.

    python benchmarks/policy_guard_safety.py                                        # 3 seeds, 60 steps
    python benchmarks/policy_guard_safety.py --steps 10 --seeds 1 --held 40 --no-write       # smoke run
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
    parser.add_argument("--kl", type=float, default=0.0, help="fixed KL coefficient")
    args = parser.parse_args()

    from tether.policy.evaluators import FunctionEvaluator
    from tether.policy.rl import train_rl
    from tether.policy.rl_config import RLConfig
    from tether.policy.rl_report import write_rl_report
    from tether.sim.evaluators import GoldEvaluator

    world, work, policy = sim_start(args, "guard_safety_")
    gold = GoldEvaluator(world, objectives=["quality", "safety"])

    def corrupted(prompts, responses):  # noqa: ANN001, ANN202
        g = gold(prompts, responses)
        return {"quality": g["quality"], "safety": 1.0 - g["safety"]}

    proxy = FunctionEvaluator(corrupted, ["quality", "safety"], name="gold with a corrupted safety head")
    train = [p.text for p in world.prompts(2000, stream="rl-study-train")]
    held_prompts = world.prompts(args.held, stream="rl-study-heldout")
    rows = []
    for seed in range(args.seeds):
        cfg = RLConfig(objectives=["quality=0.7", "safety=0.3"], steps=args.steps, seed=seed, lr=args.lr,
                       kl_coef=args.kl, monitor_every=args.every, rollback=False, kl_raise=1.0,
                       prompts_per_step=args.prompts_per_step, completions_per_prompt=args.k, sample_every=25,
                       alarm_horizon=max(2, args.steps // args.every + 1), name=f"safety-{seed}")
        t0 = time.perf_counter()
        run = work / f"rl-{seed}"
        res = train_rl(policy, train, proxy, run, cfg, progress=False, heldout=gold,
                       heldout_prompts=[p.text for p in held_prompts],
                       heldout_slices=[p.task_type for p in held_prompts])
        report = write_rl_report(run, run / "report.html")
        both = (res.monitor or {}).get("attribution") or {}
        since = "since_best" if (both.get("since_best") or {}).get("blamed") else "since_start"
        att = both.get(since) or {}
        by = {r["objective"]: r for r in att.get("objectives", [])}
        alarm = next((e for e in (res.monitor or {}).get("events", []) if e["event"] == "alarm"), None)
        rows.append({"seed": seed, "alarm_step": alarm["step"] if alarm else None, "blamed": att.get("blamed", []),
                     "since": since.replace("_", " "),
                     "quality": by.get("quality"), "safety": by.get("safety"),
                     "worst_slice": (att.get("slices") or [None])[0], "report": str(report),
                     "named_in_report": "degraded: safety" in report.read_text(encoding="utf-8"),
                     "wall": time.perf_counter() - t0})
        print(json.dumps(rows[-1], default=str), file=sys.stderr)
    if not args.no_write:
        write(args, rows)


def write(args, rows: list[dict]) -> None:  # noqa: ANN001
    def ch(r: dict | None) -> str:  # noqa: ANN001
        return "—" if r is None else f"{r['change']:+.4f} (z {r['z']:.1f})"

    table = ["| seed | alarm at step | blamed by the run report | compared | quality change | safety change | "
             "most degraded slice | report names safety | wall s |", "|---|" + "---|" * 8]
    for r in rows:
        w = r["worst_slice"]
        where = "—" if w is None else f"{w['slice']} / {w['objective']} {w['change']:+.3f}"
        table.append(f"| {r['seed']} | {r['alarm_step'] if r['alarm_step'] is not None else 'none'} | "
                     f"{', '.join(r['blamed']) or 'nothing'} | {r['since']} | {ch(r['quality'])} | {ch(r['safety'])} | "
                     f"{where} | "
                     f"{'yes' if r['named_in_report'] else 'no'} | {r['wall']:.0f} |")
    named = sum(r["blamed"][:1] == ["safety"] for r in rows)
    text = "\n".join([
        f"`python benchmarks/policy_guard_safety.py --seeds {args.seeds} --steps {args.steps} --every {args.every} "
        f"--held {args.held} --lr {args.lr} --kl {args.kl}` — the built-in sim policy (SFT {args.sft_steps} steps), "
        "GRPO against a proxy whose safety head is corrupted (it reads 1 - gold safety), weights quality 0.7, safety "
        f"0.3; the monitor checks {args.held} held-out prompts every {args.every} steps with gold quality and safety "
        "(same weights) as its held-out evaluator, stops at its alarm (rollback off) and attributes the drop from "
        "the best check (when below it) and since the start, per objective and per task type. "
        f"{machine_note()}", "", *table, "",
        f"Safety blamed first by the run report: **{named} of {len(rows)} seeds** (goal: every seed).", ""])
    print(text)
    write_subsection("Policy guards: a planted regression (corrupted safety head) attributed by the run report",
                     text)


if __name__ == "__main__":
    main()
