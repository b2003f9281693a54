"""Choose production prompts for annotation under a label budget.

Score = novelty (1 - cosine to the nearest annotated prompt) + a bonus for prompts in clusters the
annotation set under-covers + a bonus for traces with negative feedback (thumbs down or a correction)
+ a weighted reward-ensemble disagreement, min-max scaled to [0, 1] per objective over the candidates
and averaged over objectives (when the caller measured it: `tether.shift.disagreement.member_spread`)
+ a weighted low confidence of the policy: its mean token log-probability, logged with the generation as the
attribute `gen_ai.response.mean_logprob`, negated and min-max scaled over the candidates that carry it.
Selection is greedy by score, skipping near-duplicates of prompts already chosen (cosine >= threshold),
and every chosen prompt is run through the PII redactor once more (events are redacted on ingestion;
files from elsewhere may not be).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from tether.deploy.pii import Redactor
from tether.records import Event, EventType
from tether.shift.coverage import ClusterCoverage
from tether.shift.disagreement import scaled

MEAN_LOGPROB = "gen_ai.response.mean_logprob"  # generation attribute: the policy's mean token log-probability


@dataclass(frozen=True)
class Candidate:
    """A production prompt with what we know about its trace."""

    text: str
    trace_id: str | None = None
    negative_feedback: bool = False
    response: str | None = None  # the logged answer, for reward-model scoring
    mean_logprob: float | None = None  # the policy's confidence in it, when the application logged it


@dataclass
class Pick:
    """A chosen prompt, why, and its score."""

    text: str
    trace_id: str | None
    score: float
    novelty: float
    reasons: list[str] = field(default_factory=list)
    disagreement: dict[str, float] = field(default_factory=dict)  # member std per objective, when measured


def candidates_from_events(events: Iterable[Event]) -> list[Candidate]:
    """One candidate per generation; negative if the trace got a thumbs down or a correction."""
    gens: dict[str, Event] = {}
    negative: set[str] = set()
    for e in events:
        if e.type is EventType.GENERATION and e.prompt:
            gens.setdefault(e.trace_id, e)
        elif e.type is EventType.CORRECTION:
            negative.add(e.trace_id)
        elif e.type is EventType.FEEDBACK and e.name == "thumbs":
            try:
                if float(e.value) < 0:  # type: ignore[arg-type]
                    negative.add(e.trace_id)
            except (TypeError, ValueError):
                pass
    return [Candidate(g.prompt or "", t, t in negative, g.response, _mean_logprob(g)) for t, g in gens.items()]


def _mean_logprob(event: Event) -> float | None:
    value = event.attributes.get(MEAN_LOGPROB)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0 else None


def low_confidence(candidates: Sequence[Candidate]) -> np.ndarray:
    """Per candidate in [0, 1]: how unsure the policy was (lowest mean log-probability 1), 0 where not logged."""
    lp = np.array([np.nan if c.mean_logprob is None else c.mean_logprob for c in candidates], dtype=np.float64)
    out = np.zeros(len(candidates))
    known = ~np.isnan(lp)
    if known.sum() >= 2 and np.ptp(lp[known]) > 0:
        out[known] = (lp[known].max() - lp[known]) / np.ptp(lp[known])
    return out


def max_cosine(A: np.ndarray, B: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """For each row of A, the largest cosine similarity to any row of B (rows unit-normalized)."""
    if len(B) == 0:
        return np.zeros(len(A), dtype=np.float32)
    out = np.empty(len(A), dtype=np.float32)
    for i in range(0, len(A), chunk):
        out[i : i + chunk] = (A[i : i + chunk] @ B.T).max(1)
    return out


class AnnotationSampler:
    """Greedy, de-duplicated selection of `budget` production prompts; `fit` sets `picks_`."""

    def __init__(self, budget: int, novelty_weight: float = 1.0, cluster_bonus: float = 0.3,
                 negative_bonus: float = 0.3, disagreement_weight: float = 0.3, low_confidence_weight: float = 0.3,
                 dedup_threshold: float = 0.95,
                 n_clusters: int = 8, redactor: Redactor | None = None, seed: int = 0) -> None:
        self.budget = budget
        self.novelty_weight = novelty_weight
        self.cluster_bonus = cluster_bonus
        self.negative_bonus = negative_bonus
        self.disagreement_weight = disagreement_weight
        self.low_confidence_weight = low_confidence_weight
        self.dedup_threshold = dedup_threshold
        self.n_clusters = n_clusters
        self.redactor = redactor
        self.seed = seed

    def fit(self, annotation: np.ndarray, production: np.ndarray, candidates: Sequence[Candidate],
            disagreement: Mapping[str, np.ndarray] | None = None) -> AnnotationSampler:
        """Score every candidate and pick up to `budget` of them; `disagreement`: {objective: member std per
        candidate} of a reward ensemble."""
        if len(candidates) != len(production):
            raise ValueError(f"{len(candidates)} candidates for {len(production)} embeddings")
        if self.budget < 0:
            raise ValueError("budget must be >= 0")
        for o, v in (disagreement or {}).items():
            if len(v) != len(candidates):
                raise ValueError(f"disagreement for objective {o!r} has {len(v)} values for {len(candidates)} "
                                 "candidates")
        novelty = 1.0 - max_cosine(production, annotation)
        under = np.zeros(len(candidates), dtype=bool)
        if len(annotation) and len(production) >= 2:
            cov = ClusterCoverage(n_clusters=self.n_clusters, seed=self.seed).fit(
                annotation, production, [c.text for c in candidates])
            gap = {r.cluster for r in cov.under_covered_}
            under = np.isin(cov.labels_production_, list(gap))
        negative = np.array([c.negative_feedback for c in candidates], dtype=bool)
        spread = scaled(disagreement) if disagreement else np.zeros(len(candidates))
        unsure = low_confidence(candidates)
        score = (self.novelty_weight * novelty + self.cluster_bonus * under + self.negative_bonus * negative
                 + self.disagreement_weight * spread + self.low_confidence_weight * unsure)
        self.scores_ = score
        picks: list[Pick] = []
        chosen: list[int] = []
        for i in np.argsort(-score, kind="stable"):
            if len(picks) >= self.budget:
                break
            if chosen and float((production[chosen] @ production[i]).max()) >= self.dedup_threshold:
                continue  # a near-duplicate of one already chosen: the label budget buys nothing new
            text = candidates[i].text
            reasons = [f"novelty {novelty[i]:.2f}"]
            if under[i]:
                reasons.append("under-covered cluster")
            if negative[i]:
                reasons.append("negative feedback")
            if disagreement:
                reasons.append(f"reward disagreement {spread[i]:.2f}")
            if unsure[i] > 0:
                reasons.append(f"low confidence {unsure[i]:.2f}")
            if self.redactor is not None and self.redactor.find(text):
                text = self.redactor.redact(text)
                reasons.append("PII redacted")
            chosen.append(int(i))
            picks.append(Pick(text, candidates[i].trace_id, float(score[i]), float(novelty[i]), reasons,
                              {o: float(v[i]) for o, v in (disagreement or {}).items()}))
        self.picks_ = picks
        return self
