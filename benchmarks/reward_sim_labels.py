"""Which training labels pay off: curated vs majority vote vs noise-free, frozen encoder + linear reward head.

Per world seed: one campaign (World(seed), 30 raters with the default hidden traits, overlap 3, objective
`overall`) over --pairs candidate pairs, the audit, and one training set per arm. Every arm trains the same
reward model the same way: the packaged MiniLM-L6 encoder, frozen (mean-pooled embedding of the prompt and
response, max length 128), and a linear head r = w . e fitted by full-batch L-BFGS on the weighted pairwise
logistic loss with the same L2 penalty and the same iteration budget (--iters); weights are rescaled to mean 1
in every arm so the penalty means the same. A frozen encoder is what makes 5 seeds x several arms fit on two
shared CPU cores; `benchmarks/reward_sim.py` is the fine-tuned configuration (3 seeds).

Arms (labels; pairs of every task type unless said):
- majority: one hard label per pair by majority vote (ties and splits dropped), weight 1;
- curated-rater: `curate(include_blocked=True, reliability="rater", weights="reliability")`, curate's default
  before the slice / posterior default (one reliability per rater, Bradley–Terry labels, weight = mean
  reliability x task-type factor), hard labels;
- tether: `curate(include_blocked=True, reliability="slice", weights="posterior")`, hard labels;
- tether-soft: the same pairs, p_chosen as the target;
- tether-drop: the same, blocked task types left out (curate's default for scaling);
- tether-blocked-full: the same, blocked task types at full weight (no alpha / threshold factor);
- gold: the noise-free label of every pair (gold ties dropped), weight 1.

Accuracy is against gold labels on --test fresh pairs (gold ties left out), the same pairs for every arm.

    python benchmarks/reward_sim_labels.py --seeds S --head mlp --iters 300 --l2 1e-2 --cache DIR   # RESULTS.md
    python benchmarks/reward_sim_labels.py --curve --seeds 0 --head mlp --iters 300 --l2 1e-2 --cache DIR
    python benchmarks/reward_sim_labels.py --curve --seeds S --pairs 5000 --careful 500 --head mlp --iters 300 \
        --l2 1e-2 --cache DIR                                  # 500 careful vs 5,000 noisy, one seed per process
    python benchmarks/reward_sim_labels.py --curve --seeds 0,1,2,3,4 --pairs 5000 --careful 500 --head ngram
    python benchmarks/reward_sim_labels.py --seeds 0,1,2,3,4 --head ngram   # the arms with the n-gram probe

`--head ngram` trains the hashed word n-gram probe (`tether.reward.probe.NgramReward`) on the texts, no encoder:
seconds per arm, but capacity-bound (labels move it less than the MLP head; RESULTS.md).
    python benchmarks/reward_sim_labels.py --label-slices --seeds 0,1,2,3,4      # labels only, no reward model
    python benchmarks/reward_sim_labels.py --calibration-only --seeds 0,1,2,3,4  # p_chosen against gold
    python benchmarks/reward_sim_labels.py --seeds 0 --pairs 150 --test 100 --iters 20   # smoke run

The linear head (the default) is capacity-bound here: labels barely move it (RESULTS.md); the MLP head is
the configuration the figures use.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
from reward_sim import majority_pairs  # noqa: E402

from tether.records import PreferencePair  # noqa: E402

OBJECTIVE = "overall"
# one reliability per rater, weights from it (curate's default before the slice / posterior default)
RATER_OPTIONS = {"include_blocked": True, "reliability": "rater", "weights": "reliability"}
ARMS = ("majority", "curated-rater", "tether", "tether-soft", "tether-drop", "tether-blocked-full", "gold")


class Embedder:
    """Frozen MiniLM: mean-pooled (prompt, response) embeddings, cached by text."""

    def __init__(self, max_length: int = 128, batch: int = 64) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        from tether.reward.backbones import resolve_path

        path = resolve_path("minilm")
        self.torch, self.max_length, self.batch = torch, max_length, batch
        self.tok = AutoTokenizer.from_pretrained(path)
        self.tok.truncation_side = "left"
        self.model = AutoModel.from_pretrained(path).eval()
        self.cache: dict[tuple[str, str], np.ndarray] = {}

    def load(self, path: Path) -> None:
        """Add embeddings saved by `save` (the encoder is frozen, so they never go stale)."""
        if path.is_file():
            with np.load(path, allow_pickle=False) as f:
                keys = json.loads(str(f["keys"]))
                self.cache.update({tuple(k): v for k, v in zip(keys, f["vectors"], strict=True)})

    def save(self, path: Path) -> None:
        keys = list(self.cache)
        np.savez(path, keys=json.dumps(keys), vectors=np.stack([self.cache[k] for k in keys]))

    def __call__(self, texts: list[tuple[str, str]]) -> np.ndarray:
        todo = sorted({t for t in texts if t not in self.cache})
        torch = self.torch
        with torch.inference_mode():
            for s in range(0, len(todo), self.batch):
                chunk = todo[s:s + self.batch]
                enc = self.tok([p for p, _ in chunk], [r for _, r in chunk], truncation=True,
                               max_length=self.max_length, padding=True, return_tensors="pt",
                               return_token_type_ids=False)
                out = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).float()
                pooled = ((out * mask).sum(1) / mask.sum(1)).numpy()
                for t, v in zip(chunk, pooled, strict=True):
                    self.cache[t] = v
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, 384))


class Texts:
    """The `--head ngram` stand-in for `Embedder`: the (prompt, response) texts themselves, for the n-gram probe."""

    cache: dict = {}

    def load(self, path: Path) -> None:
        pass

    def save(self, path: Path) -> None:
        pass

    def __call__(self, texts: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return list(texts)


def make_embedder(args: argparse.Namespace, **kwargs) -> Embedder | Texts:  # noqa: ANN003
    """Frozen MiniLM for the linear and MLP heads (one torch thread); the texts for the n-gram probe."""
    if args.head == "ngram":
        return Texts()
    import torch

    torch.set_num_threads(1)
    return Embedder(**kwargs)


def fit_head(x: np.ndarray, target: np.ndarray, weight: np.ndarray, l2: float, iters: int) -> np.ndarray:
    """w minimising mean weight * BCE(sigmoid(x w), target) + l2 |w|^2 (full-batch L-BFGS, fixed budget)."""
    import torch

    xt, yt = torch.tensor(x, dtype=torch.float64), torch.tensor(target, dtype=torch.float64)
    wt = torch.tensor(weight / max(weight.mean(), 1e-12), dtype=torch.float64)
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], lr=1.0, max_iter=iters, tolerance_grad=0.0, tolerance_change=0.0,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure():  # noqa: ANN202
        opt.zero_grad()
        z = xt @ w
        loss = (wt * torch.nn.functional.binary_cross_entropy_with_logits(z, yt, reduction="none")).mean()
        loss = loss + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy()


def fit_mlp(chosen: np.ndarray, rejected: np.ndarray, target: np.ndarray, weight: np.ndarray, args: argparse.Namespace,
            seed: int):  # noqa: ANN201
    """r = v . gelu(W e + b): `args.iters` full-batch AdamW steps on the weighted pairwise logistic loss."""
    import torch

    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(chosen.shape[1], args.hidden), torch.nn.GELU(),
                              torch.nn.Linear(args.hidden, 1))
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.l2)
    c, r = torch.tensor(chosen, dtype=torch.float32), torch.tensor(rejected, dtype=torch.float32)
    y = torch.tensor(target, dtype=torch.float32)
    w = torch.tensor(weight / max(weight.mean(), 1e-12), dtype=torch.float32)
    for _ in range(args.iters):
        opt.zero_grad()
        z = (net(c) - net(r)).squeeze(-1)
        loss = (w * torch.nn.functional.binary_cross_entropy_with_logits(z, y, reduction="none")).mean()
        loss.backward()
        opt.step()
    return lambda e: net(torch.tensor(e, dtype=torch.float32)).squeeze(-1).detach().numpy()


def train_arm(embed: Embedder, pairs: list[PreferencePair], soft: bool, args: argparse.Namespace, seed: int):  # noqa: ANN201
    """A scoring function e -> reward, trained on the arm's pairs (ties left out) with the same budget."""
    decided = [p for p in pairs if not p.tie]
    if args.head == "ngram":
        from tether.reward.probe import NgramReward

        # the probe: weights normalised to sum 1, L-BFGS for --iters steps, both orientations implicit (linear, no bias)
        probe = NgramReward(l2=args.l2, max_iter=args.iters).fit(decided, soft=soft)
        return lambda texts: probe.score([p for p, _ in texts], [r for _, r in texts])
    target = np.array([p.p_chosen if soft else 1.0 for p in decided])
    weight = np.array([p.weight for p in decided])
    ec, er = embed([(p.prompt, p.chosen) for p in decided]), embed([(p.prompt, p.rejected) for p in decided])
    if args.head == "mlp":
        return fit_mlp(ec, er, target, weight, args, seed)
    x = ec - er
    # both orientations, so the head has no side to favour
    w = fit_head(np.vstack([x, -x]), np.concatenate([target, 1 - target]), np.concatenate([weight, weight]),
                 args.l2, args.iters)
    return lambda e: e @ w


def score_arm(embed: Embedder, pairs: list[PreferencePair], soft: bool, args: argparse.Namespace, seed: int,
              test: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, list[PreferencePair]]:
    """Train one arm; (which test pairs it orders right, its decided training pairs)."""
    score = train_arm(embed, pairs, soft, args, seed)
    return score(test[0]) - score(test[1]) > 0, [p for p in pairs if not p.tie]


def run_seed(seed: int, args: argparse.Namespace, embed: Embedder) -> dict:
    from tether.audit.audit import run_audit
    from tether.audit.config import CurateConfig
    from tether.audit.curate import curate
    from tether.sim import CampaignConfig, World

    world = World(seed=seed)
    cands = world.candidate_pairs(args.pairs)
    run = world.simulate_campaign(cands, world.rater_pool(30), CampaignConfig(overlap=3, objective=OBJECTIVE))
    audit = run_audit(run.comparisons)
    blocked = sorted(audit.blocked_task_types)
    tether_cfg = CurateConfig(include_blocked=True, reliability="slice", weights="posterior")
    tether = curate(audit, tether_cfg).pairs
    full = [p.model_copy(update={"weight": p.weight / p.provenance["task_factor"]})
            if p.provenance["task_type"] in blocked else p for p in tether]
    sets = {
        "majority": (majority_pairs(run.comparisons, cands, OBJECTIVE), False),
        "curated-rater": (curate(audit, CurateConfig(**RATER_OPTIONS)).pairs, False),
        "tether": (tether, False),
        "tether-soft": (tether, True),
        "tether-drop": ([p for p in tether if p.provenance["task_type"] not in blocked], False),
        "tether-blocked-full": (full, False),
        "gold": (world.gold_pairs(cands, [OBJECTIVE]), False),
    }
    test = world.gold_pairs(world.candidate_pairs(args.test), [OBJECTIVE])
    e_chosen = embed([(p.prompt, p.chosen) for p in test])
    e_rejected = embed([(p.prompt, p.rejected) for p in test])
    tasks = np.array([p.provenance["task_type"] for p in test])
    lang = {c.prompt.task_type: c.prompt.language for c in cands}

    def gold_of(p: PreferencePair) -> str:
        return world.gold_label(p.prompt, p.chosen, p.rejected, OBJECTIVE)

    out: dict = {"seed": seed, "blocked": blocked, "n_test": len(test), "arms": {},
                 "test_task_types": sorted(set(tasks.tolist())), "language": lang}
    for key in args.arms:
        pairs, soft = sets[key]
        t0 = time.process_time()
        correct, decided = score_arm(embed, pairs, soft, args, seed, (e_chosen, e_rejected))
        golds = [gold_of(p) for p in decided]
        right = np.array([g == "a" for g in golds])
        known = np.array([g != "tie" for g in golds])
        weights = np.array([p.weight for p in decided])
        by_type: dict[str, dict] = {}
        for t in sorted({p.provenance["task_type"] for p in decided}):
            m = known & np.array([p.provenance["task_type"] == t for p in decided])
            by_type[t] = {"n": int(m.sum()), "label_acc": float(right[m].mean()) if m.any() else None}
        out["arms"][key] = {
            "pairs": len(decided), "acc": float(correct.mean()),
            "acc_by_type": {t: float(correct[tasks == t].mean()) for t in sorted(set(tasks.tolist()))},
            "label_acc": float(right[known].mean()),
            "weighted_label_acc": float((weights * right)[known].sum() / max(weights[known].sum(), 1e-12)),
            "label_by_type": by_type, "cpu_s": time.process_time() - t0,
        }
        if soft or key == "tether":
            p = np.array([q.p_chosen for q in decided])[known]
            out["arms"][key]["p_chosen_mean"] = float(p.mean())
            out["arms"][key]["calibration"] = calibration(p, right[known])
        print(f"seed {seed} {key}: {len(decided)} pairs, labels {out['arms'][key]['label_acc']:.3f}, "
              f"gold accuracy {out['arms'][key]['acc']:.4f}", file=sys.stderr, flush=True)
    return out


def calibration_study(seed: int, args: argparse.Namespace) -> dict:
    """p_chosen against gold, without gold and with --gold-items gold-labelled items given to the audit
    (scored on the other items). No reward model: labels only."""
    import random

    from tether.audit.audit import run_audit
    from tether.audit.config import AuditConfig, CurateConfig
    from tether.audit.curate import curate
    from tether.sim import CampaignConfig, World

    world = World(seed=seed)
    cands = world.candidate_pairs(args.pairs)
    run = world.simulate_campaign(cands, world.rater_pool(30), CampaignConfig(overlap=3, objective=OBJECTIVE))
    gold = {c.pair_id: world.gold_label(c.prompt.text, c.response_a, c.response_b, OBJECTIVE) for c in cands}
    given = dict(random.Random(seed).sample(sorted(gold.items()), args.gold_items))
    out = {}
    for name, cfg in (("no gold", AuditConfig()), (f"{args.gold_items} gold items", AuditConfig(gold=given))):
        pairs = curate(run_audit(run.comparisons, cfg), CurateConfig(include_blocked=True, reliability="slice",
                                                                     weights="posterior")).pairs
        kept = [p for p in pairs if not p.tie and p.provenance["pair_id"] not in given
                and gold[p.provenance["pair_id"]] != "tie"]
        right = np.array([world.gold_label(p.prompt, p.chosen, p.rejected, OBJECTIVE) == "a" for p in kept])
        p = np.array([q.p_chosen for q in kept])
        out[name] = {"n": len(kept), "p_mean": float(p.mean()), "right": float(right.mean()),
                     **calibration(p, right)}
        print(f"seed {seed} {name}: p_chosen {p.mean():.3f}, right {right.mean():.3f}, ECE {out[name]['ece']:.3f}",
              file=sys.stderr, flush=True)
    return out


CURVE_SIZES = (50, 100, 200, 400, 800, 1600, 3200)


def curve_study(seed: int, args: argparse.Namespace, embed: Embedder) -> dict:
    """Learning curve of the Tether arm (nested random subsets of its pairs), and careful few vs noisy many:
    --careful pairs re-judged by the 10 raters the audit trusts most (overlap 3, Tether's labels) against
    the whole campaign's majority vote from the unfiltered pool. Same head and steps for every set."""
    import random

    from tether.audit.audit import run_audit
    from tether.audit.config import CurateConfig
    from tether.audit.curate import curate
    from tether.sim import CampaignConfig, World

    world = World(seed=seed)
    cands = world.candidate_pairs(args.pairs)
    pool = world.rater_pool(30)
    run = world.simulate_campaign(cands, pool, CampaignConfig(overlap=3, objective=OBJECTIVE))
    audit = run_audit(run.comparisons)
    cfg = CurateConfig(include_blocked=True, reliability="slice", weights="posterior")
    tether = curate(audit, cfg).pairs
    test = world.gold_pairs(world.candidate_pairs(args.test), [OBJECTIVE])
    e_test = (embed([(p.prompt, p.chosen) for p in test]), embed([(p.prompt, p.rejected) for p in test]))
    order = random.Random(seed).sample(range(len(tether)), len(tether))
    curve = {}
    for n in [n for n in CURVE_SIZES if n < len(tether)] + [len(tether)]:
        correct, _ = score_arm(embed, [tether[i] for i in order[:n]], False, args, seed, e_test)
        curve[n] = float(correct.mean())
    rel = {name: r["reliability"] for name, r in audit.rater_summary.items()}
    careful_raters = [r for r in pool if r.id in sorted(rel, key=rel.__getitem__, reverse=True)[:10]]
    few = random.Random(seed + 1).sample(cands, args.careful)
    careful_run = world.simulate_campaign(few, careful_raters, CampaignConfig(overlap=3, objective=OBJECTIVE,
                                                                              name="careful"))
    careful = curate(run_audit(careful_run.comparisons), cfg).pairs
    noisy = majority_pairs(run.comparisons, cands, OBJECTIVE)
    # the same items as the careful few, labelled by the unfiltered pool's majority: careful raters' value per pair
    noisy_few = majority_pairs(run.comparisons, few, OBJECTIVE)
    out = {"seed": seed, "curve": curve, "n_test": len(test)}
    if args.head == "ngram":
        # what `tether reward curve` reports on this set: held-out curated labels instead of gold
        from tether.reward.curve import learning_curve

        user = learning_curve(tether, target=args.target, seed=seed)
        out["curve_on_labels"] = dict(zip(user.sizes, user.accuracy, strict=True)) | {
            "fit": user.fit, "pairs_needed": user.pairs_needed}
    for key, pairs in (("careful few", careful), ("noisy same items", noisy_few), ("noisy many", noisy)):
        correct, decided = score_arm(embed, pairs, False, args, seed, e_test)
        golds = [world.gold_label(p.prompt, p.chosen, p.rejected, OBJECTIVE) for p in decided]
        out[key] = {"pairs": len(decided), "acc": float(correct.mean()),
                    "label_acc": float(np.mean([g == "a" for g in golds if g != "tie"]))}
    print(f"seed {seed}: curve {curve}; careful {out['careful few']}; noisy same items {out['noisy same items']}; "
          f"noisy {out['noisy many']}", file=sys.stderr, flush=True)
    return out


def fit_curve(sizes: np.ndarray, acc: np.ndarray, target: float) -> dict:
    """acc(n) = a - b n^-c fitted by least squares (`tether reward curve`'s fit); the pairs needed for `target`
    (None: at or above the asymptote)."""
    from tether.reward.curve import fit_power_law

    fit, needed = fit_power_law(sizes, acc, target)
    return fit | {"target": target, "pairs_needed": needed}


def label_slices(seed: int, args: argparse.Namespace) -> dict:
    """Label accuracy against gold of the majority, one-reliability-per-rater and Tether training sets, by task
    type and by language (no reward model)."""
    from tether.audit.audit import run_audit
    from tether.audit.config import CurateConfig
    from tether.audit.curate import curate
    from tether.sim import CampaignConfig, World

    world = World(seed=seed)
    cands = world.candidate_pairs(args.pairs)
    run = world.simulate_campaign(cands, world.rater_pool(30), CampaignConfig(overlap=3, objective=OBJECTIVE))
    audit = run_audit(run.comparisons)
    lang = {c.prompt.task_type: c.prompt.language for c in cands}
    sets = {"majority": majority_pairs(run.comparisons, cands, OBJECTIVE),
            "curated-rater": curate(audit, CurateConfig(**RATER_OPTIONS)).pairs,
            "tether": curate(audit, CurateConfig(include_blocked=True, reliability="slice", weights="posterior")).pairs}
    out: dict = {"blocked": sorted(audit.blocked_task_types)}
    for key, pairs in sets.items():
        rows = [(p.provenance["task_type"], world.gold_label(p.prompt, p.chosen, p.rejected, OBJECTIVE))
                for p in pairs if not p.tie]
        rows = [(t, g == "a") for t, g in rows if g != "tie"]
        by: dict[str, list[bool]] = {}
        for t, ok in rows:
            by.setdefault(f"task type {t}", []).append(ok)
            by.setdefault(f"language {lang[t]}", []).append(ok)
        out[key] = {"all": float(np.mean([ok for _, ok in rows])), **{k: [float(np.mean(v)), len(v)]
                                                                     for k, v in sorted(by.items())}}
    print(f"seed {seed}: " + json.dumps(out), file=sys.stderr, flush=True)
    return out


def calibration(p: np.ndarray, right: np.ndarray, bins: int = 10) -> dict:
    """ECE of p_chosen as the probability that the label is right, and the bins behind it."""
    edges = np.linspace(0.5, 1.0, bins + 1)
    idx = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            rows.append([float(edges[b]), int(m.sum()), float(p[m].mean()), float(right[m].mean())])
            ece += m.mean() * abs(p[m].mean() - right[m].mean())
    return {"ece": float(ece), "bins": rows}


def t_interval(diffs: list[float], confidence: float = 0.95) -> tuple[float, float, float]:
    from scipy import stats

    d = np.asarray(diffs)
    half = stats.t.ppf(0.5 + confidence / 2, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
    return float(d.mean()), float(d.mean() - half), float(d.mean() + half)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--pairs", type=int, default=800)
    parser.add_argument("--test", type=int, default=1500)
    parser.add_argument("--iters", type=int, default=200, help="L-BFGS iterations for every arm")
    parser.add_argument("--l2", type=float, default=1e-3, help="L2 penalty (linear) / weight decay (mlp)")
    parser.add_argument("--head", choices=("linear", "mlp", "ngram"), default="linear",
                        help="ngram: the hashed word n-gram probe (tether.reward.probe), no encoder")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--results", type=Path)
    parser.add_argument("--cache", type=Path, help="folder for the frozen encoder's embeddings (per seed)")
    parser.add_argument("--curve", action="store_true", help="learning curve and careful few vs noisy many")
    parser.add_argument("--careful", type=int, default=80, help="pairs re-judged by the careful raters (--curve)")
    parser.add_argument("--target", type=float, default=0.85, help="accuracy the curve's pairs-needed aims at")
    parser.add_argument("--label-slices", action="store_true", help="only label accuracy by slice, no reward model")
    parser.add_argument("--calibration-only", action="store_true", help="only check p_chosen against gold")
    parser.add_argument("--gold-items", type=int, default=100, help="gold items given to the audit (calibration)")
    args = parser.parse_args()
    args.arms = args.arms.split(",")
    if args.label_slices:
        found = {s: label_slices(int(s), args) for s in args.seeds.split(",")}
        if args.results:
            args.results.write_text(json.dumps(found, indent=1))
        return
    if args.calibration_only:
        cal = {s: calibration_study(int(s), args) for s in args.seeds.split(",")}
        if args.results:
            args.results.write_text(json.dumps(cal, indent=1))
        return
    if args.curve:
        embed = make_embedder(args)
        found = []
        for s in args.seeds.split(","):
            if args.cache:
                embed.load(args.cache / f"embeddings-seed{s}.npz")
            found.append(curve_study(int(s), args, embed))
            if args.cache:
                embed.save(args.cache / f"embeddings-seed{s}.npz")
            embed.cache.clear()
        # the last point is each seed's whole curated set (its size differs by seed): fitted per (size, seed)
        sizes = np.array([n for r in found for n in r["curve"]], dtype=float)
        mean = np.array([a for r in found for a in r["curve"].values()])
        fit = fit_curve(sizes, mean, args.target)
        print(json.dumps({"sizes": sizes.tolist(), "mean": mean.tolist(), "fit": fit}))
        if args.results:
            args.results.write_text(json.dumps({"seeds": found, "fit": fit, "args": vars(args) | {
                "cache": str(args.cache), "results": str(args.results)}}, indent=1))
        return

    embed = make_embedder(args)
    t0, c0 = time.perf_counter(), time.process_time()
    results = []
    for s in args.seeds.split(","):
        cached = args.cache / f"embeddings-seed{s}.npz" if args.cache else None
        if cached:
            embed.load(cached)
        results.append(run_seed(int(s), args, embed))
        if cached:
            embed.save(cached)
        embed.cache.clear()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    summary = {"args": {k: v for k, v in vars(args).items() if k not in ("results", "cache")},
               "wall_s": wall, "cpu_s": cpu,
               "seeds": results}
    if "majority" in args.arms:
        for key in args.arms:
            d = [r["arms"][key]["acc"] - r["arms"]["majority"]["acc"] for r in results]
            if len(d) > 1:
                summary.setdefault("vs_majority", {})[key] = t_interval(d)
    if args.results:
        args.results.write_text(json.dumps(summary, indent=1))
    for key in args.arms:
        accs = [r["arms"][key]["acc"] for r in results]
        print(f"{key:20s} acc {np.mean(accs):.4f} per seed {[round(a, 4) for a in accs]} "
              f"labels {np.mean([r['arms'][key]['label_acc'] for r in results]):.3f}")
    for key, (m, lo, hi) in summary.get("vs_majority", {}).items():
        print(f"{key} - majority: {100 * m:+.2f} points, 95% t-interval [{100 * lo:+.2f}, {100 * hi:+.2f}]")
    print(f"wall {wall:.0f} s, cpu {cpu:.0f} s")


if __name__ == "__main__":
    main()
