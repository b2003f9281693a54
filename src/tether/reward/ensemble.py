"""Reward ensembles: k members (different seeds or bootstrap resamples); disagreement comes with every score.

Members are compared on a common footing: each member's scores are shifted by its training mean
(from its contract), because Bradley–Terry fixes differences, not levels. Logit scale is kept, so
the spread across members is in the same units as the scores.

Aggregation: `mean`, `min` (pessimistic), `mean_std` = mean - lam * std, or `mean_var` = mean - lam * variance
(uncertainty-penalized, the conservative reward for policy optimization).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from tether.records import PreferencePair

Aggregation = Literal["mean", "min", "mean_std", "mean_var"]
AGGREGATIONS = ("mean", "min", "mean_std", "mean_var")
ENSEMBLE_FILE = "reward_ensemble.json"


@dataclass
class EnsembleScores:
    """Aggregated scores, member spread (std) and the raw member scores, each per objective."""

    scores: dict[str, np.ndarray]
    disagreement: dict[str, np.ndarray]
    members: dict[str, np.ndarray]  # [k, n]


def aggregate(members: np.ndarray, how: Aggregation = "mean", lam: float = 1.0) -> np.ndarray:
    """Combine ``[k, n]`` member scores into n: mean, min (worst case), mean - lam * std, or mean - lam * var."""
    if how == "mean":
        return members.mean(0)
    if how == "min":
        return members.min(0)
    if how == "mean_std":
        return members.mean(0) - lam * members.std(0)
    if how == "mean_var":
        return members.mean(0) - lam * members.var(0)
    raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}, got {how!r}")


class RewardEnsemble:
    """k reward models scored together: `score(prompts, responses)` -> EnsembleScores."""

    def __init__(self, members: list, aggregation: Aggregation = "mean", lam: float = 1.0) -> None:  # noqa: ANN001
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}")
        objs = [m.objectives for m in members]
        if any(o != objs[0] for o in objs):
            raise ValueError(f"ensemble members have different objectives: {objs}")
        aggregate(np.zeros((2, 1)), aggregation, lam)  # validates the choice early
        self.members, self.aggregation, self.lam = members, aggregation, lam

    @property
    def objectives(self) -> list[str]:
        return self.members[0].objectives

    @classmethod
    def load(cls, path: str | Path, aggregation: Aggregation | None = None, lam: float | None = None
             ) -> RewardEnsemble:
        """Load a folder written by `train_ensemble`."""
        from tether.reward.model import RewardModel

        path = Path(path)
        meta_path = path / ENSEMBLE_FILE
        if not meta_path.is_file():
            raise FileNotFoundError(f"{path}: not a reward ensemble (no {ENSEMBLE_FILE})")
        meta = json.loads(meta_path.read_text())
        members = [RewardModel.load(path / m) for m in meta["members"]]
        return cls(members, aggregation or meta["aggregation"], meta["lam"] if lam is None else lam)

    def member_scores(self, prompts: Sequence[str], responses: Sequence[str]) -> dict[str, np.ndarray]:
        """{objective: [k, n]} member scores, each shifted by its training mean."""
        per = [m.score(prompts, responses) for m in self.members]
        return {o: np.stack([s[o] - m.contract(o).normalization.get("mean", 0.0)
                             for s, m in zip(per, self.members, strict=True)]) for o in self.objectives}

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> EnsembleScores:
        ms = self.member_scores(prompts, responses)
        return EnsembleScores(
            scores={o: aggregate(v, self.aggregation, self.lam) for o, v in ms.items()},
            disagreement={o: v.std(0) for o, v in ms.items()},
            members=ms,
        )


def train_ensemble(pairs: Sequence[PreferencePair], out_dir: str | Path, config=None, *, k: int = 3,  # noqa: ANN001
                   bootstrap: bool = True, aggregation: Aggregation = "mean", lam: float = 1.0,
                   progress: bool = True, **train_kw: object) -> RewardEnsemble:
    """Train k members (seeds config.seed + i; bootstrap resamples if `bootstrap`) into `out_dir/member-i`."""
    from tether.reward.model import RewardModel
    from tether.reward.train import TrainConfig, train

    base = config or TrainConfig()
    out = Path(out_dir)
    names = []
    for i in range(k):
        cfg = replace(base, seed=base.seed + i, bootstrap=bootstrap, name=f"{base.name}-m{i}")
        train(pairs, out / f"member-{i}", cfg, progress=progress, **train_kw)
        names.append(f"member-{i}")
    (out / ENSEMBLE_FILE).write_text(json.dumps(
        {"members": names, "aggregation": aggregation, "lam": lam, "bootstrap": bootstrap}, indent=2))
    return RewardEnsemble([RewardModel.load(out / n) for n in names], aggregation, lam)


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r; nan when either side is constant (e.g. a collapsed policy that gives one answer everywhere)."""
    if x.size < 2 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def disagreement_diagnostics(members: np.ndarray, truth: np.ndarray, lam: float = 1.0, *,
                             truth_ref: tuple[float, float] | None = None, std_ref: float | None = None,
                             overrated: float = 1.0) -> dict[str, float]:
    """Does the members' spread mark the answers the ensemble overrates? The premise of mean - lam * std (Coste et
    al. 2023) is that members disagree where the reward is wrong; this measures it against a truth score.

    `members` [k, n] are the members' scores in z units (each z-scored on its training answers); `truth` [n] is put
    on the same footing as z-scores by `truth_ref` = (mean, sd) of the truth on a reference set (e.g. the start
    policy's answers; default: these answers). An answer's error is the members' mean minus the truth's z (> 0:
    overrated). Returned, over the n answers:

    - `member_std`: the mean spread (std over members), the penalty is lam times it;
    - `error` / `error_after_penalty`: the mean error of the members' mean and of mean - lam * std;
    - `penalty_share_of_error`: lam * mean spread / mean error (1: the penalty cancels the overrating on average);
    - `corr_std_error`, `corr_std_abs_error`: does the spread rise with the (absolute) error across answers;
    - `member_error_corr`: mean pairwise correlation of the members' errors (1: they are wrong together);
    - `shared_error_share`: variance of the mean error over the mean of the members' error variances (1: averaging
      members removes none of the error);
    - `overrated_share`: share of answers with error > `overrated`; `overrated_low_std_share`: of those, the share
      whose spread is below `std_ref` (e.g. the reference set's median spread; default this set's median): the
      answers the members agree on and all overrate."""
    m = np.asarray(members, dtype=np.float64)
    t = np.asarray(truth, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] < 2 or m.shape[1] != t.shape[0]:
        raise ValueError(f"members must be [k >= 2, n] and truth [n]; got {m.shape} and {t.shape}")
    mu, sd = truth_ref if truth_ref is not None else (float(t.mean()), float(t.std()))
    tz = (t - mu) / (sd or 1.0)
    std = m.std(0)
    err_each = m - tz
    err = m.mean(0) - tz
    k = m.shape[0]
    pair_r = [_corr(err_each[i], err_each[j]) for i in range(k) for j in range(i + 1, k)]
    pair_r = [r for r in pair_r if r == r]
    cut = float(np.median(std)) if std_ref is None else std_ref
    over = err > overrated
    mean_err = float(err.mean())
    each_var = float(err_each.var(1).mean())
    return {"answers": int(t.size), "member_std": float(std.mean()), "error": mean_err,
            "error_after_penalty": float((err - lam * std).mean()),
            "penalty_share_of_error": float(lam * std.mean() / mean_err) if mean_err > 0 else float("nan"),
            "corr_std_error": _corr(std, err), "corr_std_abs_error": _corr(std, np.abs(err)),
            "member_error_corr": float(np.mean(pair_r)) if pair_r else float("nan"),
            "shared_error_share": float(err.var() / each_var) if each_var > 0 else float("nan"),
            "corr_mean_truth": _corr(m.mean(0), tz),
            "overrated_share": float(over.mean()),
            "overrated_low_std_share": float((std[over] < cut).mean()) if over.any() else float("nan"),
            "std_cut": cut}
