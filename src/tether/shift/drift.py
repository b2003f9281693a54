"""Drift between an annotation set and a production window: two-sample tests, cluster and language coverage,
and (given a reward ensemble) where the reward models disagree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tether.shift.coverage import ClusterCoverage, ClusterRow
from tether.shift.data import PromptRecord
from tether.shift.disagreement import Ensemble, ObjectiveDisagreement, compare, member_spread
from tether.shift.embed import Encoder
from tether.shift.language import language_coverage, languages
from tether.shift.twosample import ClassifierTest, MMDTest


@dataclass
class DriftResult:
    """Everything the drift report shows."""

    n_annotation: int
    n_production: int
    alpha: float
    mmd: float
    mmd_pvalue: float
    mmd_null: np.ndarray
    c2st_auc: float
    c2st_pvalue: float
    clusters: list[ClusterRow]
    under_covered: list[ClusterRow]
    languages: list[dict[str, Any]]
    projection_annotation: np.ndarray
    projection_production: np.ndarray
    notes: list[str] = field(default_factory=list)
    disagreement: list[ObjectiveDisagreement] = field(default_factory=list)  # per objective; empty: no ensemble

    @property
    def drift(self) -> bool:
        """Either test rejects at alpha / 2 (Bonferroni over the two tests)."""
        return min(self.mmd_pvalue, self.c2st_pvalue) < self.alpha / 2

    def summary(self) -> dict[str, Any]:
        """The headline numbers as plain JSON types."""
        return {
            "n_annotation": self.n_annotation, "n_production": self.n_production, "alpha": self.alpha,
            "drift": self.drift, "mmd": self.mmd, "mmd_pvalue": self.mmd_pvalue, "c2st_auc": self.c2st_auc,
            "c2st_pvalue": self.c2st_pvalue,
            "under_covered": [{"cluster": r.cluster, "annotation_share": r.annotation_share,
                               "production_share": r.production_share, "examples": r.examples}
                              for r in self.under_covered],
            "languages": self.languages,
            "disagreement": {d.objective: d.summary() for d in self.disagreement} or None,
            "notes": self.notes,
        }


def _pca2(A: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first two principal components, from the smaller of the covariance and Gram matrices: a full SVD of
    wide embeddings (hashed n-grams, thousands of dimensions) cost seconds for a plot."""
    Z = np.concatenate([A, P]).astype(np.float64)
    Z -= Z.mean(0)
    from scipy.linalg import eigh

    wide = Z.shape[1] > Z.shape[0]
    M = Z @ Z.T if wide else Z.T @ Z
    top = [max(len(M) - 2, 0), len(M) - 1]
    vals, vecs = eigh(M, subset_by_index=top)
    vals, vecs = vals[::-1], vecs[:, ::-1]
    proj = vecs * np.sqrt(np.clip(vals, 0.0, None)) if wide else Z @ vecs
    return proj[: len(A)], proj[len(A) :]


def detect_drift(annotation: Sequence[PromptRecord], production: Sequence[PromptRecord], *,
                 encoder: Encoder | None = None, alpha: float = 0.05, n_clusters: int = 8,
                 n_permutations: int = 200, seed: int = 0,
                 embeddings: tuple[np.ndarray, np.ndarray] | None = None, ensemble: Ensemble | None = None,
                 n_top: int = 10) -> DriftResult:
    """Embed both sets (or use the given embeddings), test for a difference, and map the coverage gaps; with a
    reward `ensemble`, also compare its member spread on both sets (overall, per cluster, `n_top` examples)."""
    if len(annotation) < 2 or len(production) < 2:
        raise ValueError(f"need at least 2 prompts on each side, got {len(annotation)} and {len(production)}")
    if embeddings is None:
        enc = encoder or Encoder()
        A = enc.encode([r.text for r in annotation])
        P = enc.encode([r.text for r in production])
    else:
        A, P = embeddings
    mmd = MMDTest(n_permutations=n_permutations, seed=seed).fit(A, P)
    c2st = ClassifierTest(seed=seed).fit(A, P)
    cov = ClusterCoverage(n_clusters=n_clusters, seed=seed).fit(A, P, [r.text for r in production])
    la = languages([r.text for r in annotation], [r.lang for r in annotation])
    lp = languages([r.text for r in production], [r.lang for r in production])
    pa, pp = _pca2(A, P)
    result = DriftResult(len(A), len(P), alpha, mmd.statistic_, mmd.pvalue_, mmd.null_, c2st.auc_, c2st.pvalue_,
                         cov.rows_, cov.under_covered_, language_coverage(la, lp), pa, pp)
    if ensemble is not None:
        texts = [r.text for r in production]
        responses = [r.response for r in production]
        result.disagreement = compare(
            member_spread(ensemble, [r.text for r in annotation], [r.response for r in annotation]),
            member_spread(ensemble, texts, responses), cov.labels_annotation_, cov.labels_production_, texts,
            responses, n_top)
        result.notes.append(_response_note(annotation, production))
    return result


def _response_note(annotation: Sequence[PromptRecord], production: Sequence[PromptRecord]) -> str:
    """How many prompts the ensemble scored with a logged response (the rest with an empty one)."""
    sa = sum(r.response is not None for r in annotation) / len(annotation)
    sp = sum(r.response is not None for r in production) / len(production)
    note = (f"Reward ensemble scored {100 * sp:.0f}% of production and {100 * sa:.0f}% of annotation prompts with "
            "their logged response, the rest with an empty response.")
    if abs(sa - sp) > 0.1:  # spread on (prompt, answer) and on (prompt, '') are not the same quantity
        note += " The two sides differ, so compare disagreement within production (clusters, examples) first."
    return note
