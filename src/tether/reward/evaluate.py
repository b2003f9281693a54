"""Reward-model audits: accuracy overall and by slice, calibration (ECE, reliability diagram, calibration map), length.

A pair's raw predicted probability is ``sigmoid(margin)``, ``margin = r(chosen) - r(rejected)`` on the
pair's own objective head. Ties are left out of accuracy and calibration (they have no winner).

- **ECE**: binary-classifier form — confidence ``max(q, 1 - q)`` against "the predicted side is the
  labelled winner", in equal-width bins over [0.5, 1], weighted by bin size. A prediction of exactly 0.5 names
  no side and counts half right (pairs are stored chosen-first, so counting it wrong would charge every zero margin
  — e.g. two answers differing only in a number the model never saw — as a miss, a gap of 0.5 in the lowest bin).
- **Calibration map**, fitted on validation pairs, never on the pairs it is scored on: ``isotonic`` (the default) —
  the probability that the side the margin favours is the labelled winner, a non-decreasing function of ``|margin|``
  fitted by isotonic regression on the hard labels (the ones ECE is judged against), so any monotone shape of a
  model's margins is mapped; or ``temperature`` — the one ``T > 0`` minimising the pairs' negative
  log-likelihood under ``sigmoid(margin / T)`` (soft labels as targets when present). The temperature is fitted and
  reported under both. Why isotonic: on an n-gram probe's margins, fitted on 300-450 pairs and judged on as many
  others, a temperature leaves mean ECE 0.055-0.078 (under-confident at moderate margins, where accuracy rises
  steeply), a temperature with a fitted label-noise ceiling fits no ceiling (eps 0) and changes nothing, a power law
  ``sigmoid(|m / T|^k)`` 0.046-0.063, isotonic 0.039-0.049 (`benchmarks/calibration_maps.py`, RESULTS).
- **Length sensitivity**: Spearman correlation of score with response length in words (per objective),
  accuracy on length-matched pairs (lengths within 10%), and how often the model prefers the longer
  response against how often the labels do.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tether.records import PreferencePair
from tether.report.figures import png_base64, pyplot

SLICE_KEYS = ("task_type", "domain", "language", "source")
MATCHED_TOLERANCE = 0.10


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # stable for large |x|


def targets(pairs: Sequence[PreferencePair]) -> np.ndarray:
    """Probability that `chosen` wins per pair: p_chosen, else 1."""
    return np.array([p.p_chosen if p.p_chosen is not None else 1.0 for p in pairs], dtype=float)


def fit_temperature(margins: np.ndarray, target: np.ndarray | None = None) -> float:
    """Temperature minimising the NLL of `target` (default 1: chosen wins) under sigmoid(margin / T)."""
    margins = np.asarray(margins, dtype=float)
    if margins.size == 0:
        raise ValueError("fit_temperature needs at least one non-tie pair")
    y = np.ones_like(margins) if target is None else np.asarray(target, dtype=float)

    def nll(log_t: float) -> float:
        z = margins / np.exp(log_t)
        return float(-(y * -np.logaddexp(0, -z) + (1 - y) * -np.logaddexp(0, z)).mean())

    from scipy.optimize import minimize_scalar  # imported on use: `tether.collect` imports this module at start-up

    res = minimize_scalar(nll, bounds=(np.log(1e-2), np.log(1e3)), method="bounded")
    return float(np.exp(res.x))


CALIBRATIONS = ("isotonic", "temperature")


@dataclass(frozen=True)
class IsotonicMap:
    """P(the side the margin favours wins) as a non-decreasing, piecewise-linear function of |margin| (knots from
    isotonic regression, at least 0.5); ``__call__`` gives the probability that `chosen` wins."""

    knots: tuple[float, ...]
    values: tuple[float, ...]

    @classmethod
    def fit(cls, margins: np.ndarray) -> IsotonicMap:
        """Fit on margins of pairs oriented as labelled (chosen first): a positive margin is a right call, a zero
        margin half of one."""
        from scipy.optimize import isotonic_regression  # on use, as elsewhere here: scipy costs every command start-up

        m = np.asarray(margins, dtype=float)
        if m.size == 0:
            raise ValueError("IsotonicMap.fit needs at least one non-tie pair")
        order = np.argsort(np.abs(m), kind="stable")
        right = np.where(m > 0, 1.0, np.where(m < 0, 0.0, 0.5))[order]
        values = np.clip(isotonic_regression(right, increasing=True).x, 0.5, 1.0)
        return cls(tuple(np.abs(m)[order].tolist()), tuple(values.tolist()))

    def __call__(self, margins: np.ndarray) -> np.ndarray:
        m = np.asarray(margins, dtype=float)
        conf = np.interp(np.abs(m), self.knots, self.values)
        return np.where(m > 0, conf, np.where(m < 0, 1.0 - conf, 0.5))


def calibration_bins(prob_chosen: np.ndarray, n_bins: int = 10) -> dict[str, list[float]]:
    """A reliability diagram's bins: mean confidence, accuracy and count per bin (confidence = max(q, 1 - q) in
    [0.5, 1])."""
    q = np.asarray(prob_chosen, dtype=float)
    conf = np.maximum(q, 1 - q)
    correct = np.where(q > 0.5, 1.0, np.where(q < 0.5, 0.0, 0.5))  # 0.5 names no side: half right (module doc)
    edges = np.linspace(0.5, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    out: dict[str, list[float]] = {"confidence": [], "accuracy": [], "count": [], "lo": [], "hi": []}
    for b in range(n_bins):
        sel = idx == b
        out["lo"].append(float(edges[b]))
        out["hi"].append(float(edges[b + 1]))
        out["count"].append(float(sel.sum()))
        out["confidence"].append(float(conf[sel].mean()) if sel.any() else float("nan"))
        out["accuracy"].append(float(correct[sel].mean()) if sel.any() else float("nan"))
    return out


def expected_calibration_error(prob_chosen: np.ndarray, n_bins: int = 10) -> float:
    """Bin-size-weighted mean |accuracy - confidence| (see `calibration_bins`)."""
    r = calibration_bins(prob_chosen, n_bins)
    n = sum(r["count"])
    if n == 0:
        raise ValueError("expected_calibration_error needs at least one prediction")
    return float(sum(c * abs(a - f) for c, a, f in zip(r["count"], r["accuracy"], r["confidence"], strict=True)
                     if c) / n)


def words(text: str) -> int:
    return len(text.split())


def slice_values(pair: PreferencePair) -> dict[str, str]:
    """Slice labels of a pair read from its provenance (and extra keys): task type, domain, language, source."""
    meta = {**pair.extras, **pair.provenance}
    return {k: str(meta[k]) for k in SLICE_KEYS if meta.get(k) is not None}


def length_buckets(pairs: Sequence[PreferencePair]) -> list[str]:
    """short / medium / long by tertiles of the pair's mean response length in words."""
    lens = np.array([(words(p.chosen) + words(p.rejected)) / 2 for p in pairs])
    if lens.size == 0:
        return []
    lo, hi = np.quantile(lens, [1 / 3, 2 / 3])
    return ["short" if x <= lo else "medium" if x <= hi else "long" for x in lens]


@dataclass
class EvalResult:
    """Everything the gate and the report read."""

    n_pairs: int
    n_ties: int
    accuracy: float
    by_slice: dict[str, dict[str, dict[str, float]]]
    temperature: float
    ece_raw: float
    ece: float                       # after the calibration map (= ece_raw without calibration pairs or T)
    calibration_bins_raw: dict[str, list[float]]   # reliability-diagram bins before calibration
    calibration_bins: dict[str, list[float]]       # ... and after
    length_correlation: dict[str, float]
    matched_accuracy: float | None
    n_matched: int
    longer_preferred_model: float
    longer_preferred_labels: float
    agreement_ceiling: float | None = None
    extras: dict[str, float] = field(default_factory=dict)
    margins: np.ndarray | None = field(default=None, repr=False)  # per pair, ties included: for paired comparisons
    calibration: str = "none"        # the map behind `ece`: isotonic, temperature or none

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "margins"}


def check_heads(model, pairs: Sequence[PreferencePair], what: str = "pairs") -> None:  # noqa: ANN001
    """Every pair's objective has a head in `model`, checked before any scoring: a ValueError naming the missing
    objectives, their pair counts and the model's heads otherwise."""
    heads = set(model.objectives)
    missing: dict[str, int] = defaultdict(int)
    for p in pairs:
        if p.objective not in heads:
            missing[p.objective] += 1
    if missing:
        named = ", ".join(f"{o!r} ({n} pairs)" for o, n in sorted(missing.items()))
        raise ValueError(f"the {what} need objective heads the model does not have: {named}; the model's heads: "
                         f"{', '.join(sorted(heads))} (evaluate on pairs of those objectives, or train a model "
                         "with --objectives for these)")


def evaluate(model, pairs: Sequence[PreferencePair], *, calibration_pairs: Sequence[PreferencePair] | None = None,  # noqa: ANN001
             temperature: float | None = None, agreement_ceiling: float | None = None,
             n_bins: int = 10, calibration: str = "isotonic") -> EvalResult:
    """Audit `model` (anything with `score(prompts, responses)`) on held-out `pairs`.

    Calibration map (module doc): a given `temperature`; else, with `calibration_pairs`, the `calibration` map
    fitted on them (their temperature fitted and reported either way); else none (T = 1)."""
    from tether.reward.model import pair_margins

    pairs = list(pairs)
    if not pairs:
        raise ValueError("evaluate needs at least one pair")
    check_heads(model, pairs)
    if calibration_pairs:
        check_heads(model, calibration_pairs, what="calibration pairs")
    scores = _score_pairs(model, pairs)  # each response scored once, for margins and the length audit
    margins = np.array([scores[p.objective][i] - scores[p.objective][len(pairs) + i] for i, p in enumerate(pairs)])
    ties = np.array([p.tie for p in pairs])
    keep = ~ties
    if not keep.any():
        raise ValueError("every evaluation pair is a tie; accuracy is undefined")
    if calibration not in CALIBRATIONS:
        raise ValueError(f"calibration must be one of {', '.join(CALIBRATIONS)}, not {calibration!r}")
    m = margins[keep]
    method, calibrated = "none", _sigmoid(m)
    cal = [p for p in calibration_pairs or () if not p.tie]
    if temperature is not None:
        method, calibrated = "temperature", _sigmoid(m / temperature)
    elif cal:
        cal_margins = pair_margins(model, cal)
        temperature = fit_temperature(cal_margins, targets(cal))
        method = calibration
        calibrated = IsotonicMap.fit(cal_margins)(m) if calibration == "isotonic" else _sigmoid(m / temperature)
    else:
        temperature = 1.0
    kept = [p for p, k in zip(pairs, keep, strict=True) if k]
    correct = m > 0
    # slices
    by: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for p, c, b in zip(kept, correct, length_buckets(kept), strict=True):
        for k, v in slice_values(p).items():
            by[k][v].append(bool(c))
        by["length"][b].append(bool(c))
        by["objective"][p.objective].append(bool(c))
    by_slice = {k: {v: {"accuracy": float(np.mean(cs)), "n": float(len(cs))} for v, cs in vals.items()}
                for k, vals in by.items()}
    # length
    lc, lr = np.array([words(p.chosen) for p in kept]), np.array([words(p.rejected) for p in kept])
    matched = np.abs(lc - lr) <= MATCHED_TOLERANCE * np.maximum(lc, lr)
    differ = lc != lr
    model_longer = np.where(lc > lr, m > 0, m < 0)[differ]
    corr = _length_correlation(scores, pairs)
    return EvalResult(
        n_pairs=len(pairs), n_ties=int(ties.sum()), accuracy=float(correct.mean()), by_slice=by_slice,
        temperature=float(temperature),
        ece_raw=expected_calibration_error(_sigmoid(m), n_bins),
        ece=expected_calibration_error(calibrated, n_bins),
        calibration_bins_raw=calibration_bins(_sigmoid(m), n_bins),
        calibration_bins=calibration_bins(calibrated, n_bins),
        length_correlation=corr,
        matched_accuracy=float(correct[matched].mean()) if matched.any() else None, n_matched=int(matched.sum()),
        longer_preferred_model=float(model_longer.mean()) if differ.any() else float("nan"),
        longer_preferred_labels=float((lc > lr)[differ].mean()) if differ.any() else float("nan"),
        agreement_ceiling=agreement_ceiling, margins=margins, calibration=method,
    )


def _score_pairs(model, pairs: Sequence[PreferencePair]) -> dict[str, np.ndarray]:  # noqa: ANN001
    """{objective: scores of all chosen responses, then all rejected ones}; a pair without a head raises."""
    scores = model.score([p.prompt for p in pairs] * 2, [p.chosen for p in pairs] + [p.rejected for p in pairs])
    scores = getattr(scores, "scores", scores)  # an ensemble returns EnsembleScores
    for i, p in enumerate(pairs):
        if p.objective not in scores:
            raise KeyError(f"pair {i}: objective {p.objective!r} has no head; the model has {sorted(scores)}")
    return scores


def _length_correlation(scores: dict[str, np.ndarray], pairs: Sequence[PreferencePair]) -> dict[str, float]:
    """Spearman rho of score with response length, per objective, over the responses of that objective's pairs."""
    from scipy.stats import spearmanr  # on use: scipy.stats costs ~0.6 s of every command's start-up

    out = {}
    objs = np.array([p.objective for p in pairs] * 2)
    lens = np.array([words(p.chosen) for p in pairs] + [words(p.rejected) for p in pairs])
    for obj in sorted(set(objs)):
        sel = objs == obj
        out[str(obj)] = float(spearmanr(scores[obj][sel], lens[sel]).statistic) if np.ptp(lens[sel]) > 0 else 0.0
    return out


# -- HTML report --------------------------------------------------------------------------


def _plots(result: EvalResult) -> list[tuple[str, str]]:
    plt = pyplot()

    out = []
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.plot([0.5, 1], [0.5, 1], "k--", lw=1, label="perfect")
    for rel, label in ((result.calibration_bins_raw, "raw"),
                       (result.calibration_bins, _map_name(result))):
        xs = [c for c, n in zip(rel["confidence"], rel["count"], strict=True) if n]
        ys = [a for a, n in zip(rel["accuracy"], rel["count"], strict=True) if n]
        ax.plot(xs, ys, "o-", label=label)
    ax.set(xlabel="confidence", ylabel="accuracy", title="Reliability diagram", xlim=(0.5, 1), ylim=(0, 1.02))
    ax.legend()
    out.append(("Reliability diagram", png_base64(fig)))
    rows = [(f"{k}={v}", s["accuracy"], int(s["n"])) for k, vals in result.by_slice.items() for v, s in vals.items()]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(rows) + 1.2))
    ax.barh([r[0] for r in rows], [r[1] for r in rows])
    ax.axvline(result.accuracy, color="k", ls="--", lw=1, label=f"overall {result.accuracy:.3f}")
    ax.set(xlabel="accuracy", xlim=(0, 1), title="Accuracy by slice")
    ax.legend(loc="lower right")
    out.append(("Accuracy by slice", png_base64(fig)))
    return out


def _map_name(result: EvalResult) -> str:
    return f"T = {result.temperature:.2f}" if result.calibration == "temperature" else result.calibration


def write_report(result: EvalResult, path: str | Path, title: str = "Reward model audit",
                 gate=None) -> Path:  # noqa: ANN001
    """A self-contained HTML report (plots embedded as base64 PNG)."""
    path = Path(path)
    esc = html.escape
    rows = [("pairs", result.n_pairs), ("ties (left out)", result.n_ties), ("accuracy", f"{result.accuracy:.4f}"),
            ("ECE (raw)", f"{result.ece_raw:.4f}"), ("temperature", f"{result.temperature:.3f}"),
            (f"ECE (after calibration: {_map_name(result)})", f"{result.ece:.4f}"),
            ("length-matched accuracy", "n/a" if result.matched_accuracy is None else
             f"{result.matched_accuracy:.4f} (n={result.n_matched})"),
            ("prefers longer: model / labels", f"{result.longer_preferred_model:.3f} / "
                                               f"{result.longer_preferred_labels:.3f}")]
    rows += [(f"score-length Spearman ({o})", f"{v:+.3f}") for o, v in result.length_correlation.items()]
    if result.agreement_ceiling is not None:
        rows.append(("rater agreement ceiling", f"{result.agreement_ceiling:.4f}"))
    table = "".join(f"<tr><th>{esc(str(k))}</th><td>{esc(str(v))}</td></tr>" for k, v in rows)
    gate_html = ""
    if gate is not None:
        items = "".join(f"<li class={'ok' if c.passed else 'fail'}>{esc(c.describe())}</li>" for c in gate.checks)
        gate_html = f"<h2>Gate: {'PASSED' if gate.passed else 'FAILED'}</h2><ul>{items}</ul>"
    imgs = "".join(f"<h2>{esc(t)}</h2><img alt='{esc(t)}' src='data:image/png;base64,{b}'>" for t, b in _plots(result))
    path.write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font-family:sans-serif;max-width:900px;margin:2em auto}}th{{text-align:left;padding-right:2em}}
.ok{{color:#080}}.fail{{color:#b00;font-weight:bold}}</style></head><body><h1>{esc(title)}</h1>
<table>{table}</table>{gate_html}{imgs}</body></html>""")
    return path
