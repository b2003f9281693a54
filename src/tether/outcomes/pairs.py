"""Preference pairs built from outcomes, and the reward model's disagreements as annotation items.

A prompt with a passing and a failing response gives a pair: chosen = a response that passed, rejected = one that
failed. Each pair carries its own provenance (``source: "outcome"``, the outcome values, the input lines) and
weight, so a reward model can be retrained with them beside (or instead of) rater preferences
(`tether reward train --pairs`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tether.outcomes.audit import Disagreement
from tether.outcomes.scored import ScoredResponse
from tether.records import Direction, PreferencePair, content_hash

__all__ = ["PairConfig", "outcome_pairs", "campaign_items", "score_rows"]


@dataclass
class PairConfig:
    """How outcome pairs are made (plain values)."""

    weight: float = 1.0               # pair weight (times the outcome gap for graded outcomes)
    objective: str = "overall"        # the reward head the pairs train
    pass_threshold: float = 0.5       # an outcome value at or above this passes
    max_per_prompt: int | None = 4    # pairs kept per prompt (seeded sample), so no prompt dominates; None: all
    seed: int = 0


def outcome_pairs(rows: Sequence[ScoredResponse], config: PairConfig | None = None) -> list[PreferencePair]:
    """Pairs (passing chosen, failing rejected) within each prompt; rows need prompt and response text (a
    ValueError names the first line without). Duplicate texts in a prompt are paired once."""
    cfg = config or PairConfig()
    if cfg.weight < 0:
        raise ValueError(f"weight must be >= 0, got {cfg.weight}")
    rng = np.random.default_rng(cfg.seed)
    groups: dict[str, list[ScoredResponse]] = {}
    for r in rows:
        if r.value is None:
            raise ValueError(f"line {r.line}: no outcome")
        if r.prompt is None or r.response is None:
            raise ValueError(f"line {r.line}: an outcome pair needs the prompt and response text (missing "
                             f"{'prompt' if r.prompt is None else 'response'})")
        groups.setdefault(r.group, []).append(r)
    out: list[PreferencePair] = []
    for group in sorted(groups):
        items = groups[group]
        wins = _unique([r for r in items if r.value >= cfg.pass_threshold])
        losses = _unique([r for r in items if r.value < cfg.pass_threshold])
        combos = [(w, lo) for w in wins for lo in losses if w.response != lo.response]
        if cfg.max_per_prompt is not None and len(combos) > cfg.max_per_prompt:
            keep = sorted(rng.choice(len(combos), cfg.max_per_prompt, replace=False))
            combos = [combos[i] for i in keep]
        for w, lo in combos:
            gap = w.value - lo.value
            binary = w.value in (0.0, 1.0) and lo.value in (0.0, 1.0)
            prov = {"source": "outcome", "pair_id": content_hash(w.prompt, w.response, lo.response)[:16],
                    "group": group, "chosen_outcome": w.value, "rejected_outcome": lo.value,
                    "lines": [w.line, lo.line], **w.slices}
            for name, r in (("chosen_trace_id", w), ("rejected_trace_id", lo)):
                if r.trace_id is not None:
                    prov[name] = r.trace_id
            out.append(PreferencePair(prompt=w.prompt, chosen=w.response, rejected=lo.response,
                                      weight=cfg.weight * (1.0 if binary else gap), objective=cfg.objective,
                                      provenance=prov))
    return out


def _unique(rows: list[ScoredResponse]) -> list[ScoredResponse]:
    seen, out = set(), []
    for r in rows:
        if r.response not in seen:
            seen.add(r.response)
            out.append(r)
    return out


def campaign_items(cases: Sequence[Disagreement], task_type: str | None = None) -> list[dict]:
    """Disagreement cases as `tether campaign create --items` lines (prompt, response_a, response_b, task_type,
    pair_id). The canonical order is by text hash, not by outcome, so the file does not tell raters which one
    passed; cases without text or with identical texts are left out."""
    from tether.collect.campaign import CampaignItem

    items = []
    for d in cases:
        if d.prompt is None or d.failing is None or d.passing is None or d.failing == d.passing:
            continue
        a, b = sorted((d.failing, d.passing), key=lambda t: content_hash(t))
        item = CampaignItem(prompt=d.prompt, response_a=a, response_b=b,
                            task_type=task_type or d.slices.get("task_type", "outcome-audit"),
                            pair_id=f"outcome-{content_hash(d.prompt, a, b)[:16]}")
        items.append(item.model_dump(exclude_none=True))
    return items


def score_rows(rows: Sequence[ScoredResponse], model, objective: str | None = None, *, chunk: int = 512,  # noqa: ANN001
               on_progress: Callable[[int], None] | None = None) -> list[ScoredResponse]:
    """The rows with `score` from a reward model or ensemble (`tether.reward.load`) on one objective head (default:
    the model's only head, else `overall`); a lower-is-better contract is negated so higher means better."""
    from dataclasses import replace

    missing = [r.line for r in rows if r.prompt is None or r.response is None]
    if missing:
        raise ValueError(f"line {missing[0]}: scoring with a model needs the prompt and response text "
                         f"({len(missing)} lines lack them)")
    heads = list(model.objectives)
    if objective is None:
        objective = heads[0] if len(heads) == 1 else "overall"
    if objective not in heads:
        raise ValueError(f"the model has no {objective!r} head; its heads: {', '.join(heads)} (give --objective)")
    scores = np.empty(len(rows))
    for start in range(0, len(rows), chunk):  # chunks, so a progress bar can follow a long scoring run
        part = rows[start:start + chunk]
        got = model.score([r.prompt for r in part], [r.response for r in part])
        scores[start:start + len(part)] = np.asarray(getattr(got, "scores", got)[objective], dtype=float)
        if on_progress is not None:
            on_progress(len(part))
    owner = model if hasattr(model, "contract") else model.members[0]  # an ensemble's members share contracts
    if owner.contract(objective).direction == Direction.LOWER_IS_BETTER:
        scores = -scores
    return [replace(r, score=float(s)) for r, s in zip(rows, scores, strict=True)]
