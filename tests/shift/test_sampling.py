"""Sampling production prompts into annotation: novelty, coverage, negative feedback, de-dup, PII."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from tether.deploy.pii import Redactor
from tether.records import Event
from tether.shift.sampling import AnnotationSampler, Candidate, candidates_from_events, max_cosine


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_max_cosine_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    A, B = unit(rng.standard_normal((50, 8))), unit(rng.standard_normal((70, 8)))
    brute = np.array([max(float(a @ b) for b in B) for a in A])
    assert np.allclose(max_cosine(A, B, chunk=7), brute, atol=1e-6)


def test_picks_novel_negative_and_deduplicated_prompts_within_budget() -> None:
    rng = np.random.default_rng(1)
    base = unit(rng.standard_normal((3, 16)))
    annotation = unit(base[0] + 0.15 * rng.standard_normal((40, 16)))  # annotators saw only region 0
    prod = [unit(base[0] + 0.15 * rng.standard_normal((20, 16))),  # familiar
            unit(base[1] + 0.15 * rng.standard_normal((20, 16))),  # new region
            np.repeat(unit(base[2][None, :]), 5, axis=0)]  # one new prompt asked 5 times
    production = np.concatenate(prod)
    cands = [Candidate(f"old {i}") for i in range(20)] + [Candidate(f"new {i}") for i in range(20)] + \
            [Candidate("dup: mail me at zoe@example.com", negative_feedback=True) for _ in range(5)]
    cands[3] = Candidate("old but disliked", negative_feedback=True)
    s = AnnotationSampler(budget=10, dedup_threshold=0.95, n_clusters=3,
                          redactor=Redactor(b"sampling-test-secret-123")).fit(annotation, production, cands)
    texts = [p.text for p in s.picks_]
    assert len(texts) == 10
    assert sum(t.startswith("dup") for t in texts) == 1  # de-duplicated
    assert all(not t.startswith("old ") for t in texts)  # familiar prompts lose to novel ones
    dup = next(p for p in s.picks_ if p.text.startswith("dup"))
    assert "zoe@example.com" not in dup.text and "PII redacted" in dup.reasons and "negative feedback" in dup.reasons
    assert s.picks_[0].score == max(p.score for p in s.picks_)


def test_candidates_from_events_mark_negative_traces() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    evs = [Event(event_id=f"{k}{i}", type="generation", trace_id=f"t{i}", timestamp=t, model="m",
                 prompt=f"q{i}", response="a") for i, k in enumerate("abc")]
    evs += [Event(event_id="f", type="feedback", trace_id="t0", timestamp=t, name="thumbs", value=-1),
            Event(event_id="g", type="feedback", trace_id="t1", timestamp=t, name="thumbs", value=1),
            Event(event_id="h", type="correction", trace_id="t2", timestamp=t, corrected_response="x")]
    got = {c.trace_id: c.negative_feedback for c in candidates_from_events(evs)}
    assert got == {"t0": True, "t1": False, "t2": True}
