"""Reward models on the simulated world, scored against the gold reward.

One campaign (World(seed), 30 raters with the default hidden biases, overlap 3, objective `overall`) over
--pairs candidate pairs, turned into three training sets for the same MiniLM + head trainer:

- **curated**: `tether.audit.curate` (weights from rater reliability, task-type agreement, reversals;
  soft labels from the position-free Bradley–Terry model; the ambiguous-rubric task type blocked);
- **raw majority**: one hard label per pair by majority vote (ties / splits dropped), weight 1;
- **noise-free**: the gold label of every pair (gold ties dropped), weight 1.

Accuracy is against gold labels on fresh pairs from the same world. Then: a 3-member bootstrap ensemble
on the curated set, its disagreement on the trained domains vs on `travel` (never annotated), and
temperature scaling of the curated model fitted on a small gold-labelled validation set.

    python benchmarks/reward_sim.py                 # writes the subsection of RESULTS.md
    python benchmarks/reward_sim.py --pairs 200 --epochs 1 --no-write    # smoke run
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
from reward_common import machine_note, write_subsection  # noqa: E402

from tether.records import Choice, PreferencePair  # noqa: E402


def gold_pairs(world, cands, objective: str) -> list[PreferencePair]:  # noqa: ANN001
    """Candidate pairs labelled by the gold reward (gold ties left out)."""
    out = []
    for c in cands:
        label = world.gold_label(c.prompt, c.response_a, c.response_b, objective)
        if label == "tie":
            continue
        ch, rj = (c.response_a, c.response_b) if label == "a" else (c.response_b, c.response_a)
        out.append(PreferencePair(prompt=c.prompt.text, chosen=ch, rejected=rj, objective=objective,
                                  provenance={"task_type": c.prompt.task_type, "domain": c.prompt.domain,
                                              "language": c.prompt.language}))
    return out


def majority_pairs(comparisons, cands, objective: str) -> list[PreferencePair]:  # noqa: ANN001
    """One hard label per pair by majority vote; ties and even splits dropped."""
    votes: dict[str, Counter] = defaultdict(Counter)
    for c in comparisons:
        votes[c.pair_id][c.choice] += 1
    out = []
    for c in cands:
        (top, n), *rest = votes[c.pair_id].most_common() or [(None, 0)]
        if top in (None, Choice.TIE) or (rest and rest[0][1] == n):
            continue
        ch, rj = (c.response_a, c.response_b) if top == Choice.A else (c.response_b, c.response_a)
        out.append(PreferencePair(prompt=c.prompt.text, chosen=ch, rejected=rj, objective=objective,
                                  provenance={"task_type": c.prompt.task_type, "domain": c.prompt.domain}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=900, help="candidate pairs in the campaign")
    parser.add_argument("--test", type=int, default=500, help="fresh gold-labelled test pairs")
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    from tether.audit.curate import curate
    from tether.reward.ensemble import train_ensemble
    from tether.reward.evaluate import evaluate
    from tether.reward.model import RewardModel
    from tether.reward.train import TrainConfig, train
    from tether.sim import CampaignConfig, World

    t_start = time.perf_counter()
    world = World(seed=args.seed)
    objective = "overall"
    cands = world.candidate_pairs(args.pairs)
    run = world.simulate_campaign(cands, world.rater_pool(30), CampaignConfig(overlap=3, objective=objective))
    sets = {
        "curated (tether.audit.curate)": curate(run.comparisons).pairs,
        "raw majority vote": majority_pairs(run.comparisons, cands, objective),
        "noise-free (gold labels)": gold_pairs(world, cands, objective),
    }
    test = gold_pairs(world, world.candidate_pairs(args.test), objective)
    val = gold_pairs(world, world.candidate_pairs(200), objective)
    travel = gold_pairs(world, world.candidate_pairs(200, tasks=["train_time"]), objective)
    for name, ps in sets.items():
        agree = np.mean([world.gold_label(p.prompt, p.chosen, p.rejected, objective) == "a" for p in ps])
        print(f"{name}: {len(ps)} pairs, {agree:.3f} agree with gold", file=sys.stderr)

    work = Path(tempfile.mkdtemp(prefix="reward_sim_"))
    # the same number of optimizer steps for every label set (--epochs over the largest set)
    steps = int(round(args.epochs * max(len(ps) for ps in sets.values()) / 16))
    cfg = TrainConfig(backbone="minilm", max_steps=steps, batch_size=16, max_length=128, seed=args.seed)
    rows, models = [], {}
    for i, (name, ps) in enumerate(sets.items()):
        res = train(ps, work / f"m{i}", replace(cfg, name=f"sim-{i}"))
        models[name] = RewardModel.load(work / f"m{i}")
        ev = evaluate(models[name], test)
        label_acc = np.mean([world.gold_label(p.prompt, p.chosen, p.rejected, objective) == "a" for p in ps])
        rows.append((name, len(ps), label_acc, ev.accuracy, res.steps))
        print(f"{name}: gold accuracy {ev.accuracy:.4f}", file=sys.stderr)
    acc = {r[0]: r[3] for r in rows}
    cur, raw, clean = (acc[k] for k in sets)

    curated = models["curated (tether.audit.curate)"]
    cal = evaluate(curated, test, calibration_pairs=val)

    ens = train_ensemble(sets["curated (tether.audit.curate)"], work / "ens", replace(cfg, name="sim-ens"), k=3)

    def spread(ps: list[PreferencePair]) -> float:
        res = ens.score([p.prompt for p in ps] * 2, [p.chosen for p in ps] + [p.rejected for p in ps])
        return float(res.disagreement[objective].mean())

    trained_spread, travel_spread = spread(test), spread(travel)
    ens_acc = evaluate(ens, test).accuracy
    minutes = (time.perf_counter() - t_start) / 60

    lines = [
        f"`python benchmarks/reward_sim.py --pairs {args.pairs} --test {args.test} --epochs {args.epochs:g}` — "
        f"World(seed={args.seed}), 30 simulated raters (default hidden traits), overlap 3, objective `{objective}`; "
        f"MiniLM-L6 + head, {steps} steps ({args.epochs:g} epochs of the largest set), batch 16, same config and "
        f"step budget for every set. Accuracy against gold labels "
        f"on {len(test)} fresh pairs (gold ties left out). {minutes:.0f} min. {machine_note()}",
        "",
        "| training labels | pairs | labels agreeing with gold | gold accuracy of the reward model | steps |",
        "|---|---|---|---|---|",
        *[f"| {n} | {k} | {a:.3f} | **{g:.3f}** | {s} |" for n, k, a, g, s in rows],
        "",
        f"Curated minus raw majority: {100 * (cur - raw):+.1f} points; curated reaches "
        f"{100 * cur / clean:.1f}% of the noise-free model's accuracy "
        f"({100 * (cur - 0.5) / max(clean - 0.5, 1e-9):.0f}% of its gain over chance).",
        "",
        f"Calibration of the curated model (temperature fitted on {len(val)} gold-labelled validation pairs): "
        f"ECE {cal.ece_raw:.3f} raw -> **{cal.ece:.3f}** at T = {cal.temperature:.2f}.",
        "",
        f"Ensemble (3 bootstrap members on the curated set, mean aggregation; gold accuracy {ens_acc:.3f}): "
        f"mean member disagreement (std of logits) {trained_spread:.3f} on the trained domains vs "
        f"**{travel_spread:.3f}** on `travel` (never annotated), {travel_spread / trained_spread:.2f}x.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_subsection("Simulated world: curated vs raw vs noise-free labels", text)


if __name__ == "__main__":
    main()
