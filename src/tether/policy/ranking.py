"""Best-versus-worst pairs from curated judgments of k responses per prompt.

When raters compare several responses to one prompt (k samples of a policy, judged in pairs), the curated pairs say
more together than apart: a Bradley-Terry fit per prompt ranks the k responses, and one pair per prompt, the best
against the worst, spans the widest gap the judgments support. Most pairs of two samples of one policy are near-ties;
the extremes of k are much less often so, which is what DPO needs from a pair.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tether.records import PreferencePair


@dataclass(frozen=True)
class Ranking:
    """The responses to one prompt (objective), best first, with their Bradley-Terry strengths (mean 0)."""

    prompt: str
    objective: str
    responses: tuple[str, ...]
    strengths: tuple[float, ...]
    judgments: int


def bradley_terry(n: int, edges: Sequence[tuple[int, int, float, float]], *, prior: float = 0.1,
                  iters: int = 200) -> np.ndarray:
    """Strengths of `n` items from weighted soft outcomes `(i, j, p_i_beats_j, weight)`, by Newton's method on the
    log-likelihood with a Gaussian prior of precision `prior` (it keeps a response that won every comparison finite).

    Returns strengths with mean 0; P(i beats j) = sigmoid(s_i - s_j)."""
    if n < 1:
        raise ValueError("bradley_terry needs at least one item")
    s = np.zeros(n)
    if not edges:
        return s
    i = np.array([e[0] for e in edges])
    j = np.array([e[1] for e in edges])
    p = np.array([e[2] for e in edges], dtype=float)
    w = np.array([e[3] for e in edges], dtype=float)
    if ((i < 0) | (i >= n) | (j < 0) | (j >= n) | (i == j)).any():
        raise ValueError("bradley_terry: every edge joins two different items in range(n)")
    if ((p < 0) | (p > 1)).any() or (w < 0).any():
        raise ValueError("bradley_terry: outcomes must lie in [0, 1] and weights be >= 0")
    for _ in range(iters):
        q = 1.0 / (1.0 + np.exp(-(s[i] - s[j])))
        g = w * (p - q)
        grad = np.bincount(i, g, n) - np.bincount(j, g, n) - prior * s
        h = w * q * (1 - q)
        hess = np.diag(np.bincount(i, h, n) + np.bincount(j, h, n) + prior)
        np.subtract.at(hess, (i, j), h)
        np.subtract.at(hess, (j, i), h)
        step = np.linalg.solve(hess, grad)
        s += step
        if np.abs(step).max() < 1e-10:
            break
    return s - s.mean()


def rank_responses(pairs: Sequence[PreferencePair], *, prior: float = 0.1) -> list[Ranking]:
    """One ranking per (prompt, objective) from its curated pairs: weight and soft label (`p_chosen`; a tie counts
    as 0.5) of each pair enter the fit, so a down-weighted or uncertain judgment moves the ranking less."""
    groups: dict[tuple[str, str], list[PreferencePair]] = {}
    for p in pairs:
        groups.setdefault((p.prompt, p.objective), []).append(p)
    out = []
    for (prompt, objective), group in groups.items():
        index: dict[str, int] = {}
        edges = []
        for p in group:
            if p.chosen == p.rejected or p.weight <= 0:
                continue
            a = index.setdefault(p.chosen, len(index))
            b = index.setdefault(p.rejected, len(index))
            won = 0.5 if p.tie else (p.p_chosen if p.p_chosen is not None else 1.0)
            edges.append((a, b, won, p.weight))
        if len(index) < 2:
            continue
        s = bradley_terry(len(index), edges, prior=prior)
        order = np.argsort(-s, kind="stable")
        texts = list(index)
        out.append(Ranking(prompt, objective, tuple(texts[k] for k in order), tuple(float(s[k]) for k in order),
                           len(edges)))
    return out


def best_worst_pairs(pairs: Sequence[PreferencePair], *, min_gap: float = 0.0,
                     prior: float = 0.1) -> list[PreferencePair]:
    """One pair per (prompt, objective): its best-ranked response against its worst (`rank_responses`), with
    p_chosen = sigmoid(strength gap), so the fitted confidence is the soft label; prompts whose gap is at most
    `min_gap` (judged a tie) are left out. Provenance: the first source pair's, plus the pairing and counts."""
    if min_gap < 0:
        raise ValueError(f"min_gap must be >= 0, got {min_gap}")
    first = {}
    for p in pairs:
        first.setdefault((p.prompt, p.objective), p)
    out = []
    for r in rank_responses(pairs, prior=prior):
        gap = r.strengths[0] - r.strengths[-1]
        if gap <= min_gap:
            continue
        src = first[(r.prompt, r.objective)]
        out.append(PreferencePair(
            prompt=r.prompt, chosen=r.responses[0], rejected=r.responses[-1], objective=r.objective,
            p_chosen=1.0 / (1.0 + math.exp(-gap)),
            provenance={**src.provenance, "pairing": "best-worst", "responses": len(r.responses),
                        "judgments": r.judgments, "strength_gap": round(gap, 4)}))
    return out
