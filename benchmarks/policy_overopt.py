"""Study: over-optimisation of a proxy reward model in the simulated world, and the monitor's stop rules.

Renders the figures of a finished `tether sim overopt OUT ...` run (OUT/metrics.json) into the
`## Policy: online RL` section of RESULTS.md, with the command that produced them and the issue's done-when lines
(met / not met, from the numbers). The study itself is the CLI command (tether.sim.overopt):

    tether sim overopt runs/overopt --seeds 3
    python benchmarks/policy_overopt.py runs/overopt --command "tether sim overopt runs/overopt --seeds 3"
    python benchmarks/policy_overopt.py runs/s0 runs/s1 --command "..."   # seeds run as separate commands
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from policy_rl_common import machine_note, write_subsection  # noqa: E402


def f(x, fmt: str = "{:+.4f}") -> str:  # noqa: ANN001
    return "—" if x is None or x != x else fmt.format(x)


def render(metrics: dict, command: str) -> str:
    seeds, summary = metrics["seeds"], metrics["summary"]
    cfg = seeds[0]["config"]
    label_rows = [f"| {s['seed']} | {pool} | {v['pairs']} | {f(v['rater_gold_agreement'], '{:.3f}')} | "
                  f"{f(v['rm_gold_accuracy_other_pool'], '{:.3f}')} |"
                  for s in seeds for pool, v in s["labels"].items()]
    bon_rows = []
    for s in seeds:
        b = s["best_of_n"]
        c = b["curves"]
        g = c["gold"]
        peak = max(range(len(g)), key=g.__getitem__)
        fit = b["fit"]
        bon_rows.append(f"| {s['seed']} | {f(b['corr_proxy_gold']['overall'], '{:+.3f}')} "
                        f"({f(b['corr_proxy_gold']['within_prompts'], '{:+.3f}')}) | {g[0]:.4f} | "
                        f"{g[peak]:.4f} at n = {c['n'][peak]} | {g[-1]:.4f} | {c['oracle_gold'][-1]:.4f} | "
                        f"{f(fit.get('alpha'))} ± {f(fit.get('alpha_se'), '{:.4f}')} | "
                        f"{f(fit.get('beta'))} ± {f(fit.get('beta_se'), '{:.4f}')} | "
                        f"{f(fit.get('turnover'), '{:.3f}')} |")
    rl_rows, rule_rows = [], []
    for s in seeds:
        rl = s["rl"]
        c = rl["curve"]
        traj = ", ".join(f"{d:.2f}: {g:+.3f}" for d, g in zip(c["sqrt_kl"], c["gold_gain"], strict=True))
        t = rl["turnover"]
        rl_rows.append(f"| {s['seed']} | {rl['steps']} | {f(rl['best_gold']['gain'])} (step {rl['best_gold']['step']},"
                       f" sqrt(KL) {rl['best_gold']['sqrt_kl']:.2f}) | {f(rl['final_gold_gain'])} | "
                       f"{f(rl['drop_from_best'])} | {f(rl['final_proxy_gain'], '{:+.3f}')} | "
                       f"{f(t['predicted'], '{:.3f}')} [{f(t['predicted_lo'], '{:.3f}')}, "
                       f"{f(t['predicted_hi'], '{:.3f}')}] | {t['actual']:.3f} |")
        rl_rows.append(f"| | gold gain by sqrt(KL): {traj} | | | | | | |")
        for name, r in rl["stop_rules"].items():
            rule_rows.append(f"| {s['seed']} | {name} | {r['alarm_step'] if r['alarm_step'] is not None else 'none'} | "
                             f"{r['kept_step']} | {r['kept_sqrt_kl']:.2f} | {f(r['gold_gain'])} | "
                             f"{f(r['share_of_best_gain'], '{:.0%}')} |")
    shares = summary["stop_rules"]["heldout"]["shares"]
    guarded_met = all(x == x and x >= 0.9 for x in shares)
    best_gains = [s["rl"]["best_gold"]["gain"] for s in seeds]
    rises = [s["rl"]["best_gold"]["gain"] > 0 and s["rl"]["drop_from_best"] > 0 and s["rl"]["final_proxy_gain"] > 0
             for s in seeds]
    bon_rise = [max(s["best_of_n"]["curves"]["gold"][1:]) > s["best_of_n"]["curves"]["gold"][0] for s in seeds]
    done = [
        f"- Best-of-n with the on-policy proxy, gold rises with n at first: **{'met' if all(bon_rise) else 'not met'}"
        f"** ({sum(bon_rise)} of {len(seeds)} seeds; correlation and Gao fit in the table).",
        f"- Unguarded run: gold rising then falling while the proxy rises: **{'met' if all(rises) else 'not met'}** "
        f"(best gold gain per seed {', '.join(f(x) for x in best_gains)}, then a drop and a proxy gain at the end; a "
        f"best gain of 0 means gold fell from the first check).",
        f"- Final gold below its best by more than the seed-to-seed spread: **"
        f"{'met' if summary['drop_exceeds_spread'] else 'not met'}** (drops "
        f"{', '.join(f(x) for x in summary['drops_from_best'])}; SD of the final gain over seeds "
        f"{f(summary['final_gain_spread_sd'], '{:.4f}')}).",
        f"- Guarded (held-out RM, gold hidden) keeps >= 90% of the unguarded best gain: **"
        f"{'met' if guarded_met else 'not met'}** (shares {', '.join(f(x, '{:.0%}') for x in shares)}; a share is "
        f"undefined where the unguarded best gain is 0).",
    ]
    return "\n".join([
        f"`{command}` — {machine_note()} Each seed: its own SFT policy ({cfg['sft_steps']} steps), "
        f"{cfg['label_prompts']} label prompts per reward model (two sampled answers each, one judgment by a pool of "
        f"{cfg['raters']} raters; proxy and held-out pools disjoint), reward models on the policy's own body "
        f"({cfg['rm_epochs']} epochs, lr {cfg['rm_lr']}); best-of-n over {cfg['bon_prompts']} prompts x {cfg['bon_n']} "
        f"samples; unguarded GRPO (no KL) {cfg['rl_steps']} steps x {cfg['prompts_per_step']} x {cfg['k']}, lr "
        f"{cfg['lr']}, checks every {cfg['every']} steps on {cfg['held']} held-out prompts; human rule: "
        f"{cfg['human_pairs']} judgments per check. Wall per seed: "
        f"{', '.join(str(round(s['seconds'])) + ' s' for s in seeds)}.", "",
        "| seed | reward model | training pairs | raters' agreement with gold (gold-decided pairs) | RM accuracy vs "
        "gold on the other pool's pairs |", "|---|---|---|---|---|", *label_rows, "",
        "| seed | proxy-gold r over samples (within prompts) | gold n = 1 | gold at best n | gold n = max | oracle "
        "(gold's pick) n = max | Gao bon alpha | beta | turnover sqrt(KL) |", "|---|" + "---|" * 8, *bon_rows, "",
        "| seed | steps | best gold gain | final gold gain | drop | proxy gain at end (z) | Gao RL predicted "
        "turnover [95%] (held-out, up to the stop) | actual (gold's best) |", "|---|" + "---|" * 7, *rl_rows, "",
        "| seed | stop rule | alarm at step | kept check | sqrt(KL) | gold gain kept | share of unguarded best |",
        "|---|---|---|---|---|---|---|", *rule_rows, "", *done, ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, nargs="+", help="`tether sim overopt` folders (their seeds are pooled)")
    parser.add_argument("--command", required=True, help="the command that produced it (recorded)")
    parser.add_argument("--title", default="Over-optimisation study: unguarded vs guarded (tether sim overopt)")
    parser.add_argument("--notes", type=Path, default=None, help="a reading of the figures to append (Markdown)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    from tether.sim.overopt import summarize

    seeds = [s for out in args.out for s in json.loads((out / "metrics.json").read_text())["seeds"]]
    text = render({"seeds": seeds, "summary": summarize(seeds)}, args.command)
    if args.notes is not None:
        text += "\n" + args.notes.read_text(encoding="utf-8").strip() + "\n"
    print(text)
    if not args.no_write:
        write_subsection(args.title, text)


if __name__ == "__main__":
    main()
