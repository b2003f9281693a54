"""Drift tests on real prompts: power (English annotation vs non-English production) and false alarms.

Annotation = English prompts of data/oasst_prompts, production = the non-English ones: both tests
must reject. Calibration: the English prompts split into two random halves, many times; the share
of splits a test calls drift at alpha must be close to alpha (a permutation / rank test's promise).
Embeddings are computed once (MiniLM, offline) and reused for every split.

    python benchmarks/drift_calibration.py --reps 1000 --write
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
from drift_results import RESULTS, write_subsection
from scipy.stats import binomtest

from tether.shift.data import read_prompts
from tether.shift.embed import Encoder
from tether.shift.twosample import ClassifierTest, MMDTest

OASST = Path(__file__).parents[1] / "data" / "oasst_prompts" / "oa_questions.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--permutations", type=int, default=200)
    ap.add_argument("--write", action="store_true", help=f"write figures to {RESULTS.name}")
    args = ap.parse_args()
    rows = read_prompts(OASST)
    en = [r.text for r in rows if r.lang == "en"]
    other = [r.text for r in rows if r.lang != "en"]
    t0 = time.perf_counter()
    enc = Encoder()
    E, F = enc.encode(en), enc.encode(other)
    embed_s = time.perf_counter() - t0
    mmd_p = MMDTest(n_permutations=args.permutations).fit(E, F).pvalue_
    c2 = ClassifierTest().fit(E, F)
    print(f"en {len(en)} vs other {len(other)}: MMD p={mmd_p:.4g}, C2ST AUC={c2.auc_:.3f} p={c2.pvalue_:.3g}")
    rng = np.random.default_rng(0)
    p_mmd, p_c2 = [], []
    t0 = time.perf_counter()
    for r in range(args.reps):
        perm = rng.permutation(len(E))
        a, b = E[perm[: len(E) // 2]], E[perm[len(E) // 2 :]]
        p_mmd.append(MMDTest(n_permutations=args.permutations, seed=r).fit(a, b).pvalue_)
        p_c2.append(ClassifierTest(seed=r).fit(a, b).pvalue_)
    loop_s = time.perf_counter() - t0
    pm, pc = np.array(p_mmd), np.array(p_c2)
    rates = {"MMD (RFF, permutation)": float((pm <= args.alpha).mean()),
             "classifier two-sample test": float((pc <= args.alpha).mean()),
             "report verdict (either < alpha/2)": float((np.minimum(pm, pc) < args.alpha / 2).mean())}
    for name, rate in rates.items():
        ci = binomtest(int(round(rate * args.reps)), args.reps).proportion_ci(0.95)
        print(f"{name}: false-alarm rate {rate:.3f} (95% CI {ci.low:.3f}-{ci.high:.3f})")
    if args.write:
        lines = "\n".join(
            f"| {name} | {rate:.3f} | {binomtest(int(round(rate * args.reps)), args.reps).proportion_ci(0.95).low:.3f}"
            f"-{binomtest(int(round(rate * args.reps)), args.reps).proportion_ci(0.95).high:.3f} |"
            for name, rate in rates.items())
        write_subsection("Drift calibration", f"""
`python benchmarks/drift_calibration.py --reps {args.reps} --permutations {args.permutations} --write` —
data/oasst_prompts, MiniLM embeddings (offline) computed once in {embed_s:.1f} s. Machine: {platform.machine()},
2-core shared dev machine, other work running.

Power: English ({len(en)}) vs non-English ({len(other)}) prompts: MMD p = {mmd_p:.4g} (the smallest a
{args.permutations}-permutation test can give is {1 / (args.permutations + 1):.4f}), classifier AUC {c2.auc_:.3f},
p {"< 1e-300" if c2.pvalue_ == 0 else f"= {c2.pvalue_:.3g}"}.

False alarms: {args.reps} random splits of the English prompts into halves, alpha {args.alpha}
(goal: between 0.03 and 0.07); {loop_s:.0f} s for all splits.

| test | false-alarm rate | 95% CI |
|---|---|---|
{lines}
""")


if __name__ == "__main__":
    main()
