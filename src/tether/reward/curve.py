"""How much data: reward accuracy against the number of curated pairs, a fitted curve, and the pairs a target needs.

The curated pairs' prompts are split (held-out prompts never train); nested random subsets of the training part
train the n-gram probe (`tether.reward.probe.NgramReward`, about a second per fit, so a curve costs seconds), and
each is scored on the held-out pairs' own labels. acc(n) = a - b n^-c is fitted by least squares over the points
of every repeat; the pairs needed for a target accuracy solve it for n. Two things bound what the curve says:
the held-out labels are curated labels, not truth (the curve's ceiling is their agreement with the truth), and the
probe is a cheap linear model (a fine-tuned reward model reaches a given accuracy with fewer pairs). In the
simulated world the same curve measured against gold is in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import html
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tether.records import PreferencePair

A_MAX = 1.0  # the fit's ceiling bound: an asymptote fitted at it is not identified by the sizes measured


@dataclass
class LearningCurve:
    sizes: list[int]
    accuracy: list[float]  # mean over repeats, one per size
    per_repeat: list[list[float]]
    n_train: int
    n_test: int
    n_test_prompts: int
    target: float
    fit: dict | None = None  # a, b, c of acc(n) = a - b n^-c
    pairs_needed: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def fit_power_law(sizes: Sequence[float], acc: Sequence[float], target: float) -> tuple[dict, float | None]:
    """(a, b, c) of acc(n) = a - b n^-c by least squares, and the n where it reaches `target` (None: a <= target)."""
    from scipy.optimize import curve_fit

    n, y = np.asarray(sizes, float), np.asarray(acc, float)
    (a, b, c), _ = curve_fit(lambda n, a, b, c: a - b * n ** -c, n, y, p0=(min(y.max() + 0.01, A_MAX), 1.0, 0.5),
                             bounds=([0.5, 0.0, 0.01], [A_MAX, 100.0, 3.0]), maxfev=20000)
    needed = float((b / (a - target)) ** (1.0 / c)) if a > target and b > 0 else None
    return {"a": float(a), "b": float(b), "c": float(c)}, needed


def default_sizes(n_train: int, start: int = 25) -> list[int]:
    """Doubling sizes from `start` below n_train, then n_train itself."""
    sizes, n = [], start
    while n < n_train:
        sizes.append(n)
        n *= 2
    return sizes + [n_train]


def learning_curve(pairs: Sequence[PreferencePair], *, target: float = 0.85, holdout: float = 0.2, repeats: int = 3,
                   seed: int = 0, sizes: Sequence[int] | None = None, soft: bool = True, l2: float = 1e-3,
                   max_iter: int = 200) -> LearningCurve:
    """The curve on `pairs` (weights honoured; soft labels by default, as the reward trainer uses them)."""
    from tether.reward.probe import NgramReward

    prompts = sorted({p.prompt for p in pairs})
    if len(prompts) < 2:
        raise ValueError("a learning curve needs pairs on at least two prompts (held-out prompts are scored)")
    random.Random(seed).shuffle(prompts)
    held = set(prompts[:max(1, round(holdout * len(prompts)))])
    train = [p for p in pairs if p.prompt not in held]
    test = [p for p in pairs if p.prompt in held and not p.tie]
    if not test or not any(not p.tie for p in train):
        raise ValueError("no decided pairs to train on or to score after the prompt split; give more pairs")
    sizes = sorted({min(int(s), len(train)) for s in (sizes or default_sizes(len(train))) if s > 0})
    per_repeat = []
    for r in range(repeats):
        order = random.Random(seed + 1 + r).sample(train, len(train))
        row = []
        for n in sizes:
            subset = [p for p in order[:n] if not p.tie]
            # a subset of ties alone teaches nothing: chance
            row.append(NgramReward(l2=l2, max_iter=max_iter).fit(subset, soft=soft).accuracy(test) if subset else 0.5)
        per_repeat.append(row)
    curve = LearningCurve(sizes=sizes, accuracy=np.mean(per_repeat, axis=0).tolist(), per_repeat=per_repeat,
                          n_train=len(train), n_test=len(test), n_test_prompts=len(held), target=target)
    if len(sizes) < 4:
        curve.notes.append(f"{len(sizes)} sizes: too few to fit a - b n^-c (three parameters); give more pairs")
        return curve
    try:
        curve.fit, curve.pairs_needed = fit_power_law([n for _ in per_repeat for n in sizes],
                                                      [a for row in per_repeat for a in row], target)
    except RuntimeError as exc:  # least squares did not converge: report the points without a fit
        curve.notes.append(f"the fit a - b n^-c did not converge ({exc}); the points stand alone")
        return curve
    if curve.fit["a"] >= A_MAX - 1e-6:
        curve.notes.append("the fitted ceiling a sits at its bound 1.0: the sizes measured do not identify it, so "
                           "the pairs needed is a lower bound at best")
    if curve.pairs_needed is None:
        curve.notes.append(f"the fitted ceiling a = {curve.fit['a']:.3f} is at or below the target {target}: more "
                           "pairs of this kind do not reach it with this model")
    elif curve.pairs_needed > 10 * len(train):
        curve.notes.append(f"{curve.pairs_needed:,.0f} pairs is over 10x the {len(train)} measured: an "
                           "extrapolation; read it as 'far more data of this kind', not as a number")
    return curve


def _plot(curve: LearningCurve) -> str:
    from tether.report.figures import png_base64, pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for row in curve.per_repeat:
        ax.plot(curve.sizes, row, ".", color="0.6")
    ax.plot(curve.sizes, curve.accuracy, "o-", label="mean over repeats")
    if curve.fit:
        top = max(curve.sizes[-1], min(curve.pairs_needed or 0, 20 * curve.sizes[-1]))
        n = np.geomspace(curve.sizes[0], top, 200)
        f = curve.fit
        ax.plot(n, f["a"] - f["b"] * n ** -f["c"], "--",
                label=f"fit {f['a']:.3f} - {f['b']:.3f} n^-{f['c']:.3f}")
    ax.axhline(curve.target, color="k", lw=1, ls=":", label=f"target {curve.target}")
    ax.set(xscale="log", xlabel="curated training pairs", ylabel="accuracy on held-out curated labels",
           title="Learning curve (n-gram probe)")
    # plain tick labels: the report's pyplot prints math text as typed, so log-axis labels like 10^2 would not render
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.legend(loc="lower right")
    return png_base64(fig)


def write_curve_report(curve: LearningCurve, path: str | Path, title: str = "How much data: learning curve") -> Path:
    """A self-contained HTML page: the table, the fit, the pairs needed, the notes and the plot."""
    path, esc = Path(path), html.escape
    needed = ("not reached" if curve.pairs_needed is None else
              f"{curve.pairs_needed:,.0f}" if math.isfinite(curve.pairs_needed) else "not reached")
    fit = ("not fitted" if curve.fit is None else
           f"acc(n) = {curve.fit['a']:.4f} - {curve.fit['b']:.4f} n^-{curve.fit['c']:.4f}")
    rows = [("training pairs (after the prompt split)", curve.n_train),
            ("held-out pairs scored (ties left out)", f"{curve.n_test} on {curve.n_test_prompts} prompts"),
            ("fitted curve", fit), (f"pairs needed for accuracy {curve.target}", needed)]
    table = "".join(f"<tr><th>{esc(str(k))}</th><td>{esc(str(v))}</td></tr>" for k, v in rows)
    points = "".join(f"<tr><td>{n}</td><td>{a:.4f}</td><td>{esc(', '.join(f'{r[i]:.3f}' for r in curve.per_repeat))}"
                     "</td></tr>" for i, (n, a) in enumerate(zip(curve.sizes, curve.accuracy, strict=True)))
    notes = "".join(f"<li>{esc(n)}</li>" for n in curve.notes)
    path.write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font-family:sans-serif;max-width:900px;margin:2em auto}}th,td{{text-align:left;padding-right:2em}}
</style></head><body><h1>{esc(title)}</h1><table>{table}</table>
<p>Accuracy is the share of held-out pairs (prompts never trained on) whose curated label the n-gram probe
reproduces, so the curve's ceiling is the labels' own agreement with the truth, and the probe, a linear model on
word n-grams, needs more pairs than a fine-tuned reward model for the same accuracy: read the pairs needed as an
upper estimate of the order of magnitude.</p>{f"<ul>{notes}</ul>" if notes else ""}
<h2>Points</h2><table><tr><th>pairs</th><th>mean accuracy</th><th>per repeat</th></tr>{points}</table>
<h2>Curve</h2><img alt="learning curve" src="data:image/png;base64,{_plot(curve)}"></body></html>""")
    return path
