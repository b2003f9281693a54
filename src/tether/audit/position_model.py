"""Bradley–Terry with Davidson ties and a global + per-rater position effect, on a LabelTable.

Players are responses (the same text answering the same prompt is one player wherever it appears),
so a response compared several times pools its evidence. The position terms absorb each rater's
pull toward the first-shown response; `predict_proba(a, b)` is position-free, which is what makes
its probabilities usable as soft labels.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from tether.audit.labels import LabelTable


@dataclass
class PositionModel:
    """The fitted model's position effects and position-free probabilities per item."""

    position: float  # global log-odds shift toward the first-shown response
    tie: float  # Davidson tie parameter
    rater_position: dict[str, float]  # per-rater total shift (global + rater's own)
    proba: np.ndarray  # (n_items, 3) position-free P(a wins), P(b wins), P(tie)
    position_identified: bool = True  # False: one display order throughout (or only ties): position is NaN
    tie_identified: bool = True  # False: no ties (tie 0) or only ties (tie inf)
    notes: list[str] = field(default_factory=list)  # why a parameter is not identified

    def as_dict(self) -> dict[str, object]:
        return {"position": self.position, "tie": self.tie, "by_rater": dict(self.rater_position),
                "position_identified": self.position_identified, "tie_identified": self.tie_identified,
                "notes": list(self.notes)}


def players(table: LabelTable) -> tuple[np.ndarray, np.ndarray, int]:
    """Player codes of response a and response b for every item, and the number of players."""
    index: dict[tuple[str, str], int] = {}
    pa = np.empty(table.n_items, dtype=np.int64)
    pb = np.empty(table.n_items, dtype=np.int64)
    for i, e in enumerate(table.examples):
        pa[i] = index.setdefault((e.prompt, e.response_a), len(index))
        pb[i] = index.setdefault((e.prompt, e.response_b), len(index))
    return pa, pb, len(index)


def fit_position_model(table: LabelTable, fallback: np.ndarray | None = None,
                       sample_weight: np.ndarray | None = None, *, name: str = "") -> PositionModel:
    """Fit Bradley–Terry (Davidson ties, per-rater position) and read off what the audit needs.

    Items whose two responses are the same text cannot be a contest; they keep `fallback` (or
    uniform) probabilities. `sample_weight` (per judgment) lets reliable raters count for more.
    A parameter the data cannot identify (one display order throughout, no ties, only ties) is
    flagged and, when `name` is given, reported with an `IdentificationWarning` naming it.
    """
    from tether.audit.models import BradleyTerry, IdentificationWarning

    pa, pb, n_players = players(table)
    contest = pa != pb
    proba = np.full((table.n_items, 3), 1 / 3) if fallback is None else np.array(fallback, dtype=np.float64)
    used = contest[table.item]
    if sample_weight is not None:
        used &= np.asarray(sample_weight) > 0
    if not used.any():
        return PositionModel(0.0, float("nan"), {}, proba, False, False, ["no contest to fit on"])
    # With one display order throughout, position and quality cannot be told apart (every win could be
    # the position's): the model leaves the position term out and reports it as unknown (NaN).
    model = BradleyTerry(ties="davidson", position="per_rater")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", IdentificationWarning)
        model.fit(pa[table.item[used]], pb[table.item[used]], table.shown_first[used].astype(np.int64),
                  table.label[used].astype(np.int64), raters=table.rater[used], n_players=n_players,
                  n_raters=table.n_raters, sample_weight=None if sample_weight is None else sample_weight[used])
    notes = [str(w.message).removeprefix("BradleyTerry: ").rstrip(".") for w in caught
             if issubclass(w.category, IdentificationWarning)]
    for w in caught:
        if not issubclass(w.category, IdentificationWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if name:
        for note in notes:
            # stacklevel 4: the code that called run_audit (fit_position_model <- _fit_by_objective <- run_audit)
            warnings.warn(f"audit, Bradley–Terry position model ({name}): {note}", IdentificationWarning,
                          stacklevel=4)
    proba[contest] = np.asarray(model.predict_proba(pa[contest], pb[contest]), dtype=np.float64)
    flags = {"position_identified": bool(model.position_identified_), "tie_identified": bool(model.tie_identified_),
             "notes": notes}
    if not model.position_identified_:
        return PositionModel(float("nan"), float(model.tie_), {}, proba, **flags)
    global_pos = float(model.position_)
    deviations = np.asarray(model.rater_position_, dtype=np.float64).ravel()
    judged = np.bincount(table.rater[used], minlength=table.n_raters) > 0
    by_rater = {rater: global_pos + float(deviations[r]) for r, rater in enumerate(table.rater_names) if judged[r]}
    return PositionModel(global_pos, float(model.tie_), by_rater, proba, **flags)
