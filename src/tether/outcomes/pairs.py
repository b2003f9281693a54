"""Preference pairs built from outcomes, and the reward model's disagreements as annotation items.

A prompt with a passing and a failing response gives a pair: chosen = a response that passed, rejected = one that
failed. Each pair carries its own provenance (``source: "outcome"``, the outcome values, the input lines) and
weight, so a reward model can be retrained with them beside (or instead of) rater preferences
(`tether reward train --pairs`).

Two ways to pair (`PairConfig.match`): `all` takes every passing x failing combination of a prompt (sampled down to
`max_per_prompt`); `closest` pairs each failing response with the passing response whose words are most alike
(difflib ratio over lowercased words), optionally only at `min_similarity` or above. A pair of a verbose passing
answer and a terse failing one also teaches "verbose is better", which the outcome never said; a `closest` pair
differs in little but what made the response fail, so its label is about the outcome alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np

from tether.outcomes.audit import Disagreement
from tether.outcomes.scored import ScoredResponse
from tether.records import Direction, PreferencePair, content_hash

__all__ = ["PairConfig", "outcome_pairs", "campaign_items", "score_rows", "text_similarity", "MATCHES"]

MATCHES = ("all", "closest")


@dataclass
class PairConfig:
    """How outcome pairs are made (plain values)."""

    weight: float = 1.0               # pair weight (times the outcome gap for graded outcomes)
    objective: str = "overall"        # the reward head the pairs train
    pass_threshold: float = 0.5       # an outcome value at or above this passes
    max_per_prompt: int | None = 4    # pairs kept per prompt (seeded sample), so no prompt dominates; None: all
    seed: int = 0
    match: str = "all"                # all: every pass x fail combination; closest: each failure with its most
    #                                   alike passing response (see the module docstring)
    min_similarity: float = 0.0       # closest only: drop pairs whose texts are less alike than this (0..1)


def text_similarity(a: str, b: str) -> float:
    """How alike two texts are, 0..1: difflib's ratio over their lowercased words (punctuation kept on words)."""
    return SequenceMatcher(None, a.lower().split(), b.lower().split(), autojunk=False).ratio()


def outcome_pairs(rows: Sequence[ScoredResponse], config: PairConfig | None = None) -> list[PreferencePair]:
    """Pairs (passing chosen, failing rejected) within each prompt; rows need prompt and response text (a
    ValueError names the first line without). Duplicate texts in a prompt are paired once."""
    cfg = config or PairConfig()
    if cfg.weight < 0:
        raise ValueError(f"weight must be >= 0, got {cfg.weight}")
    if cfg.match not in MATCHES:
        raise ValueError(f"unknown match {cfg.match!r}; expected one of {', '.join(MATCHES)}")
    if not 0.0 <= cfg.min_similarity <= 1.0:
        raise ValueError(f"min_similarity must be in [0, 1], got {cfg.min_similarity}")
    if cfg.min_similarity > 0 and cfg.match != "closest":
        raise ValueError("min_similarity applies only to match 'closest'")
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
        combos = _closest(wins, losses, cfg.min_similarity) if cfg.match == "closest" else \
            [(w, lo) for w in wins for lo in losses if w.response != lo.response]
        if cfg.max_per_prompt is not None and len(combos) > cfg.max_per_prompt:
            keep = sorted(rng.choice(len(combos), cfg.max_per_prompt, replace=False))
            combos = [combos[i] for i in keep]
        for w, lo in combos:
            gap = w.value - lo.value
            binary = w.value in (0.0, 1.0) and lo.value in (0.0, 1.0)
            prov = {"source": "outcome", "pair_id": content_hash(w.prompt, w.response, lo.response)[:16],
                    "group": group, "chosen_outcome": w.value, "rejected_outcome": lo.value,
                    "lines": [w.line, lo.line], **w.slices}
            if cfg.match == "closest":
                prov["match"] = "closest"
                prov["similarity"] = round(text_similarity(w.response, lo.response), 4)
            for name, r in (("chosen_trace_id", w), ("rejected_trace_id", lo)):
                if r.trace_id is not None:
                    prov[name] = r.trace_id
            out.append(PreferencePair(prompt=w.prompt, chosen=w.response, rejected=lo.response,
                                      weight=cfg.weight * (1.0 if binary else gap), objective=cfg.objective,
                                      provenance=prov))
    return out


def _closest(wins: list[ScoredResponse], losses: list[ScoredResponse], floor: float
             ) -> list[tuple[ScoredResponse, ScoredResponse]]:
    """Each failing response with its most alike passing one (ties: the first in input order), at `floor` or
    above; a passing response may serve several failures."""
    out = []
    for lo in losses:
        sims = [(text_similarity(w.response, lo.response), i) for i, w in enumerate(wins) if w.response != lo.response]
        if sims:
            best, i = max(sims, key=lambda t: (t[0], -t[1]))
            if best >= floor:
                out.append((wins[i], lo))
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
