"""Rater reliability: Dawid–Skene, one-coin DS, MACE, gold accuracy, consensus agreement, verbosity.

`reliability` (one number per rater, 0 = no better than chance, 1 = always right) is the rater's
Dawid–Skene expected accuracy corrected for chance the way kappa is,

    reliability = (accuracy - chance) / (1 - chance),  chance = sum_l q_l * prior_l

(q = the rater's own label distribution, prior = the estimated class distribution: a rater who
labels without looking scores 0 whatever their favourite label; where one class is used throughout,
the correction is undefined and the raw accuracy is used). With gold items it is shrunk toward
the same statistic on gold, (n_gold * gold + k * ds) / (n_gold + k), k = `gold_prior_strength`.
It is clipped to [0, 1], and a rater MACE flags as a spammer (competence below the threshold) gets 0.
A rater who shares no item with any other rater and has no gold cannot be checked: they get
`unknown_reliability` (0.5) and `reliability_estimated: false`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tether.audit.labels import LABEL_NAMES, N_CLASSES, TIE, A, B, LabelTable

_CODES = {name: i for i, name in enumerate(LABEL_NAMES)}


@dataclass
class RaterStats:
    rater: str
    n_judgments: int
    reliability: float
    ds_accuracy: float
    one_coin_skill: float
    mace_competence: float
    spammer: bool
    consensus_agreement: float
    gold_n: int
    gold_accuracy: float | None
    verbosity_preference: float | None  # picked-longer rate minus what the consensus explains
    reliability_estimated: bool  # False: no overlap with other raters and no gold (reliability is the prior)
    confusion: list[list[float]]

    def as_dict(self) -> dict[str, object]:
        out = dict(self.__dict__)
        for k, v in out.items():
            if isinstance(v, float) and not np.isfinite(v):
                out[k] = None
        return out


@dataclass
class Reliability:
    """Per-rater statistics plus the consensus the label models reached, for one table."""

    raters: dict[str, RaterStats]
    posteriors: np.ndarray  # (n_items, 3) Dawid–Skene posteriors over a / b / tie
    consensus: np.ndarray  # (n_items,) argmax label
    rater_reliability: np.ndarray  # (n_raters,) in table order


def read_gold(path: Path) -> dict[str, str]:
    """Gold labels, pair_id -> 'a' | 'b' | 'tie': a JSON object, or JSONL rows {pair_id, label}."""
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")
    out: dict[str, str] = {}
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict) and not {"pair_id", "label"} <= whole.keys():
        for key, label in whole.items():
            if label not in _CODES:
                raise ValueError(f"{path}: key {key!r}: label must be 'a', 'b' or 'tie', got {label!r}")
            out[str(key)] = label
        return out
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{lineno}: not valid JSON: {exc}") from None
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{lineno}: expected a JSON object")
        for key in ("pair_id", "label"):
            if key not in row:
                raise ValueError(f"{path}:{lineno}: key {key!r}: missing required key")
        if row["label"] not in _CODES:
            raise ValueError(f"{path}:{lineno}: key 'label': must be 'a', 'b' or 'tie', got {row['label']!r}")
        out[str(row["pair_id"])] = row["label"]
    return out


def gold_codes(table: LabelTable, gold: Mapping[str, str] | None) -> dict[int, int]:
    """Gold labels as item code -> label code for the items of `table`."""
    if not gold:
        return {}
    return {i: _CODES[gold[e.pair_id]] for i, e in enumerate(table.examples) if e.pair_id in gold}


def _chance_corrected(acc: np.ndarray, label_dist: np.ndarray, prior: np.ndarray) -> np.ndarray:
    chance = label_dist @ prior
    # One class used throughout (everyone says "a"): chance agreement is certain and the correction is
    # undefined, as kappa's is; the raw accuracy is then the only evidence there is.
    degenerate = chance > 1 - 1e-9
    return np.where(degenerate, acc, np.divide(acc - chance, 1 - chance, out=np.zeros_like(acc), where=~degenerate))


def rate_raters(table: LabelTable, *, gold: Mapping[str, str] | None = None, gold_prior_strength: float = 10.0,
                spammer_competence: float = 0.2, n_iter: int = 100, unknown_reliability: float = 0.5) -> Reliability:
    """Fit the label models on one table and summarise every rater."""
    from tether.audit.models import MACE, DawidSkene, OneCoinDawidSkene

    g = gold_codes(table, gold)
    shape = {"n_items": table.n_items, "n_raters": table.n_raters, "n_classes": N_CLASSES}
    labels = table.label.astype(np.int64)
    ds = DawidSkene(n_iter=n_iter).fit(table.item, table.rater, labels, gold=g or None, **shape)
    one = OneCoinDawidSkene(n_iter=n_iter).fit(table.item, table.rater, labels, gold=g or None, **shape)
    mace = MACE().fit(table.item, table.rater, labels, gold=g or None, **shape)
    post = np.asarray(ds.posteriors_, dtype=np.float64)
    consensus = post.argmax(axis=1)
    n_r = table.n_raters
    n_j = np.bincount(table.rater, minlength=n_r).astype(np.float64)
    label_dist = np.zeros((n_r, N_CLASSES))
    np.add.at(label_dist, (table.rater, labels), 1.0)
    label_dist /= np.maximum(n_j, 1)[:, None]
    prior = np.asarray(ds.priors_, dtype=np.float64)
    acc = np.nan_to_num(np.asarray(ds.rater_accuracy_, dtype=np.float64))
    rel = _chance_corrected(acc, label_dist, prior)
    agree = np.bincount(table.rater, weights=(labels == consensus[table.item]), minlength=n_r) / np.maximum(n_j, 1)

    # gold accuracy, and shrinkage of the reliability toward it
    gold_n = np.zeros(n_r)
    gold_hits = np.zeros(n_r)
    if g:
        gi = np.array(list(g.keys()))
        gl = np.array(list(g.values()))
        truth = np.full(table.n_items, -1)
        truth[gi] = gl
        on_gold = truth[table.item] >= 0
        gold_n = np.bincount(table.rater[on_gold], minlength=n_r).astype(np.float64)
        gold_hits = np.bincount(table.rater[on_gold], weights=(labels[on_gold] == truth[table.item][on_gold]),
                                minlength=n_r)
        gold_prior = np.bincount(gl, minlength=N_CLASSES) / gl.size
        gold_acc = np.divide(gold_hits, gold_n, out=np.zeros(n_r), where=gold_n > 0)
        gold_rel = _chance_corrected(gold_acc, label_dist, gold_prior)
        rel = (gold_n * gold_rel + gold_prior_strength * rel) / (gold_n + gold_prior_strength)
    competence = np.asarray(mace.competence_, dtype=np.float64)
    # A rater who never shares an item with another rater and has no gold cannot be checked at all:
    # the label models would only echo them. Their reliability is `unknown_reliability`, flagged.
    raters_per_item = np.bincount(np.unique(table.item * n_r + table.rater) // n_r, minlength=table.n_items)
    overlap = np.bincount(table.rater, weights=raters_per_item[table.item] >= 2, minlength=n_r)
    estimated = (overlap > 0) | (gold_n > 0)
    spammer = (competence < spammer_competence) & estimated
    rel = np.clip(rel, 0.0, 1.0)
    rel[spammer] = 0.0
    rel[~estimated] = unknown_reliability

    verbosity = verbosity_preference(table, post)
    skills = np.asarray(one.skills_, dtype=np.float64)
    confusions = np.asarray(ds.confusions_, dtype=np.float64)
    raters = {}
    for r, name in enumerate(table.rater_names):
        raters[name] = RaterStats(
            rater=name,
            n_judgments=int(n_j[r]),
            reliability=float(rel[r]),
            ds_accuracy=float(acc[r]),
            one_coin_skill=float(skills[r]),
            mace_competence=float(competence[r]),
            spammer=bool(spammer[r]),
            consensus_agreement=float(agree[r]),
            gold_n=int(gold_n[r]),
            gold_accuracy=float(gold_hits[r] / gold_n[r]) if gold_n[r] else None,
            reliability_estimated=bool(estimated[r]),
            verbosity_preference=verbosity.get(r),
            confusion=confusions[r].round(6).tolist(),
        )
    return Reliability(raters, post, consensus, rel)


def verbosity_preference(table: LabelTable, posteriors: np.ndarray) -> dict[int, float]:
    """Per rater: how often they picked the longer response minus the consensus probability it wins.

    Over the rater's non-tie judgments of pairs whose responses differ in length; the consensus
    probability is the label model's P(longer) / (P(a) + P(b)) for that item. Positive = the rater
    prefers length beyond what the consensus explains.
    """
    decided = (table.label != TIE) & (table.len_a != table.len_b)
    a_longer = table.len_a > table.len_b
    picked_longer = np.where(a_longer, table.label == A, table.label == B)
    p = posteriors[table.item]
    p_ab = np.maximum(p[:, A] + p[:, B], 1e-12)
    expected = np.where(a_longer, p[:, A], p[:, B]) / p_ab
    diff = picked_longer.astype(np.float64) - expected
    out: dict[int, float] = {}
    for r in np.unique(table.rater[decided]):
        sel = decided & (table.rater == r)
        out[int(r)] = float(diff[sel].mean())
    return out
