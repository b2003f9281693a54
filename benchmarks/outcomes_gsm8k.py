"""GSM8K: reward models audited against correctness, best-of-4 selection, and retraining with outcome pairs.

`example_model_solutions.jsonl` (openai/grade-school-math, MIT) holds, for each of the 1319 GSM8K test problems,
one solution from each of four GPT-3 systems (6B / 175B, fine-tuning / verification) with `is_correct`. The
problems are split in halves by a seeded permutation. On the evaluation half:

- **HH-RLHF RM**: a preference-trained reward model (MiniLM-L6 + head, `tether.reward.train`) on the bundled
  HH-RLHF harmless-base pairs (`data/hh-rlhf`, the 80% split of `reward_common.hh_split`) — a reward model trained
  on what raters preferred, with no notion of arithmetic;
- **outcome-pairs RM**: the same trainer on pairs built by `tether.outcomes.outcome_pairs` from the *other* half's
  solutions (a correct and an incorrect solution to the same problem);

each scored with `tether.outcomes.audit_outcomes`: AUC of score vs correctness, within-problem pairwise accuracy,
best-of-4 selection accuracy (does the top-scored of the four solutions pass?) with bootstrap intervals over
problems, beside random selection, oracle selection (any of the four correct), a majority vote over the four final
answers, picking the longest solution, and the file's own systems. `is_correct` is the outcome; the script also
checks that `tether.outcomes.grade_numeric` agrees with it on every solution.

    nice -n 5 python benchmarks/outcomes_gsm8k.py              # ~15 min on 2 shared cores; writes RESULTS.md
    python benchmarks/outcomes_gsm8k.py --steps 5 --hh-pairs 80 --eval-problems 40 --no-write   # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
from reward_common import hh_split, machine_note, write_subsection  # noqa: E402


def _shared_gsm8k() -> Path:
    """shared/data/gsm8k beside the checkout (or beside a folder above it, as for a worktree)."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "data" / "gsm8k").is_dir():
            return parent / "shared" / "data" / "gsm8k"
    return Path("shared/data/gsm8k")


DATA = _shared_gsm8k()
SYSTEMS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
PUBLISHED = {"175b_verification": 0.563, "175b_finetuning": 0.347}  # the figures the issue quotes
SECTION = "## Outcomes"
TITLE = "GSM8K: reward models against correctness, best-of-4, outcome pairs"


def load(data: Path) -> list[dict]:
    """Problems with the four systems' solutions and the reference answer (from test.jsonl, same order)."""
    sols = [json.loads(line) for line in (data / "example_model_solutions.jsonl").open(encoding="utf-8")]
    refs = [json.loads(line) for line in (data / "test.jsonl").open(encoding="utf-8")]
    if len(sols) != len(refs) or any(s["question"] != r["question"] for s, r in zip(sols, refs, strict=True)):
        raise SystemExit("example_model_solutions.jsonl and test.jsonl are not aligned by question")
    for i, (s, r) in enumerate(zip(sols, refs, strict=True)):
        s["answer"] = r["answer"]
        s["problem"] = i
    return sols


def rows_of(problems: list[dict]) -> list:
    from tether.outcomes.scored import ScoredResponse

    rows = []
    for p in problems:
        for k, name in enumerate(SYSTEMS):
            rows.append(ScoredResponse(line=p["problem"] * 4 + k + 1, prompt=p["question"],
                                       response=p[name]["solution"], score=None,
                                       value=1.0 if p[name]["is_correct"] else 0.0, group=f"problem:{p['problem']}",
                                       keys=(f"sample:{p['problem']}\x1f{k}",), slices={"model": name}))
    return rows


def grader_agreement(problems: list[dict]) -> tuple[int, int]:
    from tether.outcomes.grading import grade_numeric

    agree = total = 0
    for p in problems:
        for name in SYSTEMS:
            total += 1
            agree += grade_numeric(p[name]["solution"], p["answer"]).passed == p[name]["is_correct"]
    return agree, total


def majority_vote(problems: list[dict]) -> float:
    """Expected accuracy of choosing the most common final answer among the four (ties broken at random)."""
    from tether.outcomes.grading import extract_answer, parse_number

    acc = []
    for p in problems:
        answers = []
        for name in SYSTEMS:
            a = extract_answer(p[name]["solution"])
            v = parse_number(a) if a is not None else None
            answers.append((round(v, 6) if v is not None else None, p[name]["is_correct"]))
        counts = Counter(v for v, _ in answers if v is not None)
        if not counts:
            acc.append(0.0)
            continue
        top = max(counts.values())
        winners = [v for v, c in counts.items() if c == top]
        correct = {v for v, ok in answers if ok}
        acc.append(sum(v in correct for v in winners) / len(winners))
    return float(np.mean(acc))


def longest(problems: list[dict]) -> float:
    acc = []
    for p in problems:
        lens = [len(p[n]["solution"].split()) for n in SYSTEMS]
        top = [n for n, L in zip(SYSTEMS, lens, strict=True) if max(lens) == L]
        acc.append(np.mean([p[n]["is_correct"] for n in top]))
    return float(np.mean(acc))


def train_rm(pairs: list, out: Path, args: argparse.Namespace, seed: int) -> float:
    from tether.reward.train import TrainConfig, train

    cfg = TrainConfig(backbone="minilm", max_length=args.max_length, batch_size=16, seed=seed,
                      max_steps=args.steps, epochs=args.epochs, name=out.name, log_with="jsonl")
    t0 = time.perf_counter()
    train(pairs, out, cfg, progress=False)
    return time.perf_counter() - t0


def audit_with(model_dir: Path, rows: list, args: argparse.Namespace) -> tuple:
    from tether.outcomes.audit import AuditConfig, audit_outcomes
    from tether.outcomes.pairs import score_rows
    from tether.reward import load

    t0 = time.perf_counter()
    scored = score_rows(rows, load(model_dir))
    secs = time.perf_counter() - t0
    return audit_outcomes(scored, AuditConfig(n_boot=args.boot, seed=args.seed)), secs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--seed", type=int, default=0, help="seed of the problem split, training and bootstrap")
    ap.add_argument("--steps", type=int, default=None, help="optimizer steps per model (default: --epochs)")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--hh-pairs", type=int, default=None, help="use only this many HH-RLHF pairs")
    ap.add_argument("--eval-problems", type=int, default=None, help="score only this many evaluation problems")
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--report", type=Path, default=None, help="write the two audits' HTML reports into this folder")
    ap.add_argument("--results", type=Path, default=None, help="also save the figures as JSON here")
    ap.add_argument("--only", choices=("hh", "outcome"), default=None,
                    help="train and score one of the two reward models (run both halves as two processes)")
    ap.add_argument("--render", type=Path, nargs="+", default=None,
                    help="rewrite the text from figures saved by --results (several: their models merged)")
    ap.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = ap.parse_args()
    if args.render:
        figs = [json.loads(p.read_text()) for p in args.render]
        merged = {**figs[0], "models": {k: v for f in figs for k, v in f["models"].items()},
                  "seconds": max(f["seconds"] for f in figs if "seconds" in f)}
        text = render(merged, args)
        print(text)
        if not args.no_write:
            write_subsection(TITLE, text, section_title=SECTION)
        return

    import torch

    torch.set_num_threads(args.threads)
    from tether.outcomes.pairs import PairConfig, outcome_pairs
    from tether.outcomes.report import write_report

    start = time.perf_counter()
    problems = load(args.data)
    agree, total = grader_agreement(problems)
    order = np.random.default_rng(args.seed).permutation(len(problems))
    half = len(problems) // 2
    train_half = [problems[i] for i in sorted(order[:half])]
    eval_half = [problems[i] for i in sorted(order[half:])]
    if args.eval_problems:
        eval_half = eval_half[:args.eval_problems]
    eval_rows = rows_of(eval_half)
    opairs = outcome_pairs(rows_of(train_half), PairConfig(seed=args.seed))
    hh_train, _ = hh_split()
    if args.hh_pairs:
        hh_train = hh_train[:args.hh_pairs]
    figures: dict = {"grader_agreement": [agree, total], "n_eval_problems": len(eval_half),
                     "n_train_problems": len(train_half), "n_outcome_pairs": len(opairs),
                     "n_hh_pairs": len(hh_train), "models": {}}
    figures["systems_all"] = {n: float(np.mean([p[n]["is_correct"] for p in problems])) for n in SYSTEMS}
    figures["systems_eval"] = {n: float(np.mean([p[n]["is_correct"] for p in eval_half])) for n in SYSTEMS}
    figures["majority_eval"] = majority_vote(eval_half)
    figures["longest_eval"] = longest(eval_half)
    with tempfile.TemporaryDirectory() as tmp:
        for key, pairs in (("hh", hh_train), ("outcome", opairs)):
            if args.only not in (None, key):
                continue
            out = Path(tmp) / f"rm-{key}"
            train_s = train_rm(pairs, out, args, args.seed)
            audit, score_s = audit_with(out, eval_rows, args)
            if args.report:
                args.report.mkdir(parents=True, exist_ok=True)
                write_report(audit, args.report / f"gsm8k-{key}.html", title=f"GSM8K outcome audit: {key} RM")
            o = audit.overall
            figures["models"][key] = {
                "pairs": len(pairs), "train_seconds": train_s, "score_seconds": score_s,
                "auc": o.auc.__dict__, "pairwise": o.pairwise.__dict__, "spearman": o.spearman.__dict__,
                "kendall": o.kendall.__dict__, "best_of_n": o.best_of_n.__dict__, "random": o.random.__dict__,
                "oracle": o.oracle.__dict__, "gain": o.gain_over_random.__dict__, "ece_sigmoid": o.ece_sigmoid.value,
                "ece_fitted": o.ece_fitted, "n_disagreeing": audit.n_disagreeing_prompts, "verdict": audit.verdict,
                "auc_by_model": {v: s.auc.__dict__ for v, s in audit.by_slice["model"].items()}}
            print(f"{key}: AUC {o.auc.describe()} best-of-4 {o.best_of_n.describe()} random {o.random.describe()} "
                  f"oracle {o.oracle.describe()}", flush=True)
            if args.results:  # saved after each model: a long run cut short keeps what it measured
                args.results.write_text(json.dumps(figures, indent=2))
    figures["seconds"] = time.perf_counter() - start
    if args.results:
        args.results.write_text(json.dumps(figures, indent=2))
    if args.only:
        print(f"figures of the {args.only} model only: combine both runs' --results files with --render")
        return
    text = render(figures, args)
    print(text)
    if not args.no_write:
        write_subsection(TITLE, text, section_title=SECTION)


def _ci(e: dict, pct: bool = True) -> str:
    f = 100 if pct else 1
    d = 1 if pct else 3
    return f"{f * e['value']:.{d}f} [{f * e['lo']:.{d}f}, {f * e['hi']:.{d}f}]"


def render(fig: dict, args: argparse.Namespace) -> str:
    cmd = "nice -n 5 python benchmarks/outcomes_gsm8k.py" + (f" --seed {args.seed}" if args.seed else "")
    if args.steps:
        cmd += f" --steps {args.steps}"
    if args.max_length != 256:
        cmd += f" --max-length {args.max_length}"
    hh, oc = fig["models"]["hh"], fig["models"]["outcome"]
    length = f"{args.steps} optimizer steps" if args.steps else f"{args.epochs:g} epoch(s)"
    se, sa = fig["systems_eval"], fig["systems_all"]
    lines = [
        f"`{cmd}` — GSM8K test problems split in halves by problem (seed {args.seed}): {fig['n_train_problems']} "
        f"for outcome pairs, {fig['n_eval_problems']} for evaluation (4 solutions each, outcome = the file's "
        f"`is_correct`; `grade_numeric` agrees with it on {fig['grader_agreement'][0]} of "
        f"{fig['grader_agreement'][1]} solutions). Both reward models: MiniLM-L6 + head, `tether.reward.train`, "
        f"batch 16, max length {args.max_length}, {length}, "
        f"{args.threads} torch thread(s). Intervals: 95% percentile bootstrap over problems ({args.boot} resamples). "
        f"{fig['seconds'] / 60:.0f} min in all. {machine_note()}",
        "",
        "| selection on the evaluation half | correct (% of problems) |",
        "|---|---|",
        f"| oracle (any of the four correct) | {_ci(hh['oracle'])} |",
        f"| best-of-4 by the HH-RLHF harmless RM ({hh['pairs']} rater-preference pairs) | **{_ci(hh['best_of_n'])}** |",
        f"| best-of-4 by the outcome-pairs RM ({oc['pairs']} pairs from the other half) | **{_ci(oc['best_of_n'])}** |",
        f"| random choice among the four | {_ci(hh['random'])} |",
        f"| majority vote over the four final answers (ties at random) | {100 * fig['majority_eval']:.1f} |",
        f"| longest solution | {100 * fig['longest_eval']:.1f} |",
    ]
    for n in SYSTEMS:
        pub = f"; {100 * PUBLISHED[n]:.1f} quoted" if n in PUBLISHED else ""
        lines.append(f"| system `{n}` alone | {100 * se[n]:.1f} (whole file {100 * sa[n]:.1f}{pub}) |")
    lines += [
        "",
        "| reward model | AUC vs correctness | within-problem pairwise acc. | Spearman | best-of-4 minus random "
        "(points) | ECE of sigmoid(score) / fitted | train s | score s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, name in (("hh", "HH-RLHF harmless"), ("outcome", "outcome pairs")):
        r = fig["models"][key]
        lines.append(f"| {name} | {_ci(r['auc'], False)} | {_ci(r['pairwise'], False)} | "
                     f"{_ci(r['spearman'], False)} | {_ci(r['gain'])} | {r['ece_sigmoid']:.3f} / "
                     f"{r['ece_fitted']:.3f} | {r['train_seconds']:.0f} | {r['score_seconds']:.0f} |")
    lines += ["", "AUC per system (the RM's separation of one system's correct from incorrect solutions):", ""]
    for key, name in (("hh", "HH-RLHF harmless"), ("outcome", "outcome pairs")):
        per = fig["models"][key]["auc_by_model"]
        lines.append(f"- {name}: " + "; ".join(f"{n} {_ci(per[n], False)}" for n in SYSTEMS if n in per))
    lines += ["", "Verdicts (`tether outcomes audit`):", ""]
    for key, name in (("hh", "HH-RLHF harmless"), ("outcome", "outcome pairs")):
        lines.append(f"- {name}: " + " ".join(fig["models"][key]["verdict"]))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
