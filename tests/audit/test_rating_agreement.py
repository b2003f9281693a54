"""Agreement on Likert ratings: interval alpha matches NLTK's, ordinal alpha Krippendorff's (2011) worked
example, and the 0.4 rule blocks a task type whose raters do not share a reading of the scale."""

from __future__ import annotations

import random

import pytest

from tether.audit.config import AuditConfig
from tether.audit.ratings import audit_ratings, rating_alphas, rating_table
from tether.records import Rating

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the 4-coder, 12-unit example (values 1..5;
# None = missing). Published: interval 0.849, ordinal 0.815 (and nominal 0.743).
K2011 = [
    [1, 1, None, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2], [1, 2, 3, 4],
    [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [None, 5, 5, 5], [None, None, 1, 1], [None, None, 3, None],
]


def k2011_ratings(task_type: str = "likert") -> list[Rating]:
    return [Rating(prompt=f"unit {u}", response="r", score=v, scale_min=1, scale_max=5, rater=f"coder{c}",
                   task_type=task_type)
            for u, row in enumerate(K2011) for c, v in enumerate(row) if v is not None]


def test_published_interval_and_ordinal_alpha():
    interval, ordinal = rating_alphas(k2011_ratings())
    assert interval == pytest.approx(0.849, abs=5e-4)
    assert ordinal == pytest.approx(0.815, abs=5e-4)


def test_interval_alpha_matches_nltk():
    from nltk.metrics.agreement import AnnotationTask
    from nltk.metrics.distance import interval_distance

    rng = random.Random(5)
    ratings = []
    for item in range(15):
        truth = rng.randint(1, 7)
        for rater in rng.sample(range(5), rng.randint(2, 4)):
            ratings.append(Rating(prompt=f"p{item}", response="r", score=max(1, min(7, truth + rng.randint(-2, 2))),
                                  rater=f"r{rater}"))
    task = AnnotationTask([(r.rater, r.item_id, r.score) for r in ratings], distance=interval_distance)
    assert rating_alphas(ratings)[0] == pytest.approx(task.alpha(), abs=1e-9)


def test_a_three_point_scale_is_ranked_in_its_own_order():
    # on a 1..3 scale, 1 and 3 are the far ends (the pairwise a / tie / b order would put the middle last)
    def scored(pairs: list[tuple[int, int]]) -> list[Rating]:
        return [Rating(prompt=f"p{i}", response="r", score=s, scale_max=3, rater=r)
                for i, pair in enumerate(pairs) for r, s in zip("ab", pair, strict=True)]

    near = scored([(1, 2), (2, 3), (1, 1), (3, 3), (2, 2), (3, 3)])
    far = scored([(1, 3), (3, 1), (1, 1), (3, 3), (2, 2), (3, 3)])
    assert rating_alphas(near)[1] > rating_alphas(far)[1]
    assert rating_alphas(near)[0] > rating_alphas(far)[0]


def test_the_04_rule_and_the_audit_numbers():
    rng = random.Random(2)
    vague = [Rating(prompt=f"q{i}", response="r", score=rng.randint(1, 5), scale_max=5, rater=r, task_type="vague",
                    objective=o) for i in range(25) for r in ("x", "y", "z") for o in ("helpful", "honest")]
    clear = k2011_ratings("clear")  # 11 units rated twice or more: too few for the rule
    out = audit_ratings(vague + clear, AuditConfig(n_bootstrap=50))
    assert out["primary_metric"] == "krippendorff_alpha_interval"
    assert out["task_types"]["vague"]["blocked"] and out["task_types"]["vague"]["status"] == "ambiguous"
    assert out["task_types"]["vague"]["alpha"] < 0.4 and out["task_types"]["vague"]["n_items"] == 50
    assert out["task_types"]["clear"]["status"] == "insufficient"
    assert not out["task_types"]["clear"]["blocked"] and out["blocked_task_types"] == ["vague"]
    g = out["agreement"]["by_task_type"]["clear"]
    assert g["krippendorff_alpha_interval"]["value"] == pytest.approx(0.849, abs=5e-4)
    low, high = g["krippendorff_alpha_interval"]["ci_low"], g["krippendorff_alpha_interval"]["ci_high"]
    assert low <= high
    assert set(out["agreement"]["by_objective"]) == {"helpful", "honest", "overall"}
    assert out["raters"]["coder0"]["n_ratings"] == sum(row[0] is not None for row in K2011)
    # one rater's repeated rating of a unit counts once (their first)
    repeated = k2011_ratings() + [Rating(prompt="unit 0", response="r", score=5, scale_max=5, rater="coder0",
                                         task_type="likert", campaign="again")]
    assert rating_table(repeated).counts.sum() == rating_table(k2011_ratings()).counts.sum()
