"""Reward-model training throughput and held-out accuracy: tether.reward vs TRL's RewardTrainer, one process.

Same model (MiniLM-L6 + scalar head), same data (HH-RLHF harmless-base, 80% split, the pairs TRL keeps
at max_length 256 — TRL drops longer ones, so both sides train on exactly those), batch 16, the same
number of optimizer steps. TRL runs three times: at its defaults (RewardConfig: bf16 autocast, gradient
checkpointing), at its fastest RewardConfig setting here (bf16, no gradient checkpointing), and with that
plus length-grouped batches (`train_sampling_strategy="group_by_length"`, which needs a `length` column and
`remove_unused_columns=False` with TRL's reward datasets). Ours is stepped *inside* TRL's runs (a
TrainerCallback advances our trainer by one step after every third TRL step), so both sides see the same
machine load; TRL's time excludes the time spent in our steps. Held-out accuracy: all models on the 20%
split (TRL's models scored with the same left truncation to 256 tokens as ours).

    python benchmarks/reward_throughput.py --steps 92        # the epoch's 92 full batches of the 80% split
    python benchmarks/reward_throughput.py --steps 3 --held 20 --no-write   # smoke run
"""

from __future__ import annotations

import argparse
import os
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
        """After every `every`-th TRL step (offset `phase`), run one step of ours; `inside` is the time it took."""

        def __init__(self, phase: int, every: int, step) -> None:  # noqa: ANN001
            self.phase, self.every, self.step, self.inside = phase, every, step, 0.0

        def on_step_end(self, args, state, control, **kw):  # noqa: ANN001, ANN201, ANN003
            if state.global_step % self.every == self.phase:
                t = time.perf_counter()
                self.step()
                self.inside += time.perf_counter() - t

    return Interleave


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=92, help="optimizer steps per side")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--held", type=int, default=None, help="evaluate on only this many held-out pairs (smoke)")
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()

    import torch
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    from tether.reward.evaluate import evaluate
    from tether.reward.model import RewardModel
    from tether.reward.train import TrainConfig, train_iter

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
    ours = train_iter(train_pairs, work / "ours", cfg, progress=False)
    next(ours)  # setup (tokenize, build) is not timed, as TRL's dataset preparation is not
    ours_time, ours_steps, result = 0.0, 0, None

    def step_ours() -> None:
        """One training step of ours (timed); the call that ends the generator saves the model (not timed)."""
        nonlocal ours_time, ours_steps, result
        if result is not None:
            return
        t = time.perf_counter()
        try:
            next(ours)
            ours_steps += 1
            ours_time += time.perf_counter() - t
        except StopIteration as done:
            result = done.value

    configs = (
        ("TRL defaults (bf16 autocast, gradient checkpointing)", {}),
        ("TRL bf16, no gradient checkpointing (fastest RewardConfig setting)", {"gradient_checkpointing": False}),
        ("TRL bf16, no gradient checkpointing, group_by_length", {
            "gradient_checkpointing": False, "train_sampling_strategy": "group_by_length",
            "remove_unused_columns": False}),
    )
    ds = Dataset.from_list([{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected, "length": length[id(p)]}
                            for p in train_pairs])
    runs = {}
    for phase, (name, extra) in enumerate(configs):
        torch.manual_seed(0)
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
        rc = RewardConfig(output_dir=str(work / "trl"), per_device_train_batch_size=args.batch,
                          max_length=args.max_length, max_steps=args.steps, report_to=[], save_strategy="no",
                          use_cpu=True, eos_token="[SEP]", disable_tqdm=True, logging_steps=10**6, seed=0, **extra)
        trainer = RewardTrainer(model=model, args=rc, train_dataset=ds, processing_class=tok)
        assert len(trainer.train_dataset) == len(train_pairs), "TRL kept a different set of pairs"
        hook = Interleave(phase, len(configs), step_ours)
        trainer.add_callback(hook)
        t0, steps0, time0 = time.perf_counter(), ours_steps, ours_time
        trainer.train()
        wall = time.perf_counter() - t0 - hook.inside
        # ours during this run (same load); full batches when --steps is a multiple of the epoch's full batches
        during = (ours_steps - steps0) * args.batch / max(ours_time - time0, 1e-9)
        runs[name] = {"seconds": wall, "pairs": args.steps * args.batch, "tokens": trainer._total_train_tokens,
                      "during": during,
                      "scorer": TrlScorer(trainer.model, tok, train_pairs[0].objective, args.max_length)}
        print(f"{name}: {wall:.1f}s; ours so far {ours_steps} steps in {ours_time:.1f}s", file=sys.stderr)
    while result is None:  # step counts not divisible by 3 leave a step or the final save
        step_ours()
    rm = RewardModel.load(work / "ours")

    rows = []
    for name, r in runs.items():
        acc = evaluate(r["scorer"], held).accuracy
        rows.append((name, r["pairs"] / r["seconds"], r["tokens"] / r["seconds"], acc, r["seconds"], r["during"]))
    ours_eval = evaluate(rm, held)
    ours_row = ("tether.reward (bf16 model + fp32 master weights, length-bucketed, matmul attention on CPU)",
                result.pairs_seen / ours_time, result.tokens_seen / ours_time, ours_eval.accuracy, ours_time,
                result.pairs_seen / ours_time)
    best = max(rows, key=lambda r: r[1])
    lines = [
        f"`python benchmarks/reward_throughput.py --steps {args.steps}` — MiniLM-L6 + scalar head, HH-RLHF "
        f"harmless-base 80% split ({len(train_pairs)} of {len(train_all)} pairs fit TRL's max_length "
        f"{args.max_length}; both sides train on those), batch {args.batch}, {args.steps} optimizer steps per side "
        f"({args.steps * args.batch} pairs), ours stepped between TRL's steps in the same process. "
        f"Held-out accuracy on the other 20% ({len(held)} pairs). {machine_note()}",
        "",
        "| trainer | pairs/s | tokens/s (non-pad) | held-out accuracy | train seconds | tether.reward pairs/s "
        "during this run | tether.reward speed-up (same run) |",
        "|---|---|---|---|---|---|---|",
        *[f"| {n} | {p:.2f} | {t:.0f} | {a:.3f} | {s:.1f} | {d:.2f} | {d / p:.2f}x |"
          for n, p, t, a, s, d in [*rows, ours_row]],
        "",
        f"Speed-up over TRL's fastest setting here ({best[0]}), both measured during that run: "
        f"**{best[5] / best[1]:.2f}x** pairs/s (whole-run average of ours: {ours_row[1] / best[1]:.2f}x); "
        f"held-out accuracy {ours_row[3]:.3f} vs {best[3]:.3f}.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_subsection("Training throughput vs TRL RewardTrainer", text)


if __name__ == "__main__":
    main()
