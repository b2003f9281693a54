"""Online-RL throughput: tether.policy.rl vs TRL's GRPOTrainer and RLOOTrainer, interleaved in one process.

Same policy (the built-in 0.6M-parameter sim GPT-2, SFT for ~20 s into a temp folder), same prompts (the
simulated world's), the world's gold `overall` as the reward (TRL: `reward_funcs`), 16 completions per step,
4 per prompt, at most 48 new tokens, temperature 1, no top-k, one optimizer step per batch. TRL at its fastest
settings here: gradient checkpointing off (its default is on), fp32 (bf16 autocast was slower in a trial, 16.9 vs
19-36 completions/s, and cannot share a process with fp32 runs: accelerate's state is process-wide), and GRPO
with its default `beta=0` (no reference model) beside `beta=0.05`. After every TRL step, each of our variants
takes one step (timed apart; TRL's time excludes ours), so both sides see the same machine load. Each TRL run
is repeated `--runs` times; figures are medians over runs. GFLOP/s: 2 FLOPs per weight per token for a forward
(lm head included, attention's own FLOPs left out), 3 forwards' worth for forward + backward, over prompt +
completion tokens (padding not counted): generation 1x, reference 1x (when there is one), training 3x.

    python benchmarks/policy_rl_throughput.py --steps 20 --runs 3
    python benchmarks/policy_rl_throughput.py --steps 3 --runs 1 --no-write      # smoke run
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

PER_STEP, K, NEW_TOKENS = 16, 4, 48


def ours_variants() -> dict[str, dict]:
    """Our configurations: the default (GRPO with the conservative fixed KL, so a reference forward), without KL
    (TRL's GRPO default), bf16 weights with fp32 masters, and RLOO."""
    base = {"prompts_per_step": PER_STEP // K, "completions_per_prompt": K, "max_new_tokens": NEW_TOKENS,
            "lr": 1e-5, "sample_every": 0, "objectives": ["overall"]}
    return {
        "tether GRPO, KL 0.05 (default: reference forward), fp32": {**base, "algorithm": "grpo"},
        "tether GRPO, no KL (as TRL's GRPO default), fp32": {**base, "algorithm": "grpo", "kl_coef": 0.0},
        "tether GRPO, KL 0.05, bf16 + fp32 masters": {**base, "algorithm": "grpo", "mixed_precision": "bf16"},
        "tether RLOO, KL 0.05 (as TRL's RLOO default), fp32": {**base, "algorithm": "rloo"},
    }


def trl_runs() -> list[tuple[str, str, dict]]:
    common = {"gradient_checkpointing": False, "bf16": False}
    return [
        ("TRL GRPOTrainer, beta 0 (default), no gradient checkpointing, fp32", "grpo", common),
        ("TRL GRPOTrainer, beta 0.05 (reference model), no gradient checkpointing, fp32", "grpo",
         {**common, "beta": 0.05}),
        ("TRL RLOOTrainer, beta 0.05 (default), no gradient checkpointing, fp32", "rloo", common),
    ]


def flops_per_token(model) -> float:  # noqa: ANN001
    """Forward FLOPs per token: 2 per weight of every matmul (the tied lm head counted, embeddings not)."""
    cfg = model.config
    n = sum(p.numel() for p in model.parameters())
    embeddings = cfg.vocab_size * cfg.n_embd + cfg.n_positions * cfg.n_embd
    return 2.0 * (n - embeddings + cfg.vocab_size * cfg.n_embd)


def make_policy(seconds: float, folder: Path) -> Path:
    from tether.sim import PolicyConfig, World, train_policy

    train_policy(World(0), folder, PolicyConfig(max_seconds=seconds, threads=1), show_progress=False)
    return folder


def _callback_class():  # noqa: ANN202
    from transformers import TrainerCallback

    class Interleave(TrainerCallback):
        """After every TRL step, one step of each of ours (`inside`: the time they took); TRL's own wall time."""

        def __init__(self, step_ours) -> None:  # noqa: ANN001
            self.step_ours, self.inside, self.t0, self.wall = step_ours, 0.0, 0.0, 0.0

        def on_train_begin(self, args, state, control, **kw):  # noqa: ANN001, ANN201, ANN003
            self.t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):  # noqa: ANN001, ANN201, ANN003
            t = time.perf_counter()
            self.step_ours()
            self.inside += time.perf_counter() - t

        def on_train_end(self, args, state, control, **kw):  # noqa: ANN001, ANN201, ANN003
            self.wall = time.perf_counter() - self.t0 - self.inside

    return Interleave


def trl_trainer(kind: str, extra: dict, policy: Path, prompts: list[str], reward_fn, steps: int, out: Path):  # noqa: ANN001, ANN201
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback
    from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer

    from tether.sim.policy import format_prompt

    tok = AutoTokenizer.from_pretrained(policy)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(policy)
    config_cls, trainer_cls = (GRPOConfig, GRPOTrainer) if kind == "grpo" else (RLOOConfig, RLOOTrainer)
    args = config_cls(output_dir=str(out), per_device_train_batch_size=PER_STEP, num_generations=K,
                      max_completion_length=NEW_TOKENS, max_steps=steps, learning_rate=1e-5, logging_steps=1,
                      report_to=[], save_strategy="no", use_cpu=True, disable_tqdm=True, seed=0, **extra)
    ds = Dataset.from_list([{"prompt": format_prompt(p)} for p in prompts])
    trainer = trainer_cls(model=model, reward_funcs=[reward_fn], args=args, train_dataset=ds, processing_class=tok)
    trainer.remove_callback(PrinterCallback)  # no log lines on stdout (logging_steps=1 keeps mean lengths)
    return trainer


def gold_reward_fn():  # noqa: ANN201
    from tether.sim import World
    from tether.sim.policy import ANSWER

    world = World(0)

    def gold_overall(prompts, completions, **kw):  # noqa: ANN001, ANN003, ANN202
        return [world.gold_reward(p.removesuffix(ANSWER), c.strip())["overall"]
                for p, c in zip(prompts, completions, strict=True)]

    return gold_overall


def phase_profile(policy: Path, prompts: list[str], gold, steps: int, work: Path) -> dict[str, float]:  # noqa: ANN001
    """Where a step of our default goes: seconds per step in sampling, the reward, the reference forward, the update
    (training forward, backward, AdamW) and the rest (KL bookkeeping, logging), over `steps` steps."""
    import tether.policy.rl as rl
    from tether.policy.rl_config import RLConfig

    spent = dict.fromkeys(("sampling (rollout)", "reward (gold)", "experience", "update"), 0.0)

    def timed(fn, key):  # noqa: ANN001, ANN202
        def wrapper(*a, **kw):  # noqa: ANN002, ANN003, ANN202
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                spent[key] += time.perf_counter() - t
        return wrapper

    originals = {name: getattr(rl, name) for name in ("rollout", "_experience", "_update")}
    rl.rollout = timed(originals["rollout"], "sampling (rollout)")
    rl._experience = timed(originals["_experience"], "experience")
    rl._update = timed(originals["_update"], "update")
    scorer = timed(gold, "reward (gold)")
    scorer.objectives = gold.objectives  # type: ignore[attr-defined]
    try:
        kw = next(iter(ours_variants().values()))
        it = rl.rl_iter(policy, prompts, scorer, work / "phases", RLConfig(steps=steps + 2, **kw), progress=False,
                        save=False)
        next(it)
        next(it), next(it)  # warm-up
        for key in spent:
            spent[key] = 0.0
        t0 = time.perf_counter()
        for _ in range(steps):
            next(it)
        total = time.perf_counter() - t0
    finally:
        for name, fn in originals.items():
            setattr(rl, name, fn)
    ref = spent["experience"] - spent["sampling (rollout)"] - spent["reward (gold)"]
    out = {"sampling (rollout)": spent["sampling (rollout)"], "reward (gold)": spent["reward (gold)"],
           "reference forward": ref, "update (forward, backward, AdamW)": spent["update"]}
    out["other (KL bookkeeping, metrics log)"] = total - sum(out.values())
    return {k: v / steps for k, v in out.items()}


def main() -> None:  # noqa: PLR0915
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps per run and side")
    parser.add_argument("--runs", type=int, default=3, help="runs of each TRL configuration")
    parser.add_argument("--policy", type=Path, default=None, help="sim policy folder (default: train one)")
    parser.add_argument("--seconds", type=float, default=20.0, help="SFT seconds for the policy")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    import torch

    from tether.policy.generation import load_policy
    from tether.policy.rl import rl_iter
    from tether.policy.rl_config import RLConfig
    from tether.sim import World
    from tether.sim.evaluators import GoldEvaluator
    from tether.sim.policy import format_prompt

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="rl_bench_"))
    policy = args.policy or make_policy(args.seconds, work / "policy")
    world = World(0)
    prompts = [p.text for p in world.prompts(512, stream="rl-throughput")]
    model, tok = load_policy(policy)
    fpt = flops_per_token(model)
    prompt_tokens = statistics.mean(len(tok(format_prompt(p))["input_ids"]) for p in prompts)
    gold = GoldEvaluator(world)
    variants = ours_variants()
    ours: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}  # (completions/s, GFLOP/s) per run
    trl: dict[str, list[tuple[float, float]]] = {}
    paired: dict[str, list[float]] = {}  # TRL configuration -> our default's speed-up within each of its runs
    Interleave = _callback_class()  # noqa: N806
    for rep in range(args.runs):
        for name, kind, extra in trl_runs():
            iters, spent, lengths = {}, dict.fromkeys(variants, 0.0), {v: [] for v in variants}
            for v, kw in variants.items():
                iters[v] = rl_iter(policy, prompts, gold, work / "ours", RLConfig(steps=args.steps, seed=rep, **kw),
                                   progress=False, save=False)
                next(iters[v])  # set-up is not timed (as TRL's is not)

            def step_ours() -> None:
                for v, it in iters.items():  # noqa: B023
                    t = time.perf_counter()
                    m = next(it, None)
                    spent[v] += time.perf_counter() - t  # noqa: B023
                    if m:
                        lengths[v].append(m["length"])  # noqa: B023

            trainer = trl_trainer(kind, extra, policy, prompts, gold_reward_fn(), args.steps, work / "trl")
            hook = Interleave(step_ours)
            trainer.add_callback(hook)
            trainer.train()
            trl_len = statistics.mean(h["completions/mean_length"] for h in trainer.state.log_history
                                      if "completions/mean_length" in h)
            passes = 4 + (1 if extra.get("beta", 0.05 if kind == "rloo" else 0.0) else 0)
            done = args.steps * PER_STEP
            trl.setdefault(name, []).append(
                (done / hook.wall, done * (prompt_tokens + trl_len) * fpt * passes / hook.wall / 1e9))
            for v, kw in variants.items():
                passes = 4 + (1 if kw.get("kl_coef", 0.05) else 0)
                flops = done * (prompt_tokens + statistics.mean(lengths[v])) * fpt * passes
                ours[v].append((done / spent[v], flops / spent[v] / 1e9))
            default = next(iter(variants))
            paired.setdefault(name, []).append((done / spent[default]) / (done / hook.wall))
            print(f"run {rep + 1}: {name}: {done / hook.wall:.1f} completions/s; ours "
                  + ", ".join(f"{done / spent[v]:.1f}" for v in variants), file=sys.stderr)
    phases = phase_profile(policy, prompts, gold, max(args.steps, 10), work)
    write(args, ours, trl, paired, fpt, prompt_tokens, sum(p.numel() for p in model.parameters()), phases)


def write(args, ours: dict, trl: dict, paired: dict, fpt: float, prompt_tokens: float,  # noqa: ANN001
          n_params: int, phases: dict[str, float]) -> None:
    def med(rows: list[tuple[float, float]]) -> tuple[float, float, float, float]:
        cps = [r[0] for r in rows]
        return statistics.median(cps), min(cps), max(cps), statistics.median(r[1] for r in rows)

    table = [(n, *med(r)) for n, r in trl.items()] + [(n, *med(r)) for n, r in ours.items()]
    best_trl = max((r for r in table if r[0] in trl), key=lambda r: r[1])
    best_ours = max((r for r in table if r[0] in ours), key=lambda r: r[1])
    default = table[len(trl)]
    lines = [
        f"`python benchmarks/policy_rl_throughput.py --steps {args.steps} --runs {args.runs}` — the built-in sim "
        f"policy ({n_params:,} parameters, {fpt / 1e6:.2f} MFLOP per token forward), the world's gold `overall` as "
        f"the reward, {PER_STEP} completions per step ({K} per prompt), at most {NEW_TOKENS} new tokens "
        f"(mean prompt {prompt_tokens:.1f} tokens), {args.steps} steps per run, {args.runs} runs of each TRL "
        f"configuration; each of ours steps once after every TRL step in the same process. torch threads: "
        f"{args.threads}. {machine_note()}",
        "",
        "| trainer | completions/s (median) | min-max over runs | GFLOP/s (median) | vs TRL's fastest |",
        "|---|---|---|---|---|",
        *[f"| {n} | {c:.1f} | {lo:.1f}-{hi:.1f} | {g:.2f} | {c / best_trl[1]:.2f}x |"
          for n, c, lo, hi, g in table],
        "",
        f"Against TRL's fastest here ({best_trl[0]}, {best_trl[1]:.1f} completions/s): our default "
        f"**{default[1] / best_trl[1]:.2f}x**, our fastest ({best_ours[0]}) **{best_ours[1] / best_trl[1]:.2f}x**.",
        "",
        "Our default's speed-up within the same run (both sides under the same load), median over runs: "
        + "; ".join(f"{n}: {statistics.median(r):.2f}x (runs {', '.join(f'{x:.2f}' for x in r)})"
                    for n, r in paired.items()) + ".",
        "",
        "Where a step of our default goes (" + f"{sum(phases.values()) * 1000:.0f} ms a step, measured alone after "
        "the runs): " + ", ".join(f"{k} {v * 1000:.0f} ms ({100 * v / sum(phases.values()):.0f}%)"
                                  for k, v in phases.items()) + ".",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_subsection("Throughput vs TRL GRPOTrainer / RLOOTrainer", text)


if __name__ == "__main__":
    main()
