"""PandaLM (999 items x 3 human annotators): reward models trained on the audit's curated set vs majority vote.

For each seed the prompts are split (split seed = seed, 80/20) into train and held-out *before* curation,
so the audit only sees train annotations; every arm of that seed shares the split and the training seed, so
arm differences are paired. All items of a prompt go to the same side: PandaLM has 170 instructions, each answered
by five models and compared in up to ten model pairs, so an item-level split would put the same responses
(and the 99 repeated items) on both sides. Arms, all the same MiniLM-L6 + head, the same number of
optimizer steps, batch and seeds:

- **majority vote**: one hard label per item by majority (ties and tie-majority items dropped), weight 1;
- **curated, hard labels + ties**: `tether.audit.curate` pairs with their weights and ties (Davidson), but
  `p_chosen` ignored (`use_soft_labels=False`) — isolates the ties against the majority arm;
- **curated, full (Davidson)** / **curated, full (half)**: weights, soft labels and ties, the two tie models
  (`half` only with `--arms ...,half`).

On PandaLM every item is rated by the same three annotators and no task type is blocked, so the audit's
weight is the same for every pair (and `encode` rescales weights to mean 1): the weight ingredient is a no-op
here; what differs is the ties, the soft labels and the label of the few items where the label models and
the majority disagree.

Held-out evaluation (the annotations of held-out items are used only here): accuracy on items whose majority
is a non-tie preference, and on the unanimous subset; ECE at T = 1; tie AUC (how well a small |margin|
picks out held-out majority-tie items); and the Davidson log-likelihood of every held-out vote (ties
included) after fitting a temperature and a tie rate on the held-out set itself (two parameters, in-sample:
a measure of what the margins carry, not a forecast).

    python benchmarks/reward_pandalm.py                         # writes the subsection of RESULTS.md
    python benchmarks/reward_pandalm.py --steps 2 --seeds 1 --arms majority,davidson --no-write   # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
from reward_common import machine_note, write_subsection  # noqa: E402

from tether.records import Choice, Comparison, PreferencePair  # noqa: E402

PANDALM = Path(__file__).resolve().parent.parent / "data" / "pandalm" / "testset-v1.json"
SUBSECTION = "PandaLM: audit weights and ties vs majority vote"
NAMES = {
    "majority": "majority vote (hard, ties dropped, weight 1)",
    "hard_ties": "curated: weights + ties (Davidson), hard labels",
    "davidson": "curated: weights + soft labels + ties (Davidson)",
    "half": "curated: weights + soft labels + ties (half)",
}


@dataclass
class Item:
    """One held-out PandaLM item: texts and the three annotators' votes."""

    prompt: str
    a: str
    b: str
    task_type: str
    votes: Counter

    @property
    def majority(self) -> Choice | None:
        """The label at least two of three annotators gave; None on a three-way split."""
        top, n = self.votes.most_common(1)[0]
        return top if n * 2 > sum(self.votes.values()) else None


def load_split(holdout: float, seed: int) -> tuple[list[Comparison], list[Item], int]:
    """Train comparisons and held-out items, split by prompt with a seeded permutation; also the prompt count."""
    from tether.io.errors import BadLine, InputError
    from tether.io.pandalm import read_pandalm

    comps = []
    for item in read_pandalm(PANDALM):
        if isinstance(item, BadLine):
            raise InputError(item)
        comps.append(item[1])
    prompts = sorted({c.prompt for c in comps})
    order = np.random.default_rng(seed).permutation(len(prompts))
    held_prompts = {prompts[i] for i in order[:int(round(len(prompts) * holdout))]}
    train = [c for c in comps if c.prompt not in held_prompts]
    items: dict[str, Item] = {}
    for c in comps:
        if c.prompt in held_prompts:
            it = items.setdefault(c.pair_id, Item(c.prompt, c.response_a, c.response_b, c.task_type, Counter()))
            it.votes[c.choice] += 1
    return train, list(items.values()), len(prompts)


def majority_pairs(comps: list[Comparison]) -> list[PreferencePair]:
    """One hard label per training item by majority vote; tie majorities and three-way splits dropped, weight 1."""
    by: dict[str, list[Comparison]] = {}
    for c in comps:
        by.setdefault(c.pair_id, []).append(c)
    out = []
    for cs in by.values():
        votes = Counter(c.choice for c in cs)
        top, n = votes.most_common(1)[0]
        if top == Choice.TIE or n * 2 <= len(cs):
            continue
        c = cs[0]
        ch, rj = (c.response_a, c.response_b) if top == Choice.A else (c.response_b, c.response_a)
        out.append(PreferencePair(prompt=c.prompt, chosen=ch, rejected=rj, objective=c.objective,
                                  provenance={"pair_id": c.pair_id, "task_type": c.task_type}))
    return out


class CachedScorer:
    """Scores each (prompt, response) once, so the several evaluations of one model share the forward passes."""

    def __init__(self, model) -> None:  # noqa: ANN001
        self.model, self.cache = model, {}

    def score(self, prompts: list[str], responses: list[str]) -> dict[str, np.ndarray]:
        todo = list(dict.fromkeys(k for k in zip(prompts, responses, strict=True) if k not in self.cache))
        if todo:
            fresh = self.model.score([p for p, _ in todo], [r for _, r in todo])
            for j, k in enumerate(todo):
                self.cache[k] = {o: float(s[j]) for o, s in fresh.items()}
        objs = self.cache[(prompts[0], responses[0])].keys() if prompts else []
        return {o: np.array([self.cache[k][o] for k in zip(prompts, responses, strict=True)]) for o in objs}


def davidson_vote_nll(margins: np.ndarray, votes: list[Counter]) -> float:
    """Mean NLL per vote (a / b / tie) under Davidson with temperature and tie rate fitted on these items."""
    from scipy.optimize import minimize

    na = np.array([v[Choice.A] for v in votes], float)
    nb = np.array([v[Choice.B] for v in votes], float)
    nt = np.array([v[Choice.TIE] for v in votes], float)

    def nll(theta: np.ndarray) -> float:
        d, log_nu = margins / np.exp(theta[0]), theta[1]
        z = np.logaddexp(np.logaddexp(d / 2, -d / 2), log_nu)  # log(e^(d/2) + e^(-d/2) + nu)
        return float(-(na * (d / 2 - z) + nb * (-d / 2 - z) + nt * (log_nu - z)).sum() / (na + nb + nt).sum())

    return float(minimize(nll, np.zeros(2), method="Nelder-Mead").fun)


def tie_auc(margins: np.ndarray, is_tie: np.ndarray) -> float:
    """AUC of -|margin| for telling majority-tie items from the rest (0.5: margins say nothing about ties)."""
    from scipy.stats import rankdata

    s, pos = -np.abs(margins), is_tie.astype(bool)
    if pos.all() or not pos.any():
        return float("nan")
    r = rankdata(s)
    return float((r[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum()))


def held_pairs(items: list[Item]) -> tuple[list[PreferencePair], np.ndarray]:
    """Held-out items whose majority is a or b, as pairs (chosen = majority side); and which are unanimous."""
    pairs, unanimous = [], []
    for it in items:
        m = it.majority
        if m not in (Choice.A, Choice.B):
            continue
        ch, rj = (it.a, it.b) if m == Choice.A else (it.b, it.a)
        pairs.append(PreferencePair(prompt=it.prompt, chosen=ch, rejected=rj, objective="overall",
                                    provenance={"task_type": it.task_type}))
        unanimous.append(it.votes[m] == sum(it.votes.values()))
    return pairs, np.array(unanimous)


def longer_wins(pairs: list[PreferencePair], unanimous: np.ndarray) -> tuple[float, float]:
    """Accuracy of "the longer response (in words) wins" (equal lengths count half): all pairs, unanimous ones."""
    d = np.sign([len(p.chosen.split()) - len(p.rejected.split()) for p in pairs])
    hit = (d > 0) + 0.5 * (d == 0)
    return float(hit.mean()), float(hit[unanimous].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=32, help="optimizer steps per run (every arm)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per arm (each: its own split and training seed)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--arms", default="majority,hard_ties,davidson",
                        help="comma-separated subset of majority, hard_ties, davidson, half")
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    parser.add_argument("--report-from", type=Path, default=None,
                        help="re-render the subsection from a finished run's results.json (no training)")
    args = parser.parse_args()
    if args.report_from is not None:
        saved = json.loads(args.report_from.read_text())
        for seed, size in enumerate(saved["sizes"]):  # runs saved before the length reference existed
            if "len_acc" not in size:
                _, held_items, _ = load_split(saved["args"]["holdout"], seed)
                size["len_acc"], size["len_acc_unan"] = longer_wins(*held_pairs(held_items))
        text = report(argparse.Namespace(**saved["args"]), saved["arms"], NAMES, saved["results"], saved["sizes"],
                      saved["minutes"], saved["command"], saved["machine"])
        print(text)
        if not args.no_write:
            write_subsection(SUBSECTION, text)
        return

    from tether.audit.curate import curate
    from tether.reward.evaluate import evaluate
    from tether.reward.model import RewardModel, pair_margins
    from tether.reward.train import TrainConfig, train

    t_start = time.perf_counter()
    names = NAMES
    changes = {"majority": {"use_weights": False, "use_soft_labels": False},
               "hard_ties": {"use_soft_labels": False, "tie_model": "davidson"},
               "davidson": {"tie_model": "davidson"}, "half": {"tie_model": "half"}}
    chosen_arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = sorted(set(chosen_arms) - set(names))
    if unknown or not chosen_arms:
        raise SystemExit(f"--arms: unknown or no arm(s) {unknown}; choose from {sorted(names)}")
    cfg = TrainConfig(backbone="minilm", batch_size=args.batch, max_length=args.max_length, max_steps=args.steps)
    work = Path(tempfile.mkdtemp(prefix="reward_pandalm_"))
    results: dict[str, list[dict[str, float]]] = {a: [] for a in chosen_arms}
    sizes: list[dict[str, float]] = []
    for seed in range(args.seeds):
        train_comps, held_items, n_prompts = load_split(args.holdout, seed)
        cur = curate(train_comps)
        sets = {"majority": majority_pairs(train_comps), "curated": cur.pairs}
        weights = np.array([p.weight for p in cur.pairs])
        eval_pairs, unanimous = held_pairs(held_items)
        tie_items = np.array([it.majority == Choice.TIE for it in held_items])
        # a vs b of every held-out item (ties too), for tie AUC and the vote likelihood
        item_pairs = [PreferencePair(prompt=it.prompt, chosen=it.a, rejected=it.b, objective="overall")
                      for it in held_items]
        size = {"prompts": n_prompts, "train_items": len(train_comps) // 3, "held_items": len(held_items),
                "curated": len(cur.pairs), "curated_ties": cur.counts["ties"], "majority": len(sets["majority"]),
                "eval": len(eval_pairs), "unanimous": int(unanimous.sum()), "held_ties": int(tie_items.sum()),
                "w_min": float(weights.min()), "w_max": float(weights.max())}
        size["len_acc"], size["len_acc_unan"] = longer_wins(eval_pairs, unanimous)
        sizes.append(size)
        print(f"split {seed}: {size}; {args.steps} steps per run", file=sys.stderr)
        for arm in chosen_arms:
            pairs = sets["majority" if arm == "majority" else "curated"]
            out = work / f"{arm}-{seed}"
            res = train(pairs, out, replace(cfg, seed=seed, name=f"pandalm-{arm}-{seed}", **changes[arm]),
                        progress=False)
            scorer = CachedScorer(RewardModel.load(out))
            d_items = pair_margins(scorer, item_pairs)
            ev = evaluate(scorer, eval_pairs)
            m = pair_margins(scorer, eval_pairs)
            row = {"acc": ev.accuracy, "acc_unan": float((m[unanimous] > 0).mean()),
                   "acc_split": float((m[~unanimous] > 0).mean()) if (~unanimous).any() else float("nan"),
                   "ece": ev.ece_raw, "tie_auc": tie_auc(d_items, tie_items),
                   "vote_nll": davidson_vote_nll(d_items, [it.votes for it in held_items]),
                   "mean_margin": float(np.abs(m).mean()), "train_seconds": res.seconds}
            results[arm].append(row)
            print(f"seed {seed} {arm}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()), file=sys.stderr)
            (work / "results.json").write_text(json.dumps({"sizes": sizes, "results": results}, indent=1))
    minutes = (time.perf_counter() - t_start) / 60
    cmd = " ".join(["python benchmarks/reward_pandalm.py", *[a for a in sys.argv[1:] if a != "--no-write"]])
    saved = {"args": {k: v for k, v in vars(args).items() if k != "report_from"}, "arms": chosen_arms,
             "results": results, "sizes": sizes, "minutes": minutes, "command": cmd, "machine": machine_note()}
    (work / "results.json").write_text(json.dumps(saved, indent=1))
    text = report(args, chosen_arms, names, results, sizes, minutes, cmd, saved["machine"])
    print(text)
    print(f"per-seed results: {work / 'results.json'}", file=sys.stderr)
    if not args.no_write:
        write_subsection(SUBSECTION, text)


def _ms(values: list[float], digits: int = 3, sign: str = "") -> str:
    v = np.array(values, dtype=float)
    return f"{v.mean():{sign}.{digits}f} ± {v.std(ddof=1):.{digits}f}" if len(v) > 1 else f"{v.mean():{sign}.{digits}f}"


def report(args: argparse.Namespace, arms: list[str], names: dict[str, str], results: dict[str, list[dict]],
           sizes: list[dict], minutes: float, cmd: str, machine: str) -> str:
    """The RESULTS.md subsection: command, set-up, the table, paired differences and a reading."""
    def col(arm: str, key: str) -> list[float]:
        return [r[key] for r in results[arm]]

    def rng(key: str) -> str:
        lo, hi = min(s[key] for s in sizes), max(s[key] for s in sizes)
        return f"{lo}" if lo == hi else f"{lo}-{hi}"

    epochs = args.steps * args.batch / np.mean([s["curated"] for s in sizes])
    n = len(sizes)
    uniform = all(s["w_max"] - s["w_min"] < 1e-9 for s in sizes)
    lines = [
        f"`{cmd}` — PandaLM test set (999 items x 3 annotators, {sizes[0]['prompts']} prompts), split by prompt "
        f"{100 - 100 * args.holdout:.0f}/{100 * args.holdout:.0f} with split seed = training seed = 0..{n - 1} "
        f"(the audit saw only the train items: {rng('train_items')} per split). Curated set {rng('curated')} pairs "
        f"({rng('curated_ties')} ties), majority set {rng('majority')} pairs. MiniLM-L6 + head, {args.steps} "
        f"optimizer steps per run for every arm (batch {args.batch}, max length {args.max_length}, "
        f"{args.steps * args.batch} pairs, about {epochs:.2f} "
        f"epochs of the curated set). Held out: {rng('held_items')} items per split, accuracy on the "
        f"{rng('eval')} with a non-tie majority ({rng('unanimous')} unanimous, the rest 2-1); tie AUC and vote "
        f"NLL on all held-out items ({rng('held_ties')} tie majorities). Mean ± sd over the {n} seeds. "
        f"{minutes:.0f} min. {machine}",
        "",
        "| training labels | accuracy | accuracy, unanimous | accuracy, 2-1 items | ECE (T = 1) | tie AUC | "
        "vote NLL (Davidson, T and nu fitted in-sample) | mean abs margin |",
        "|---|---|---|---|---|---|---|---|",
        *[f"| {names[a]} | **{_ms(col(a, 'acc'))}** | {_ms(col(a, 'acc_unan'))} | {_ms(col(a, 'acc_split'))} | "
          f"{_ms(col(a, 'ece'))} | {_ms(col(a, 'tie_auc'))} | {_ms(col(a, 'vote_nll'))} | "
          f"{_ms(col(a, 'mean_margin'), 2)} |" for a in arms],
        f"| reference, no training: the longer response (words) wins | {_ms([s['len_acc'] for s in sizes])} | "
        f"{_ms([s['len_acc_unan'] for s in sizes])} | | | | | |",
    ]
    if "majority" in arms and len(arms) > 1:
        lines += ["", "Paired differences against majority vote (same split and seed), mean ± sd over seeds, and "
                  "in how many seeds the arm was ahead:", ""]
        for a in arms:
            if a == "majority":
                continue
            diffs = [100 * (x - y) for x, y in zip(col(a, "acc"), col("majority", "acc"), strict=True)]
            unan = [100 * (x - y) for x, y in zip(col(a, "acc_unan"), col("majority", "acc_unan"), strict=True)]
            ahead = sum(d > 0 for d in diffs)
            lines.append(f"- {names[a]}: accuracy {_ms(diffs, 1, '+')} points ({ahead} of {n} seeds ahead), "
                         f"unanimous subset {_ms(unan, 1, '+')} points.")
        best = max(arms, key=lambda a: np.mean(col(a, "acc")))
        diffs = {a: np.array([x - y for x, y in zip(col(a, "acc"), col("majority", "acc"), strict=True)])
                 for a in arms if a != "majority"}
        # a difference is "clear" only when it exceeds twice its standard error over the paired seeds
        clear = {a: n > 1 and abs(d.mean()) > 2 * d.std(ddof=1) / np.sqrt(n) for a, d in diffs.items()}
        verdict = ("no curated arm beats majority vote by more than twice the seed-to-seed standard error"
                   if not any(clear[a] and diffs[a].mean() > 0 for a in diffs) else
                   "curated arm(s) ahead beyond twice the standard error: "
                   + ", ".join(names[a] for a in diffs if clear[a] and diffs[a].mean() > 0))
        length_ref = float(np.mean([s["len_acc"] for s in sizes]))
        if all(np.mean(col(a, "acc")) < length_ref for a in arms):
            verdict += (f". Every arm is below the length-only reference ({length_ref:.3f}): at {args.steps} steps the "
                        "models have learned little, so these differences are mostly seed and split noise")
        tied = [a for a in arms if a != "majority" and a in ("hard_ties", "davidson", "half")]
        if tied:
            mean = {a: {k: float(np.mean(col(a, k))) for k in ("ece", "tie_auc", "vote_nll")} for a in arms}
            auc_better = [a for a in tied if mean[a]["tie_auc"] > mean["majority"]["tie_auc"]]
            verdict += (". ECE at T = 1: majority " + f"{mean['majority']['ece']:.3f}, "
                        + ", ".join(f"{a} {mean[a]['ece']:.3f}" for a in tied)
                        + "; tie AUC: majority " + f"{mean['majority']['tie_auc']:.3f}, "
                        + ", ".join(f"{a} {mean[a]['tie_auc']:.3f}" for a in tied)
                        + (" — training on the audit's ties did not make small margins pick out held-out ties better"
                           if not auc_better else ""))
        lines += ["", f"Reading: highest mean accuracy: {names[best]}; {verdict}."
                  + (" The audit's weights are the same for every pair on PandaLM (all items rated by the same "
                     "three annotators, no task type blocked), so the weights contribute nothing here; the arms "
                     "differ by the ties, the soft labels and the few items the label models relabel."
                     if uniform else "")]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
