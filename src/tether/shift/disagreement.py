"""Reward-ensemble disagreement on annotation and production prompts.

The members of an ensemble (different seeds, bootstrap resamples) agree where their training data was dense and
drift apart where it was thin, so their spread (std, logit units) on a (prompt, response) pair says where the
reward model is guessing. Production prompts with a wide spread are where users go and the reward model does not
know: worth labels. A prompt without a logged response is scored with an empty response.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class Ensemble(Protocol):
    """What this stage needs of a reward ensemble (`tether.reward.ensemble.RewardEnsemble`)."""

    @property
    def objectives(self) -> list[str]: ...

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> Any: ...  # EnsembleScores


def load_ensemble(path: Path) -> Ensemble:
    """The reward ensemble in a folder written by `tether reward train --ensemble K` (`train_ensemble`)."""
    from tether.reward.ensemble import ENSEMBLE_FILE, RewardEnsemble

    if not (path / ENSEMBLE_FILE).is_file() and (path / "reward_model.json").is_file():
        raise ValueError(f"{path}: a single reward model, not an ensemble; disagreement needs several members "
                         "(tether reward train --ensemble K)")
    return RewardEnsemble.load(path)


def member_spread(ensemble: Ensemble, prompts: Sequence[str], responses: Sequence[str | None]
                  ) -> dict[str, np.ndarray]:
    """Per objective, the std of the members' scores on each (prompt, response); a missing response is ''."""
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    if not prompts:
        return {o: np.zeros(0) for o in ensemble.objectives}
    res = ensemble.score(list(prompts), [r or "" for r in responses])
    return {o: np.asarray(res.disagreement[o], dtype=np.float64) for o in ensemble.objectives}


def scaled(spread: Mapping[str, np.ndarray]) -> np.ndarray:
    """One criterion in [0, 1] like the sampler's others: each objective's spread min-max scaled over the
    candidates (objectives have different units), then averaged over objectives."""
    if not spread:
        raise ValueError("no objective in the disagreement scores")
    cols = []
    for v in spread.values():
        v = np.asarray(v, dtype=np.float64)
        lo, hi = (float(v.min()), float(v.max())) if len(v) else (0.0, 0.0)
        cols.append((v - lo) / (hi - lo) if hi > lo else np.zeros_like(v))
    return np.mean(cols, axis=0)


def _mean(v: np.ndarray) -> float | None:
    return float(v.mean()) if len(v) else None


@dataclass
class ObjectiveDisagreement:
    """One objective: member spread per prompt on each side, per cluster, and the widest production examples."""

    objective: str
    annotation: np.ndarray
    production: np.ndarray
    pvalue: float  # one-sided Mann-Whitney U: production spread stochastically larger than annotation spread
    by_cluster: list[dict[str, Any]]
    top: list[dict[str, Any]]

    def summary(self) -> dict[str, Any]:
        """Means, medians, the test, per-cluster means and the top production examples as plain JSON types."""
        return {"annotation_mean": _mean(self.annotation), "annotation_median": float(np.median(self.annotation)),
                "production_mean": _mean(self.production), "production_median": float(np.median(self.production)),
                "pvalue_production_higher": self.pvalue, "by_cluster": self.by_cluster, "top": self.top}


def compare(annotation: Mapping[str, np.ndarray], production: Mapping[str, np.ndarray],
            labels_annotation: np.ndarray, labels_production: np.ndarray, production_texts: Sequence[str],
            production_responses: Sequence[str | None], n_top: int = 10) -> list[ObjectiveDisagreement]:
    """Compare member spread between the sets, overall and per cluster, for every objective."""
    from scipy.stats import mannwhitneyu

    clusters = sorted({int(c) for c in labels_annotation} | {int(c) for c in labels_production})
    out = []
    for o, p in production.items():
        a = np.asarray(annotation[o], dtype=np.float64)
        p = np.asarray(p, dtype=np.float64)
        if len(a) != len(labels_annotation) or len(p) != len(labels_production) or len(p) != len(production_texts):
            raise ValueError(f"objective {o!r}: {len(a)}/{len(p)} scores for {len(labels_annotation)}/"
                             f"{len(labels_production)} clustered prompts and {len(production_texts)} texts")
        pvalue = float(mannwhitneyu(p, a, alternative="greater").pvalue) if len(a) and len(p) else float("nan")
        by_cluster = [{"cluster": c, "n_annotation": int((labels_annotation == c).sum()),
                       "n_production": int((labels_production == c).sum()),
                       "annotation_mean": _mean(a[labels_annotation == c]),
                       "production_mean": _mean(p[labels_production == c])} for c in clusters]
        top = [{"prompt": production_texts[i], "response": production_responses[i],
                "cluster": int(labels_production[i]), "disagreement": float(p[i])}
               for i in np.argsort(-p, kind="stable")[:n_top]]
        out.append(ObjectiveDisagreement(o, a, p, pvalue, by_cluster, top))
    return out
