"""Rater reliability where it is earned: Dawid–Skene with one confusion per (rater, slice), shrunk.

A rater who cannot read Spanish guesses on Spanish items and is careful elsewhere; one confusion
matrix per rater averages the two and lets the guesser outvote a reader on exactly the items where
they guess. Here every judgment is explained by the confusion of its rater *in the item's slice*
(the task type by default), with a three-level hierarchy of Dirichlet priors so slices with few
judgments borrow strength:

    pooled confusion (all raters)  -> rater's confusion   (prior strength `rater_strength`)
    rater's confusion              -> rater x slice       (prior strength `slice_strength`)
    pooled class prior             -> slice's class prior (prior strength `slice_strength`)

Canonical order a/b is arbitrary (campaigns draw it at random), so every confusion is kept symmetric
under swapping a and b: per (rater, slice) it says how often the rater gives the true side, the other
side, or a tie, and how they label true ties. The data decides: a slice confusion moves away from the
rater's overall one only as far as that rater's judgments in that slice say.

The fit is EM from vote fractions (gold items clamped to their class, as in `DawidSkene`). The result
gives each item's posterior over a / b / tie, so a pair's label and weight can come from how much of the
evidence of *its* raters, weighted by their reliability *there*, points one way: with full overlap
(every rater rates every item) the weight still moves with the item's agreement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from tether.audit.labels import N_CLASSES, TIE, A, B, Example, LabelTable
from tether.audit.reliability import gold_codes

_SWAP = np.array([B, A, TIE])  # the a/b swap of a label code


@dataclass
class SliceReliability:
    """Posteriors and reliabilities of a slice-conditional Dawid–Skene fit on one LabelTable."""

    posteriors: np.ndarray  # (n_items, 3) over a / b / tie
    slice_names: list[str]
    item_slice: np.ndarray  # (n_items,) index into slice_names
    confusions: np.ndarray  # (n_raters, n_slices, 3, 3): rows = true class, columns = given label
    rater_confusions: np.ndarray  # (n_raters, 3, 3)
    judgments: np.ndarray  # (n_raters, n_slices) judgments behind each slice confusion
    n_iter: int

    def accuracy(self) -> np.ndarray:
        """(n_raters, n_slices): chance of giving the true side of a decisive pair (ties count as wrong)."""
        return self.confusions[:, :, A, A]

    def rater_accuracy(self) -> np.ndarray:
        return self.rater_confusions[:, A, A]

    def judgment_reliability(self, table: LabelTable) -> np.ndarray:
        """Per judgment: its rater's chance-corrected accuracy in the item's slice, 2 acc - 1 clipped to [0, 1]."""
        acc = self.accuracy()[table.rater, self.item_slice[table.item]]
        return np.clip(2 * acc - 1, 0.0, 1.0)


def by_task_type(example: Example) -> str:
    return example.task_type


def fit_slice_dawid_skene(table: LabelTable, *, slice_of: Callable[[Example], str] = by_task_type,
                          gold: Mapping[str, str] | None = None, slice_strength: float = 4.0,
                          rater_strength: float = 10.0, n_iter: int = 50, tol: float = 1e-6) -> SliceReliability:
    """Fit the slice-conditional model on `table` (one objective); slices from `slice_of(example)`."""
    if slice_strength <= 0 or rater_strength <= 0:
        raise ValueError(f"slice_strength and rater_strength must be > 0, got {slice_strength}, {rater_strength}")
    if int(n_iter) != n_iter or n_iter < 1:
        raise ValueError(f"n_iter: expected a positive integer, got {n_iter!r}")
    names = sorted({slice_of(e) for e in table.examples})
    code = {s: i for i, s in enumerate(names)}
    item_slice = np.array([code[slice_of(e)] for e in table.examples], dtype=np.int64)
    n_i, n_r, n_s = table.n_items, table.n_raters, len(names)
    labels = table.label.astype(np.int64)
    j_slice = item_slice[table.item] if n_i else np.zeros(0, dtype=np.int64)
    gold_items = gold_codes(table, gold)
    judged = np.bincount(table.rater * n_s + j_slice, minlength=n_r * n_s).reshape(n_r, n_s)

    post = np.zeros((n_i, N_CLASSES))
    np.add.at(post, (table.item, labels), 1.0)
    post = _clamp(_normalise(post + 1e-9), gold_items)
    conf = rater_conf = np.zeros((n_r, n_s, N_CLASSES, N_CLASSES))
    done = 0
    for _ in range(int(n_iter)):
        done += 1
        conf, rater_conf, prior = _m_step(post, table, labels, j_slice, item_slice, n_r, n_s,
                                          slice_strength, rater_strength)
        log_lik = np.log(prior[item_slice])
        np.add.at(log_lik, table.item, np.log(conf[table.rater, j_slice, :, labels]))
        log_lik -= log_lik.max(axis=1, keepdims=True)
        new = _clamp(_normalise(np.exp(log_lik)), gold_items)
        change = float(np.abs(new - post).max()) if n_i else 0.0
        post = new
        if change < tol:
            break
    return SliceReliability(post, names, item_slice, conf, rater_conf, judged, done)


def _m_step(post: np.ndarray, table: LabelTable, labels: np.ndarray, j_slice: np.ndarray, item_slice: np.ndarray,
            n_r: int, n_s: int, slice_strength: float, rater_strength: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Symmetric confusions per (rater, slice) and per rater, class priors per slice, from soft counts."""
    counts = np.zeros((n_r, n_s, N_CLASSES, N_CLASSES))
    t = post[table.item]  # (n_judgments, 3): responsibility of each true class
    for k in range(N_CLASSES):
        np.add.at(counts, (table.rater, j_slice, k, labels), t[:, k])
    counts = (counts + counts[:, :, _SWAP][:, :, :, _SWAP]) / 2  # a/b symmetry
    rater_counts = counts.sum(axis=1)
    pooled = _normalise(rater_counts.sum(axis=0) + 1.0)
    rater_conf = _normalise(rater_counts + rater_strength * pooled)
    conf = _normalise(counts + slice_strength * rater_conf[:, None])
    class_counts = np.zeros((n_s, N_CLASSES))
    np.add.at(class_counts, item_slice, post)
    class_counts = (class_counts + class_counts[:, _SWAP]) / 2
    overall = _normalise(class_counts.sum(axis=0) + 1.0)
    prior = _normalise(class_counts + slice_strength * overall)
    return conf, rater_conf, prior


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(x.sum(axis=-1, keepdims=True), 1e-300)


def _clamp(post: np.ndarray, gold: dict[int, int]) -> np.ndarray:
    for i, k in gold.items():
        post[i] = 0.0
        post[i, k] = 1.0
    return post


TEMPERATURES = np.exp(np.linspace(np.log(0.25), np.log(20.0), 161))


def decisive_log_odds(sr: SliceReliability, table: LabelTable) -> tuple[np.ndarray, np.ndarray]:
    """(per item log P(a)/P(b) under the fit, per judgment its own term of that sum)."""
    conf = sr.confusions[table.rater, sr.item_slice[table.item]]  # (n_judgments, 3, 3)
    labels = table.label.astype(np.int64)
    rows = np.arange(labels.size)
    term = np.log(conf[rows, A, labels]) - np.log(conf[rows, B, labels])
    post = np.clip(sr.posteriors, 1e-300, None)
    return np.log(post[:, A]) - np.log(post[:, B]), term


def held_out_temperature(sr: SliceReliability, table: LabelTable, gold: Mapping[str, str] | None = None,
                         min_gold: int = 20) -> tuple[float, str, int]:
    """The temperature T that makes sigmoid(log-odds / T) mean what it says: (T, how it was fitted, n).

    With `min_gold` or more decisive gold items, T minimises the log loss of the gold side under the
    posteriors of `sr`, which must be a fit that did not see those gold labels (a fit with gold clamped
    bends the confusions of thinly judged slices toward the gold items and looks right on them in-sample).
    Otherwise each judgment on an item that others judged too is predicted from the other judgments
    alone (its own term taken out of the log-odds), through its rater's slice confusion, and T
    maximises the likelihood of those held-out judgments over T >= 1: a posterior that is too sure
    predicts the next rater's vote too confidently. Held-out votes cannot see errors every rater
    shares (they agree on them), so without gold T is a lower bound on the softening needed.
    """
    log_odds, term = decisive_log_odds(sr, table)
    g = {i: k for i, k in gold_codes(table, gold).items() if k != TIE}
    if len(g) >= min_gold:
        items = np.fromiter(g, dtype=np.int64)
        y = np.array([g[i] == A for i in items])
        losses = [_log_loss(y, log_odds[items] / t) for t in TEMPERATURES]
        return float(TEMPERATURES[int(np.argmin(losses))]), "gold", int(items.size)
    per_item = np.bincount(table.item, minlength=table.n_items)
    use = per_item[table.item] >= 2
    if not use.any():
        return 1.0, "none (no item judged twice)", 0
    conf = sr.confusions[table.rater[use], sr.item_slice[table.item[use]]]
    labels = table.label.astype(np.int64)[use]
    rows = np.arange(labels.size)
    like_a, like_b = conf[rows, A, labels], conf[rows, B, labels]
    rest = log_odds[table.item[use]] - term[use]
    best, best_ll = 1.0, -np.inf
    # T < 1 would sharpen: raters who share a bias agree with each other beyond what the truth explains,
    # so held-out votes reward over-confidence; without gold only softening is trusted
    for t in TEMPERATURES[TEMPERATURES >= 1.0]:
        p = 1 / (1 + np.exp(-rest / t))
        ll = float(np.log(p * like_a + (1 - p) * like_b + 1e-300).sum())
        if ll > best_ll:
            best, best_ll = float(t), ll
    return best, "held-out judgments", int(use.sum())


def calibrated_posteriors(sr: SliceReliability, table: LabelTable, temperature: float) -> np.ndarray:
    """(n_items, 3): the fit's tie probability kept, P(a) : P(b) from sigmoid(log-odds / temperature)."""
    log_odds, _ = decisive_log_odds(sr, table)
    p_a = 1 / (1 + np.exp(-log_odds / temperature))
    decisive = 1 - sr.posteriors[:, TIE]
    return np.column_stack([decisive * p_a, decisive * (1 - p_a), sr.posteriors[:, TIE]])


def _log_loss(y: np.ndarray, z: np.ndarray) -> float:
    return float(np.mean(np.logaddexp(0, np.where(y, -z, z))))


@dataclass
class SliceLabels:
    """What curation reads from slice-conditional fits, one per objective, in full-table item codes."""

    label_proba: np.ndarray  # (n_items, 3) position-free Bradley–Terry weighted by slice reliability
    posteriors: np.ndarray  # (n_items, 3) slice Dawid–Skene, calibrated (see `held_out_temperature`)
    judgment_reliability: np.ndarray  # (n_judgments,) the rater's reliability in the item's slice
    temperature: dict[str, tuple[float, str, int]]  # objective -> (T, fitted on, n)


def slice_labels(table: LabelTable, gold: Mapping[str, str] | None = None, **fit_options: float) -> SliceLabels:
    """Fit the slice-conditional model per objective (as the audit fits its label models) and label every item."""
    from tether.audit.position_model import fit_position_model

    objectives = np.array([e.objective for e in table.examples], dtype=object)
    per_judgment = objectives[table.item] if table.n_items else np.zeros(0, dtype=object)
    out = SliceLabels(np.zeros((table.n_items, N_CLASSES)), np.zeros((table.n_items, N_CLASSES)),
                      np.zeros(table.n_judgments), {})
    for objective in sorted(set(objectives.tolist())):
        mask = per_judgment == objective
        sub = table.subset(mask)
        parent = np.unique(table.item[mask])
        sr = fit_slice_dawid_skene(sub, gold=gold, **fit_options)
        # the temperature comes from a fit blind to the gold labels it is checked on
        blind = fit_slice_dawid_skene(sub, **fit_options) if gold_codes(sub, gold) else sr
        temperature = held_out_temperature(blind, sub, gold)
        post = calibrated_posteriors(sr, sub, temperature[0])
        weights = sr.judgment_reliability(sub)
        out.temperature[objective] = temperature
        out.posteriors[parent] = post
        out.judgment_reliability[np.flatnonzero(mask)] = weights
        out.label_proba[parent] = fit_position_model(sub, fallback=post, sample_weight=weights).proba
    return out
