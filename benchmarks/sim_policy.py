"""The built-in policy: full default SFT on the simulated world, timed, and scored by the gold reward.

Side by side in one run, on the same held-out prompts: the trained policy (greedy), the same
architecture untrained (sampling), strings of random tokens, and the world's reference answers.
Also scores the never-trained-on travel domain, and (with --threads-also) the same budget with
another thread count, since thread contention on a shared machine changes the step rate a lot.

    python benchmarks/sim_policy.py --threads-also 1
"""

from __future__ import annotations

import argparse
import platform
import re
import shlex
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "RESULTS.md"
SECTION = "## Simulated policy"


def run(threads: int, seconds: float, n_eval: int, seed: int) -> dict:
    import torch
    from transformers import GPT2LMHeadModel

    from tether.sim import PolicyConfig, World, train_policy
    from tether.sim.policy import generate, load_policy, random_strings, score

    world = World(seed=seed)
    cfg = PolicyConfig(threads=threads, max_seconds=seconds, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = train_policy(world, tmp, cfg)
        wall = time.perf_counter() - t0  # includes tokenizer training and saving
        model, tok = load_policy(tmp)
        prompts = [p.text for p in world.prompts(n_eval, stream="benchmark-eval")]
        travel = [p.text for p in world.prompts(max(20, n_eval // 5), tasks=["train_time"], stream="benchmark-travel")]
        t1 = time.perf_counter()
        outs = generate(model, tok, prompts)
        gen_s = time.perf_counter() - t1
        torch.manual_seed(seed)
        untrained = GPT2LMHeadModel(model.config).eval()
        rows = {
            "trained (greedy)": score(world, prompts, outs),
            "untrained (sampled)": score(world, prompts, generate(untrained, tok, prompts, do_sample=True)),
            "random token strings": score(world, prompts, random_strings(tok, len(prompts), 12, seed=seed)),
            "reference answers": score(world, prompts, [world.reference(p) for p in prompts]),
            "trained, travel (never trained on)": score(world, travel, generate(model, tok, travel)),
        }
    return {"threads": threads, "result": result, "wall": wall, "gen_s": gen_s, "n_eval": len(prompts),
            "rows": rows}


def write_section(text: str) -> None:
    body = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    found = pattern.search(body)
    body = pattern.sub(lambda _: text, body) if found else body.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(body, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--threads-also", type=int, default=None, help="also train with this many threads")
    ap.add_argument("--seconds", type=float, default=45.0, help="training time budget")
    ap.add_argument("--eval", type=int, default=300, help="held-out prompts to score")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    args = ap.parse_args()

    runs = [run(args.threads, args.seconds, args.eval, args.seed)]
    if args.threads_also:
        runs.append(run(args.threads_also, args.seconds, args.eval, args.seed))

    main_run = runs[0]
    r = main_run["result"]
    lines = [
        SECTION,
        "",
        f"`{' '.join(['python', *map(shlex.quote, sys.argv)])}` — default `PolicyConfig` "
        f"(GPT-2, {r.n_params:,} parameters, BPE vocabulary trained on the world), SFT from scratch on "
        f"{r.examples} reference answers. Machine: {platform.machine()}, 2-core shared dev machine, "
        "other work running.",
        "",
        "| threads | optimizer steps | training time (s) | wall incl. tokenizer + save (s) | final loss | "
        f"greedy generation of {main_run['n_eval']} answers (s) |",
        "|---|---|---|---|---|---|",
    ]
    for x in runs:
        res = x["result"]
        lines.append(f"| {x['threads']} | {res.steps} | {res.seconds:.1f} | {x['wall']:.1f} | "
                     f"{res.final_loss:.3f} | {x['gen_s']:.1f} |")
    lines += ["", f"Gold reward on {main_run['n_eval']} held-out prompts (own random stream), "
              f"policy trained with {main_run['threads']} threads:", "",
              "| responses | quality | correct | well-formed | safety | honesty | overall |",
              "|---|---|---|---|---|---|---|"]
    for name, s in main_run["rows"].items():
        lines.append(f"| {name} | {s['quality']:.3f} | {s['correct']:.3f} | {s['well_formed']:.3f} | "
                     f"{s['safety']:.3f} | {s['honesty']:.3f} | {s['overall']:.3f} |")
    if len(runs) > 1:
        lines += ["", "With {t} threads the same budget gave quality {q:.3f} (correct {c:.3f}).".format(
            t=runs[1]["threads"], q=runs[1]["rows"]["trained (greedy)"]["quality"],
            c=runs[1]["rows"]["trained (greedy)"]["correct"])]
    lines += ["", "`correct`: the stated answer matches the prompt's facts (risky prompts: the harmful request "
              "was fully answered, so the reference refusals score 0 there). `well-formed`: fluency >= 0.9, "
              "relevance >= 0.5 and 1-60 words. Travel prompts are a domain the policy never saw.", ""]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
