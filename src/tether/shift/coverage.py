"""Which production regions (k-means clusters of prompt embeddings) the annotation set under-covers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class ClusterRow:
    """One cluster: sizes in each set, shares, and production prompts nearest its centre."""

    cluster: int
    annotation: int
    production: int
    annotation_share: float
    production_share: float
    examples: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """Production share over annotation share (inf when annotation has none)."""
        return self.production_share / self.annotation_share if self.annotation_share else float("inf")


class ClusterCoverage:
    """k-means on pooled embeddings; `fit` sets `rows_` and `under_covered_` (clusters production needs more of)."""

    def __init__(self, n_clusters: int = 8, min_ratio: float = 2.0, min_production_share: float = 0.02,
                 n_examples: int = 3, max_fit_points: int = 20_000, seed: int = 0) -> None:
        self.n_clusters = n_clusters
        self.min_ratio = min_ratio
        self.min_production_share = min_production_share
        self.n_examples = n_examples
        self.max_fit_points = max_fit_points
        self.seed = seed

    def fit(self, annotation: np.ndarray, production: np.ndarray, production_texts: Sequence[str]) -> ClusterCoverage:
        """Cluster, count per set, and pick examples for each cluster."""
        from sklearn.cluster import KMeans

        if len(production_texts) != len(production):
            raise ValueError(f"{len(production_texts)} production texts for {len(production)} embeddings")
        pooled = np.concatenate([annotation, production])
        k = min(self.n_clusters, len(pooled))
        rng = np.random.default_rng(self.seed)
        fit_idx = rng.choice(len(pooled), size=min(len(pooled), self.max_fit_points), replace=False)
        km = KMeans(n_clusters=k, n_init=3, random_state=self.seed).fit(pooled[fit_idx])
        self.centers_ = km.cluster_centers_
        la, lp = km.predict(annotation), km.predict(production)
        na, np_ = max(1, len(annotation)), max(1, len(production))
        dist = np.linalg.norm(production - self.centers_[lp], axis=1)
        rows = []
        for c in range(k):
            members = np.flatnonzero(lp == c)
            nearest = members[np.argsort(dist[members])[: self.n_examples]]
            rows.append(ClusterRow(c, int((la == c).sum()), int(len(members)), float((la == c).sum() / na),
                                   float(len(members) / np_), [production_texts[i] for i in nearest]))
        self.labels_annotation_, self.labels_production_ = la, lp
        self.rows_ = sorted(rows, key=lambda r: -r.production_share)
        self.under_covered_ = sorted(
            (r for r in rows if r.production_share >= self.min_production_share and r.ratio >= self.min_ratio),
            key=lambda r: -(r.production_share - r.annotation_share))
        return self
