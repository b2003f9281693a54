"""Agreement metrics on 1M labels: tether.audit side by side with statsmodels and NLTK, in one run.

Same synthetic labels for every library (3 classes: a / b / tie; items with 3 raters each for
Fleiss and alpha, two raters over 500k shared items for Cohen). Each measurement starts from the
raw long-format labels (what a store query gives), and for Krippendorff's alpha also from a
precomputed count matrix (the path the audit's bootstrap uses; target <= 50 ms). Every pair of
numbers is checked for equality before a time is reported. Writes the `## Audit agreement`
section of benchmarks/RESULTS.md.

    python benchmarks/audit_agreement.py --labels 1000000
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tether.audit.agreement import (
    alpha_from_coincidence,
    cohens_kappa,
    coincidence_matrix,
    fleiss_kappa,
    krippendorff_alpha,
)

RESULTS = Path(__file__).parent / "RESULTS.md"
SECTION = "## Audit agreement"


def timed(fn: Callable[[], float], repeat: int) -> tuple[float, float]:
    """(result, median seconds) over `repeat` runs."""
    times, value = [], float("nan")
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return value, statistics.median(times)


def make_labels(n_labels: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(item, rater, label) with 3 raters per item drawn from 50, each right 75% of the time."""
    rng = np.random.default_rng(seed)
    n_items = n_labels // 3
    truth = rng.choice(3, size=n_items, p=[0.45, 0.4, 0.15])
    item = np.repeat(np.arange(n_items), 3)
    rater = rng.integers(0, 50, size=n_items * 3)
    noisy = rng.random(n_items * 3) >= 0.75
    label = np.where(noisy, rng.integers(0, 3, n_items * 3), truth[item])
    return item, rater, label


def counts_from(item: np.ndarray, label: np.ndarray, n_items: int) -> np.ndarray:
    return np.bincount(item * 3 + label, minlength=n_items * 3).reshape(n_items, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--nltk-labels", type=int, default=None,
                        help="labels for NLTK's alpha (default: all); NLTK is pure Python")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()

    from nltk.metrics.agreement import AnnotationTask
    from statsmodels.stats.inter_rater import aggregate_raters, to_table
    from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa
    from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

    item, rater, label = make_labels(args.labels, args.seed)
    n_items = int(item.max()) + 1
    wide = label.reshape(n_items, 3)  # items x 3 ratings: statsmodels' input shape
    rows: list[tuple[str, str, float, float, float, float]] = []

    # Cohen's kappa, two raters over n/2 shared items (n labels in all)
    rng = np.random.default_rng(args.seed + 1)
    x = rng.integers(0, 3, args.labels // 2)
    y = np.where(rng.random(x.size) < 0.7, x, rng.integers(0, 3, x.size))
    ours, t_ours = timed(lambda: cohens_kappa(x, y), args.repeat)
    peer, t_peer = timed(lambda: sm_cohens_kappa(to_table(np.column_stack([x, y]), bins=3)[0]).kappa, args.repeat)
    assert abs(ours - peer) < 1e-12, (ours, peer)
    rows.append(("Cohen's kappa (raw labels)", "statsmodels to_table + cohens_kappa", ours, t_ours, peer, t_peer))

    # Fleiss' kappa from raw labels
    ours, t_ours = timed(lambda: fleiss_kappa(counts_from(item, label, n_items)), args.repeat)
    peer, t_peer = timed(lambda: sm_fleiss_kappa(aggregate_raters(wide, n_cat=3)[0]), args.repeat)
    assert abs(ours - peer) < 1e-12, (ours, peer)
    rows.append(("Fleiss' kappa (raw labels)", "statsmodels aggregate_raters + fleiss_kappa", ours, t_ours, peer,
                 t_peer))

    # Krippendorff's alpha (nominal)
    n_nltk = args.nltk_labels or args.labels
    n_nltk -= n_nltk % 3
    sub = slice(0, n_nltk)
    triples = [(f"r{r}", i, int(v)) for i, r, v in zip(item[sub].tolist(), rater[sub].tolist(), label[sub].tolist(),
                                                           strict=True)]
    # NLTK keys an item's labels by coder: items whose raters repeat would collapse, so give each slot a coder
    triples = [(f"c{k % 3}", i, v) for k, (_, i, v) in enumerate(triples)]
    t = time.perf_counter()
    peer = AnnotationTask(triples).alpha()
    t_peer = time.perf_counter() - t
    ours_sub = krippendorff_alpha(counts_from(item[sub], label[sub], n_nltk // 3))
    assert abs(ours_sub - peer) < 1e-9, (ours_sub, peer)
    ours, t_ours = timed(lambda: krippendorff_alpha(counts_from(item[sub], label[sub], n_nltk // 3)), args.repeat)
    rows.append((f"Krippendorff's alpha (raw labels, {n_nltk:,})", "NLTK AnnotationTask.alpha", ours, t_ours, peer,
                 t_peer))
    counts = counts_from(item, label, n_items)
    a_counts, t_counts = timed(lambda: krippendorff_alpha(counts), args.repeat * 4)
    o = coincidence_matrix(counts)
    a_coinc, t_coinc = timed(lambda: alpha_from_coincidence(o), args.repeat * 4)
    assert abs(a_counts - a_coinc) < 1e-12

    lines = [
        SECTION,
        "",
        f"`python benchmarks/audit_agreement.py --labels {args.labels}` — {args.labels:,} labels, 3 classes; "
        f"median of {args.repeat} runs (NLTK: one run). Machine: {platform.processor() or platform.machine()}, "
        "2-core shared dev machine, other work running. Every pair of numbers agrees to 1e-9 or better.",
        "",
        "| metric | peer | value | tether | peer time | speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for name, peer_name, value, t_o, _, t_p in rows:
        lines.append(f"| {name} | {peer_name} | {value:.6f} | {t_o * 1e3:.1f} ms | {t_p * 1e3:.1f} ms | "
                     f"{t_p / t_o:.1f}x |")
    lines += [
        "",
        f"Krippendorff's alpha from a count matrix ({n_items:,} items x 3): {t_counts * 1e3:.1f} ms "
        f"(target <= 50 ms); from the 3x3 coincidence matrix: {t_coinc * 1e6:.0f} us.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n\n"
        pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
        new = pattern.sub(text + "\n", old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text + "\n"
        RESULTS.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    main()
