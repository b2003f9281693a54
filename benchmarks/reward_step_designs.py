"""One reward-model training step (forward + backward) under each forward design, interleaved in one process.

MiniLM-L6 + scalar head, the reward benchmark's data (HH-RLHF harmless-base 80% split, max length 256, batch 16
pairs = 32 sequences, length-bucketed batches from the first 512 pairs), the precision `auto` picks here.
Designs, round-robin on the same batches so that machine load falls on all of them alike:

- padded: transformers' BERT forward with tether's matmul attention (the path before tether.reward.packed)
- fused QKV: one [hidden, 3 x hidden] projection, padded layout
- packed: token-wise layers on real tokens only, three projections
- packed + fused QKV: both (what training uses)

    python benchmarks/reward_step_designs.py --batches 6 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))

from reward_common import hh_split, machine_note  # noqa: E402

DESIGNS = {"padded (transformers BERT, matmul attention)": None, "fused QKV, padded": (True, False),
           "packed, three projections": (False, True), "packed + fused QKV": (True, True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=6, help="bucketed batches per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=256)
    args = parser.parse_args()

    import torch

    from tether.reward import packed
    from tether.reward.attention import register
    from tether.reward.backbones import build
    from tether.reward.data import encode, pad, plan_batches
    from tether.training import resolve_precision

    train, _ = hh_split()
    net, tok = build("minilm", [train[0].objective])
    net.body.set_attn_implementation(register())
    precision = resolve_precision("auto")
    if precision == "bf16":
        net.body.to(torch.bfloat16)
    net.train()
    data = encode(tok, train[:512], [train[0].objective], args.max_length)  # enough for the batches timed
    plan = plan_batches(data.lengths(), args.batch, seed=0)[:args.batches]
    batches = [pad([data.chosen[i] for i in b] + [data.rejected[i] for i in b], tok.pad_token_id) for b in plan]
    real = sum(int(m.sum()) for _, m in batches) / sum(m.numel() for _, m in batches)

    def run(design) -> tuple[float, float]:  # noqa: ANN001
        wall, cpu = time.perf_counter(), time.process_time()
        for x, m in batches:
            net.zero_grad(set_to_none=True)
            if design is None:
                out = net(x, m)
            else:
                out = net.heads(packed.mean_pooled(net.body, x, m, fused_qkv=design[0], pack=design[1]))
            out.float().sum().backward()
        return time.perf_counter() - wall, time.process_time() - cpu

    run(None)  # warm-up
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in DESIGNS}
    for r in range(args.rounds):
        for name, design in DESIGNS.items():
            times[name].append(run(design))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    base = statistics.median(w for w, _ in times[next(iter(DESIGNS))])
    print(f"`python benchmarks/reward_step_designs.py --batches {args.batches} --rounds {args.rounds}` — forward + "
          f"backward of {args.batches} bucketed batches of {2 * args.batch} sequences (real-token fraction "
          f"{real:.2f}), precision {precision}, torch threads {torch.get_num_threads()}; median of {args.rounds} "
          f"interleaved rounds. {machine_note()}\n")
    print("| design | seconds per step (median) | CPU seconds per step | speed-up vs padded |\n|---|---|---|---|")
    for name, ts in times.items():
        w = statistics.median(t for t, _ in ts) / args.batches
        c = statistics.median(t for _, t in ts) / args.batches
        print(f"| {name} | {w:.2f} | {c:.2f} | {base / args.batches / w:.2f}x |")


if __name__ == "__main__":
    main()
