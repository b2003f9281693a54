"""DPO training throughput: tether.policy's DPO trainer vs TRL's DPOTrainer, interleaved in one process.

Same policy (a GPT-2 built from a seeded random init: 4 layers, 256 wide, MiniLM's 30,522-token WordPiece
vocabulary without its [CLS]/[SEP] wrapping, EOS = [SEP]; 11M parameters), same data (HH-RLHF harmless-base pairs
whose prompt + longer response + EOS fit in --max-length tokens, so neither side truncates), batch, learning rate,
schedule (linear decay, no warm-up), beta, gradient clipping and optimizer step count. TRL runs at its fastest
documented DPOConfig settings here (chosen by --probe): no gradient checkpointing, reference log-probs precomputed
before training, and bf16 when it is faster. Each round (one seed, both sides) runs TRL's `train()`; a
TrainerCallback advances ours by one step after every TRL step, so both sides see the same machine load, and TRL's
time excludes ours. Setup (tokenizing, reference log-probs) is timed apart from training on both sides.

Achieved GFLOP/s counts the matmul FLOPs each side actually executes (from the shapes of every forward: rows x
padded length through the body, the LM head on the scored positions only, backward = 2x forward):
    2 * rows * L * (12 d^2 n_layer) + 4 * rows * L^2 * d * n_layer + 2 * scored * d * vocab   per forward.

    python benchmarks/policy_dpo_throughput.py --seeds 0 1 2          # 3 rounds (each invocation appends its
    python benchmarks/policy_dpo_throughput.py --seeds 3 --ours-concat  #  rounds to --rounds-file; the report
    python benchmarks/policy_dpo_throughput.py --probe --steps 3        #  covers all rounds of the same settings)
    python benchmarks/policy_dpo_throughput.py --steps 2 --seeds 0 --no-write --rounds-file /tmp/smoke.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))

from policy_common import write_subsection  # noqa: E402
from reward_common import hh_split, machine_note  # noqa: E402

WIDTH, LAYERS, HEADS = 256, 4, 4


def build_tokenizer():  # noqa: ANN201
    """MiniLM's WordPiece vocabulary as a decoder tokenizer: no [CLS]/[SEP] added, EOS = [SEP], pad = [PAD]."""
    from tokenizers import Tokenizer, processors
    from transformers import PreTrainedTokenizerFast

    from tether.reward.backbones import resolve_path

    tok = Tokenizer.from_file(str(resolve_path("minilm") / "tokenizer.json"))
    tok.post_processor = processors.TemplateProcessing(single="$A", pair="$A $B")
    tok.no_truncation()
    tok.no_padding()
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="[SEP]", pad_token="[PAD]", unk_token="[UNK]",
                                   model_max_length=10**6)


def build_policy(folder: Path, tok, max_length: int) -> None:  # noqa: ANN001
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(
        vocab_size=len(tok), n_positions=max_length, n_embd=WIDTH, n_layer=LAYERS, n_head=HEADS,
        bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0))
    model.save_pretrained(folder)
    tok.save_pretrained(folder)


def fitting_pairs(tok, max_length: int, n: int) -> list:  # noqa: ANN001
    """The first `n` of a seeded permutation of the HH train split whose prompt + longer response + EOS fit."""
    train, _ = hh_split()
    out = []
    for p in train:
        lp = len(tok(p.prompt)["input_ids"])
        lc = max(len(tok(r, add_special_tokens=False)["input_ids"]) for r in (p.chosen, p.rejected))
        if lp + lc + 1 <= max_length:
            out.append(p)
        if len(out) == n:
            return out
    raise SystemExit(f"only {len(out)} pairs fit {max_length} tokens; ask for fewer steps")


class Flops:
    """Matmul FLOPs of every forward, by phase (set `phase` around each side's work)."""

    def __init__(self, vocab: int) -> None:
        self.vocab, self.phase, self.by_phase = vocab, "idle", {}

    def add(self, rows: int, length: int, scored: int) -> None:
        import torch

        f = (2 * rows * length * 12 * WIDTH**2 * LAYERS + 4 * rows * length**2 * WIDTH * LAYERS
             + 2 * scored * WIDTH * self.vocab)
        self.by_phase[self.phase] = self.by_phase.get(self.phase, 0) + f * (3 if torch.is_grad_enabled() else 1)

    def hook_trl(self, model) -> None:  # noqa: ANN001
        def pre(module, args, kwargs):  # noqa: ANN001, ANN202
            ids, labels = kwargs.get("input_ids"), kwargs.get("labels")
            if ids is not None and labels is not None:
                self.add(ids.shape[0], ids.shape[1], int((labels[:, 1:] != -100).sum()))
        model.register_forward_pre_hook(pre, with_kwargs=True)

    def hook_ours(self) -> None:
        import torch

        from tether.policy.logps import SequenceScorer

        def pre(module, args):  # noqa: ANN001, ANN202
            if isinstance(module, SequenceScorer):
                batch = args[0]
                self.add(batch.input_ids.shape[0], batch.input_ids.shape[1], int(batch.source.numel()))
        torch.nn.modules.module.register_module_forward_pre_hook(pre)


def _interleave_class():  # noqa: ANN202
    from transformers import TrainerCallback

    class Interleave(TrainerCallback):
        """After every TRL step run one step of ours; `inside` / `inside_cpu` is the time it took."""

        def __init__(self, step) -> None:  # noqa: ANN001
            self.step, self.inside, self.inside_cpu = step, 0.0, 0.0

        def on_step_end(self, args, state, control, **kw):  # noqa: ANN001, ANN201, ANN003
            t, c = time.perf_counter(), time.process_time()
            self.step()
            self.inside += time.perf_counter() - t
            self.inside_cpu += time.process_time() - c

    return Interleave


def trl_config(work: Path, args, seed: int, **overrides):  # noqa: ANN001, ANN201
    from trl import DPOConfig

    base = {"bf16": args.trl_bf16, "precompute_ref_log_probs": args.trl_precompute,
            "gradient_checkpointing": False}
    base.update(overrides)
    if base.get("train_sampling_strategy") == "group_by_length":
        base["remove_unused_columns"] = False
    return DPOConfig(output_dir=str(work / "trl"), per_device_train_batch_size=args.batch, max_length=args.max_length,
                     max_steps=args.steps, learning_rate=args.lr, lr_scheduler_type="linear", warmup_steps=0,
                     beta=0.1, loss_type=["sigmoid"], max_grad_norm=1.0, weight_decay=0.0,
                     precompute_ref_batch_size=2 * args.batch, report_to=[], save_strategy="no", use_cpu=True,
                     disable_tqdm=True, logging_steps=1, seed=seed, data_seed=seed, dataloader_num_workers=0, **base)


def run_trl(work: Path, policy: Path, pairs: list, args, seed: int, flops: Flops, step_ours=None,  # noqa: ANN001
            **overrides) -> dict:
    """One TRL run (setup timed apart); `step_ours` is called after each of its steps (not in its time)."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOTrainer

    tok = AutoTokenizer.from_pretrained(policy)
    model = AutoModelForCausalLM.from_pretrained(policy)
    flops.hook_trl(model)
    rows = [{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in pairs]
    if overrides.get("train_sampling_strategy") == "group_by_length":
        for r in rows:
            r["length"] = len(tok(r["prompt"] + max(r["chosen"], r["rejected"], key=len))["input_ids"])
    flops.phase = "trl-setup"
    t0 = time.perf_counter()
    trainer = DPOTrainer(model=model, args=trl_config(work, args, seed, **overrides),
                         train_dataset=Dataset.from_list(rows), processing_class=tok)
    setup = time.perf_counter() - t0
    hook = _interleave_class()(step_ours or (lambda: None))
    trainer.add_callback(hook)
    flops.phase = "trl-train"
    t0, c0 = time.perf_counter(), time.process_time()
    trainer.train()
    wall = time.perf_counter() - t0 - hook.inside
    cpu = time.process_time() - c0 - hook.inside_cpu
    flops.phase = "idle"
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h and "train_runtime" not in h]
    return {"setup": setup, "wall": wall, "cpu": cpu, "pairs": args.steps * args.batch, "losses": losses}


def run_round(work: Path, policy: Path, pairs: list, args, seed: int, flops: Flops) -> dict:  # noqa: ANN001
    """TRL's run with ours stepped inside it, one seed for both."""
    from tether.policy.config import DPOConfig
    from tether.policy.dpo import train_dpo_iter

    cfg = DPOConfig(loss="sigmoid", beta=0.1, lr=args.lr, warmup=0.0, batch_size=args.batch, max_steps=args.steps,
                    max_length=args.max_length, seed=seed, mixed_precision=args.ours_precision, samples=0,
                    share_prompt=not args.ours_concat, bucket=not args.ours_no_bucket,
                    ref_cache=str(work / f"ref-{seed}"))
    out = work / f"ours-{seed}"
    ours = train_dpo_iter(policy, pairs, out, cfg, progress=False)
    flops.phase = "ours-setup"
    t0 = time.perf_counter()
    next(ours)
    state = {"setup": time.perf_counter() - t0, "wall": 0.0, "cpu": 0.0, "steps": 0, "result": None}

    def step() -> None:
        if state["result"] is not None:
            return
        before = flops.phase
        flops.phase = "ours-train"
        t, c = time.perf_counter(), time.process_time()
        try:
            next(ours)
            state["steps"] += 1
            state["wall"] += time.perf_counter() - t
            state["cpu"] += time.process_time() - c
        except StopIteration as done:
            state["result"] = done.value
        flops.phase = before

    extra = {"train_sampling_strategy": "group_by_length"} if args.trl_group_by_length else {}
    trl = run_trl(work, policy, pairs, args, seed, flops, step, **extra)
    while state["result"] is None:  # the last call saves the model (not timed)
        step()
    losses = [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    pairs_seen = state["result"].pairs_seen
    return {"trl": trl, "ours": {"setup": state["setup"], "wall": state["wall"], "cpu": state["cpu"],
                                 "pairs": pairs_seen, "losses": losses}}


def probe(work: Path, policy: Path, pairs: list, args) -> None:  # noqa: ANN001
    """TRL's candidate fastest settings, a few steps each: pick the fastest for the comparison."""
    variants = {"bf16, precompute": {"bf16": True, "precompute_ref_log_probs": True},
                "fp32, precompute": {"bf16": False, "precompute_ref_log_probs": True},
                "bf16, reference each step": {"bf16": True, "precompute_ref_log_probs": False},
                "bf16, precompute, group_by_length": {"bf16": True, "precompute_ref_log_probs": True,
                                                      "train_sampling_strategy": "group_by_length"}}
    for name, overrides in variants.items():
        flops = Flops(30522)
        r = run_trl(work, policy, pairs, args, 0, flops, **overrides)
        print(f"TRL {name}: {r['pairs'] / r['wall']:.2f} pairs/s train, setup {r['setup']:.1f}s, "
              f"{flops.by_phase.get('trl-train', 0) / r['wall'] / 1e9:.1f} GFLOP/s", flush=True)


def design(args) -> str:  # noqa: ANN001
    """The tether configuration a round measured, in words."""
    return ((f"{args.ours_precision} model + fp32 masters" if args.ours_precision == "bf16" else "fp32")
            + (", chosen and rejected as two rows" if args.ours_concat else ", prompt shared (tree mask)")
            + ("" if args.ours_no_bucket else ", length buckets"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=8, help="optimizer steps per side and round")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one interleaved round per seed")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--trl-bf16", action=argparse.BooleanOptionalAction, default=False)
    ap.add_argument("--trl-precompute", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--trl-group-by-length", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--ours-precision", default="bf16")
    ap.add_argument("--ours-concat", action="store_true", help="ours without the shared prompt (design study)")
    ap.add_argument("--ours-no-bucket", action="store_true", help="ours without length buckets (design study)")
    ap.add_argument("--rounds-file", default=str(Path(tempfile.gettempdir()) / "policy_dpo_rounds.jsonl"),
                    help="rounds are appended here; the report covers every round of the same settings in it "
                         "(so a long comparison can run as several short invocations)")
    ap.add_argument("--probe", action="store_true", help="time TRL's candidate settings and stop")
    ap.add_argument("--report-only", action="store_true", help="report the rounds already in --rounds-file")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    key = {"steps": args.steps, "batch": args.batch, "max_length": args.max_length, "lr": args.lr,
           "threads": args.threads, "trl_bf16": args.trl_bf16, "trl_precompute": args.trl_precompute,
           "trl_group_by_length": args.trl_group_by_length}
    if args.report_only:
        report(_rounds(args.rounds_file, key), args, args.steps * args.batch)
        return

    import torch

    from tether.training import cpu_has_bf16

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="dpo_bench_"))
    tok = build_tokenizer()
    policy = work / "policy"
    build_policy(policy, tok, args.max_length)
    pairs = fitting_pairs(tok, args.max_length, args.steps * args.batch)
    print(f"{len(pairs)} pairs; work in {work}; cpu bf16: {cpu_has_bf16()}", file=sys.stderr)
    if args.probe:
        probe(work, policy, pairs, args)
        return
    flops = Flops(len(tok))
    flops.hook_ours()
    for seed in args.seeds:
        before = dict(flops.by_phase)
        r = run_round(work, policy, pairs, args, seed, flops)
        for side in ("trl", "ours"):
            name = f"{side}-train"
            r[side]["flops"] = flops.by_phase.get(name, 0) - before.get(name, 0)
        r.update(seed=seed, key=key, design=design(args), load=os.getloadavg()[0])
        with open(args.rounds_file, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(r) + "\n")
        print(f"round {seed}: TRL {r['trl']['pairs'] / r['trl']['wall']:.2f} pairs/s, ours "
              f"{r['ours']['pairs'] / r['ours']['wall']:.2f} pairs/s", file=sys.stderr, flush=True)
    report(_rounds(args.rounds_file, key), args, len(pairs))


def _rounds(path: str, key: dict) -> list[dict]:
    """Every round in the rounds file measured with the same settings."""
    return [r for line in Path(path).read_text().splitlines() if (r := json.loads(line))["key"] == key]


def _curve_rows(rounds: list[dict], steps: int) -> list[str]:
    marks = sorted({1, max(1, steps // 3), max(1, 2 * steps // 3), steps})
    rows = []
    for m in marks:
        cells = []
        for side in ("trl", "ours"):
            vals = [r[side]["losses"][m - 1] for r in rounds if len(r[side]["losses"]) >= m]
            cells.append(f"{statistics.mean(vals):.4f} [{min(vals):.4f}, {max(vals):.4f}]")
        rows.append(f"| {m} | {cells[0]} | {cells[1]} |")
    return rows


def report(rounds: list[dict], args, n_pairs: int) -> None:  # noqa: ANN001
    table, by_design = [], {}
    for r in rounds:
        t, o = r["trl"], r["ours"]
        pt, po = t["pairs"] / t["wall"], o["pairs"] / o["wall"]
        ft, fo = t["flops"] / t["wall"] / 1e9, o["flops"] / o["wall"] / 1e9
        ct, co = t["flops"] / t["cpu"] / 1e9, o["flops"] / o["cpu"] / 1e9
        by_design.setdefault(r["design"], []).append((po / pt, ft, fo, ct, co, (t["cpu"] / t["pairs"]) /
                                                      (o["cpu"] / o["pairs"])))
        table.append(f"| {r['design']} | {r['seed']} | {pt:.2f} | {po:.2f} | **{po / pt:.2f}x** | "
                     f"{t['cpu'] / t['pairs']:.2f} | {o['cpu'] / o['pairs']:.2f} | {ft:.1f} ({ct:.0f}) | "
                     f"{fo:.1f} ({co:.0f}) | "
                     f"{t['flops'] / t['pairs'] / 1e9:.1f} | {o['flops'] / o['pairs'] / 1e9:.1f} | "
                     f"{t['setup']:.1f} | {o['setup']:.1f} | {r['load']:.1f} |")
    trl_mode = f"{'bf16 autocast' if args.trl_bf16 else 'fp32'}, " + \
        ("reference log-probs precomputed" if args.trl_precompute else "reference forward each step") + \
        (", group_by_length sampler" if args.trl_group_by_length else "")
    summary = [f"| {d} | {len(v)} | **{statistics.median(x[0] for x in v):.2f}x** | "
               f"{statistics.median(x[5] for x in v):.2f}x | {statistics.median(x[1] for x in v):.1f} "
               f"({statistics.median(x[3] for x in v):.0f}) | {statistics.median(x[2] for x in v):.1f} "
               f"({statistics.median(x[4] for x in v):.0f}) |" for d, v in by_design.items()]
    lines = [
        f"`python benchmarks/policy_dpo_throughput.py --steps {args.steps} --seeds ...` (one interleaved round per "
        f"seed; each tether design its own rounds) — GPT-2 {LAYERS} layers x {WIDTH} wide (11M parameters, "
        f"30,522-token vocabulary), {n_pairs} HH-RLHF harmless-base pairs that fit {args.max_length} tokens (no "
        f"truncation on either side), batch {args.batch}, {args.steps} optimizer steps per side and round, lr "
        f"{args.lr} linear decay, beta 0.1, sigmoid loss, gradient clipping 1.0; {args.threads} torch threads. "
        f"TRL DPOTrainer {trl_mode}, no gradient checkpointing (its fastest setting here, `--probe`). tether's "
        f"reference log-probs are cached before training, as TRL's are precomputed. {machine_note()}",
        "",
        "| tether design | rounds | median speed-up (pairs/s, wall) | median speed-up (CPU s/pair) | "
        "TRL GFLOP/s (per CPU-s) | tether GFLOP/s (per CPU-s) |",
        "|---|---|---|---|---|---|",
        *summary,
        "",
        "| tether design | seed | TRL pairs/s | tether pairs/s | speed-up | TRL CPU s/pair | tether CPU s/pair | "
        "TRL GFLOP/s (per CPU-s) | tether GFLOP/s (per CPU-s) | TRL GFLOP/pair | tether GFLOP/pair | TRL setup s | "
        "tether setup s | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *table,
        "",
        "Setup = tokenizing + the reference log-probs of every pair (TRL `precompute_ref_log_probs`; ours cached on "
        "disk and reused on rerun). GFLOP/pair: matmul FLOPs executed per pair (padding included), so a design "
        "that computes less per pair shows fewer. GFLOP/s is per second of wall time; in brackets per second of "
        "CPU time the process got (all its threads), the figure a loaded machine distorts less. `load`: the "
        "machine's 1-minute load average after the round (2 cores).",
        "",
        "Training loss, mean [min, max] over seeds (every round of every design):",
        "",
        "| step | TRL | tether |",
        "|---|---|---|",
        *_curve_rows(rounds, args.steps),
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_subsection("Training throughput vs TRL DPOTrainer", text)


if __name__ == "__main__":
    main()
