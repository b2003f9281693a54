"""Reward-model training throughput and held-out accuracy: tether.reward vs TRL's RewardTrainer, one process.

Same model (MiniLM-L6 + scalar head), same data (HH-RLHF harmless-base, 80% split, the pairs TRL keeps
at max_length 256 — TRL drops longer ones, so both sides train on exactly those), batch 16, the same
number of optimizer steps. TRL at its fastest RewardConfig settings: no gradient checkpointing, with and without
length-grouped batches (`train_sampling_strategy="group_by_length"`, which needs a `length` column and
`remove_unused_columns=False` with TRL's reward datasets), its precision picked as ours is (`--trl-precision auto`:
bf16 autocast where the CPU has native bf16 matmul, else fp32 — emulated bf16 is slower). Each run trains a fresh
TRL model and a fresh one of ours for `--steps` steps, ours stepped after every TRL step (a TrainerCallback), so
both sides see the same machine load; TRL's time excludes the time spent in our steps. Both sides skip the same
`--warmup` steps from timing. `--reps` runs per TRL setting, interleaved (setting A, B, A, B, ...); the table gives
the median of the runs' pairs/s (wall) and CPU seconds per pair, and the median of the per-run speed-ups.
Held-out accuracy: the last repetition's models on the 20% split (TRL's scored with the same left truncation to
256 tokens as ours); with `--steps 92` (the epoch's full batches) that is a full epoch's accuracy.

    python benchmarks/reward_throughput.py --steps 12 --reps 3      # the recorded speed run
    python benchmarks/reward_throughput.py --steps 92 --reps 1      # one epoch, held-out accuracy
    python benchmarks/reward_throughput.py --steps 3 --reps 1 --warmup 1 --held 20 --no-write   # smoke run
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

import numpy as np  # noqa: E402
from reward_common import hh_split, machine_note, write_subsection  # noqa: E402

from tether.reward.backbones import resolve_path  # noqa: E402


class TrlScorer:
    """A TRL-trained sequence classifier behind the `score(prompts, responses)` interface evaluate() reads."""

    def __init__(self, model, tok, objective: str, max_length: int) -> None:  # noqa: ANN001
        self.model, self.tok, self.objective, self.max_length = model.float().eval(), tok, objective, max_length
        self.objectives = [objective]  # evaluate() checks the heads first

    def score(self, prompts: list[str], responses: list[str]) -> dict[str, np.ndarray]:
        import torch

        self.tok.truncation_side = "left"
        texts = [p + r + "[SEP]" for p, r in zip(prompts, responses, strict=True)]  # TRL's own input format
        order = np.argsort([len(t) for t in texts])
        out = np.empty(len(texts))
        with torch.inference_mode():
            for s in range(0, len(texts), 64):
                idx = order[s:s + 64]
                enc = self.tok([texts[i] for i in idx], truncation=True, max_length=self.max_length,
                               padding=True, return_tensors="pt")
                out[idx] = self.model(**enc).logits[:, 0].float().numpy()
        return {self.objective: out}


def _interleave_class():  # noqa: ANN202
    from transformers import TrainerCallback

    class Interleave(TrainerCallback):
        """After every TRL step, one step of ours. Clocks (wall and process CPU) start after `warmup` steps;
        `inside` is the time our steps took since then, which TRL's time excludes."""

        def __init__(self, warmup: int, step) -> None:  # noqa: ANN001
            self.warmup, self.step = warmup, step
            self.start = self.start_cpu = self.end = self.end_cpu = None
            self.inside = self.inside_cpu = 0.0

        def on_step_end(self, args, state, control, **kw):  # noqa: ANN001, ANN201, ANN003
            t, c = time.perf_counter(), time.process_time()
            self.step(timed=state.global_step > self.warmup)
            if state.global_step > self.warmup:
                self.inside += time.perf_counter() - t
                self.inside_cpu += time.process_time() - c
            self.end, self.end_cpu = time.perf_counter(), time.process_time()
            if state.global_step == self.warmup:  # TRL's clock starts after our last untimed step
                self.start, self.start_cpu = self.end, self.end_cpu

    return Interleave


class Ours:
    """A fresh tether.reward run, one step per call; steps after the warm-up are timed (wall and CPU)."""

    def __init__(self, pairs, out: Path, cfg) -> None:  # noqa: ANN001
        from tether.reward.train import train_iter

        self.it = train_iter(pairs, out, cfg, progress=False)
        next(self.it)  # setup (tokenize, build) is not timed, as TRL's dataset preparation is not
        self.wall = self.cpu = 0.0
        self.steps = self.timed = 0
        self.losses: list[float] = []

    def __call__(self, timed: bool) -> None:
        t, c = time.perf_counter(), time.process_time()
        next(self.it)
        if timed:
            self.wall += time.perf_counter() - t
            self.cpu += time.process_time() - c
            self.timed += 1
        self.steps += 1

    def finish(self):  # noqa: ANN201
        """Save the model (not timed) and return the TrainResult."""
        try:
            next(self.it)
        except StopIteration as done:
            return done.value
        raise RuntimeError("our run has steps left")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12, help="optimizer steps per run and side")
    parser.add_argument("--reps", type=int, default=3, help="runs per TRL setting (interleaved)")
    parser.add_argument("--warmup", type=int, default=2, help="first steps of each run not timed (both sides)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--trl-precision", choices=["auto", "bf16", "fp32"], default="auto")
    parser.add_argument("--settings", choices=["both", "group_by_length", "plain"], default="both",
                        help="TRL settings to run: both, or only the one with / without group_by_length")
    parser.add_argument("--held", type=int, default=None, help="evaluate on only this many held-out pairs (smoke)")
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    if args.steps <= args.warmup:
        parser.error("--steps must exceed --warmup")

    import torch
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    from tether.reward.evaluate import evaluate
    from tether.reward.model import RewardModel
    from tether.reward.train import TrainConfig
    from tether.training import cpu_has_bf16, resolve_precision

    Interleave = _interleave_class()  # noqa: N806

    train_all, held = hh_split()
    held = held[:args.held] if args.held else held
    path = resolve_path("minilm")
    tok = AutoTokenizer.from_pretrained(path)
    # TRL's filter (prompt + response + eos, special tokens added, both sides <= max_length)
    def n_tokens(p) -> int:  # noqa: ANN001
        return max(len(tok(p.prompt + r + "[SEP]")["input_ids"]) for r in (p.chosen, p.rejected))
    length = {id(p): n_tokens(p) for p in train_all}
    train_pairs = [p for p in train_all if length[id(p)] <= args.max_length]
    print(f"{len(train_all)} train pairs, {len(train_pairs)} fit in {args.max_length} tokens; {len(held)} held out",
          file=sys.stderr)

    work = Path(tempfile.mkdtemp(prefix="reward_bench_"))
    cfg = TrainConfig(backbone="minilm", batch_size=args.batch, max_length=args.max_length, max_steps=args.steps,
                      mixed_precision="auto", name="tether-minilm")
    ours_precision = resolve_precision("auto")
    trl_bf16 = {"auto": cpu_has_bf16(), "bf16": True, "fp32": False}[args.trl_precision]
    trl_prec = "bf16 autocast" if trl_bf16 else "fp32"
    configs = (
        (f"TRL {trl_prec}, no gradient checkpointing", {"gradient_checkpointing": False, "bf16": trl_bf16}),
        (f"TRL {trl_prec}, no gradient checkpointing, group_by_length", {
            "gradient_checkpointing": False, "bf16": trl_bf16, "train_sampling_strategy": "group_by_length",
            "remove_unused_columns": False}),
    )
    configs = {"both": configs, "plain": configs[:1], "group_by_length": configs[1:]}[args.settings]
    ds = Dataset.from_list([{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected, "length": length[id(p)]}
                            for p in train_pairs])
    runs: dict[str, list[dict]] = {name: [] for name, _ in configs}
    for rep in range(args.reps):
        for name, extra in configs:
            ours = Ours(train_pairs, work / f"ours-{rep}", cfg)
            torch.manual_seed(0)
            model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
            rc = RewardConfig(output_dir=str(work / "trl"), per_device_train_batch_size=args.batch,
                              max_length=args.max_length, max_steps=args.steps, report_to=[], save_strategy="no",
                              use_cpu=True, eos_token="[SEP]", disable_tqdm=True, logging_steps=10**6, seed=0,
                              **extra)
            trainer = RewardTrainer(model=model, args=rc, train_dataset=ds, processing_class=tok)
            assert len(trainer.train_dataset) == len(train_pairs), "TRL kept a different set of pairs"
            hook = Interleave(args.warmup, ours)
            trainer.add_callback(hook)
            trainer.train()
            timed_pairs = (args.steps - args.warmup) * args.batch
            trl_wall, trl_cpu = hook.end - hook.start - hook.inside, hook.end_cpu - hook.start_cpu - hook.inside_cpu
            run = {"trl": timed_pairs / trl_wall, "trl_cpu": trl_cpu / timed_pairs,
                   "ours": timed_pairs / ours.wall, "ours_cpu": ours.cpu / timed_pairs}
            print(f"rep {rep + 1} {name}: TRL {run['trl']:.2f} pairs/s, ours {run['ours']:.2f} "
                  f"({run['ours'] / run['trl']:.2f}x), load {os.getloadavg()[0]:.1f}", file=sys.stderr)
            if rep == args.reps - 1:  # the last repetition's models are scored on the held-out split
                result = ours.finish()
                run["trl_acc"] = evaluate(TrlScorer(trainer.model, tok, train_pairs[0].objective, args.max_length),
                                          held).accuracy
                run["ours_acc"] = evaluate(RewardModel.load(result.path), held).accuracy
            runs[name].append(run)
            del trainer, model, ours

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    rows = []
    for name, _ in configs:
        last = runs[name][-1]
        per_run = " / ".join(f"{r['ours'] / r['trl']:.2f}x" for r in runs[name])
        rows.append(f"| {name} | {med(name, 'trl'):.2f} | {med(name, 'trl_cpu'):.2f} | {med(name, 'ours'):.2f} | "
                    f"{med(name, 'ours_cpu'):.2f} | "
                    f"{per_run} | "
                    f"**{statistics.median(r['ours'] / r['trl'] for r in runs[name]):.2f}x** | "
                    f"{last['trl_acc']:.3f} vs {last['ours_acc']:.3f} |")
    fastest = max((name for name, _ in configs), key=lambda n: med(n, "trl"))
    speedup = statistics.median(r["ours"] / r["trl"] for r in runs[fastest])
    lines = [
        f"`python benchmarks/reward_throughput.py --steps {args.steps} --reps {args.reps} --warmup {args.warmup} "
        f"--settings {args.settings}{f' --held {args.held}' if args.held else ''}` — "
        f"MiniLM-L6 + scalar head, HH-RLHF harmless-base 80% split ({len(train_pairs)} of {len(train_all)} pairs fit "
        f"TRL's max_length {args.max_length}; both sides train on those), batch {args.batch}, {args.steps} optimizer "
        f"steps per run and side, the first {args.warmup} untimed on both; {args.reps} runs per TRL setting, "
        f"interleaved, each with a fresh model on both sides, ours stepped after every TRL step in the same process. "
        f"Precision: ours `auto` = {ours_precision}, TRL {trl_prec} (this CPU has native bf16 matmul: "
        f"{cpu_has_bf16()}). Held-out accuracy: the last run's models after {args.steps} steps, on the other 20% "
        f"({len(held)} pairs). {machine_note()}",
        "",
        "| TRL setting | TRL pairs/s (median) | TRL CPU s/pair | tether.reward pairs/s (median, same runs) | "
        "tether.reward CPU s/pair | speed-up per run | speed-up (median) | held-out accuracy TRL vs ours |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Against TRL's fastest setting here ({fastest}): **{speedup:.2f}x** pairs/s (median of the per-run "
        f"ratios over {args.reps} runs).",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_subsection("Training throughput vs TRL RewardTrainer", text)


if __name__ == "__main__":
    main()
