"""The outcome audit on responses with a planted weakness, outcome pairs, campaign items, and input reading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tether.collect.campaign import read_items
from tether.io import InputError
from tether.outcomes.audit import AuditConfig, audit_outcomes, n_slices
from tether.outcomes.metrics import auc
from tether.outcomes.pairs import PairConfig, campaign_items, outcome_pairs, score_rows, text_similarity
from tether.outcomes.scored import ScoredResponse, join_outcomes, outcome_value, read_scored
from tether.records import Direction, PreferencePair, RewardContract


def planted(seed: int = 0, n_prompts: int = 80, k: int = 4) -> list[ScoredResponse]:
    """Responses whose score tracks the outcome on task type `math` and ignores it on `code`."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_prompts):
        tt = "math" if p % 2 else "code"
        for j in range(k):
            passed = bool(rng.random() < 0.5)
            score = (2.0 * passed if tt == "math" else 0.0) + rng.normal()
            rows.append(ScoredResponse(line=len(rows) + 1, prompt=f"prompt {p}", response=f"answer {j} to {p}",
                                       score=float(score), value=float(passed), group=f"prompt:{p}",
                                       keys=(f"k{p}-{j}",), slices={"task_type": tt}))
    return rows


def test_audit_finds_the_planted_chance_slice() -> None:
    rows = planted()
    res = audit_outcomes(rows, AuditConfig(n_boot=200, seed=0))
    scores = np.array([r.score for r in rows])
    passed = np.array([r.value for r in rows]) >= 0.5
    assert res.overall.auc.value == pytest.approx(auc(scores, passed))
    assert res.overall.auc.lo > 0.5
    code, math = res.by_slice["task_type"]["code"], res.by_slice["task_type"]["math"]
    assert code.auc.lo < 0.5 < code.auc.hi
    assert math.auc.lo > 0.75
    assert any("task_type 'code'" in line and "only at chance" in line for line in res.verdict)
    assert not any("task_type 'math'" in line for line in res.verdict)
    # best-of-n: better than random on math, and the oracle bounds it everywhere
    assert math.best_of_n.value > math.random.value
    for s in (res.overall, code, math):
        assert s.random.value <= s.oracle.value and s.best_of_n.value <= s.oracle.value
    assert set(res.by_slice) == {"task_type", "length"}
    assert n_slices(rows) == 1 + 2 + len(res.by_slice["length"])


def test_audit_intervals_are_seeded() -> None:
    rows = planted(1, n_prompts=30)
    a = audit_outcomes(rows, AuditConfig(n_boot=40, seed=3))
    b = audit_outcomes(rows, AuditConfig(n_boot=40, seed=3))
    assert a.overall.auc == b.overall.auc and a.overall.best_of_n == b.overall.best_of_n


def test_disagreements_are_the_failures_scored_above_a_pass() -> None:
    rows = planted(2, n_prompts=40)
    res = audit_outcomes(rows, AuditConfig(n_boot=0))
    by_group: dict[str, list[ScoredResponse]] = {}
    for r in rows:
        by_group.setdefault(r.group, []).append(r)
    expected = {g for g, rs in by_group.items()
                if any(f.value == 0 and any(p.value == 1 and f.score > p.score for p in rs) for f in rs)}
    assert {d.group for d in res.disagreements} == expected
    assert res.n_disagreeing_prompts == len(expected)
    for d in res.disagreements:
        rs = by_group[d.group]
        top_fail = max(r.score for r in rs if r.value == 0)
        assert d.failing_score == top_fail and d.passing_score < d.failing_score
        assert d.beats_all_passing == (top_fail > max(r.score for r in rs if r.value == 1))
    margins = [d.margin for d in res.disagreements]
    assert margins == sorted(margins, reverse=True)


def test_campaign_items_are_valid_campaign_lines(tmp_path: Path) -> None:
    res = audit_outcomes(planted(3, n_prompts=20), AuditConfig(n_boot=0))
    lines = campaign_items(res.disagreements)
    assert lines and len(lines) == len(res.disagreements)
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    items = read_items(path)  # the reader `tether campaign create --items` uses
    for item, d in zip(items, res.disagreements, strict=True):
        assert {item.response_a, item.response_b} == {d.failing, d.passing}
        assert item.task_type == d.slices["task_type"]
        assert item.pair_id.startswith("outcome-")


def test_outcome_pairs_pass_over_fail_with_provenance() -> None:
    rows = planted(4, n_prompts=10)
    pairs = outcome_pairs(rows, PairConfig(weight=0.5, max_per_prompt=None))
    by_text = {(r.prompt, r.response): r for r in rows}
    expected = 0
    for g in {r.group for r in rows}:
        rs = [r for r in rows if r.group == g]
        expected += sum(r.value == 1 for r in rs) * sum(r.value == 0 for r in rs)
    assert len(pairs) == expected
    for p in pairs:
        assert isinstance(p, PreferencePair)
        assert by_text[(p.prompt, p.chosen)].value == 1 and by_text[(p.prompt, p.rejected)].value == 0
        assert p.weight == 0.5 and p.provenance["source"] == "outcome"
        assert p.provenance["task_type"] in {"math", "code"}
    capped = outcome_pairs(rows, PairConfig(max_per_prompt=1, seed=1))
    assert len(capped) == len({p.provenance["group"] for p in pairs})
    assert capped == outcome_pairs(rows, PairConfig(max_per_prompt=1, seed=1))


def test_outcome_pairs_weight_graded_outcomes_by_their_gap() -> None:
    rows = [ScoredResponse(1, "q", "good", None, 0.9, "g", ("a",)),
            ScoredResponse(2, "q", "bad", None, 0.1, "g", ("b",))]
    (pair,) = outcome_pairs(rows, PairConfig(weight=2.0))
    assert pair.chosen == "good" and pair.weight == pytest.approx(2.0 * 0.8)


def test_closest_pairs_differ_only_in_what_failed() -> None:
    """match=closest pairs each failure with the passing text most like it, so style does not ride on the label."""
    terse_ok, terse_bad = "The capital is Canberra.", "The capital is Sydney."
    long_ok = "Let me walk you through this carefully. The capital is Canberra. I hope this helps you a lot."
    long_bad = "Let me walk you through this carefully. The capital is Sydney. I hope this helps you a lot."
    rows = [ScoredResponse(i + 1, "q", t, None, v, "g", (str(i),))
            for i, (t, v) in enumerate([(long_ok, 1.0), (terse_bad, 0.0), (terse_ok, 1.0), (long_bad, 0.0)])]
    every = outcome_pairs(rows, PairConfig(max_per_prompt=None))
    assert {(p.chosen, p.rejected) for p in every} == {(a, b) for a in (terse_ok, long_ok)
                                                       for b in (terse_bad, long_bad)}
    closest = outcome_pairs(rows, PairConfig(match="closest", max_per_prompt=None))
    assert [(p.chosen, p.rejected) for p in closest] == [(terse_ok, terse_bad), (long_ok, long_bad)]
    for p in closest:
        assert p.provenance["match"] == "closest"
        assert p.provenance["similarity"] == pytest.approx(text_similarity(p.chosen, p.rejected), abs=1e-4)
        assert text_similarity(p.chosen, p.rejected) > text_similarity(terse_ok, long_bad)
    # a floor above the short pair's similarity keeps only the long pair (one word changed in many)
    floor = (text_similarity(terse_ok, terse_bad) + text_similarity(long_ok, long_bad)) / 2
    (kept,) = outcome_pairs(rows, PairConfig(match="closest", min_similarity=floor))
    assert (kept.chosen, kept.rejected) == (long_ok, long_bad)
    assert text_similarity("A b c", "a B c") == 1.0 and text_similarity("a b", "c d") == 0.0


@pytest.mark.parametrize(("cfg", "message"), [
    (PairConfig(match="nearest"), "unknown match 'nearest'; expected one of all, closest"),
    (PairConfig(match="closest", min_similarity=1.5), "min_similarity must be in \\[0, 1\\], got 1.5"),
    (PairConfig(min_similarity=0.5), "min_similarity applies only to match 'closest'"),
])
def test_pair_matching_bad_settings(cfg: PairConfig, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        outcome_pairs(planted(n_prompts=2), cfg)


def test_outcome_pairs_need_text() -> None:
    with pytest.raises(ValueError, match="line 1: an outcome pair needs the prompt and response text"):
        outcome_pairs([ScoredResponse(1, None, "x", None, 1.0, "g", ("t",))])


class _FakeModel:
    """Scores by response length; one `overall` head (optionally lower-is-better)."""

    objectives = ["overall"]

    def __init__(self, direction: Direction = Direction.HIGHER_IS_BETTER) -> None:
        self._contract = RewardContract(name="fake", objective="overall", direction=direction)

    def contract(self, objective: str) -> RewardContract:
        return self._contract

    def score(self, prompts: list[str], responses: list[str]) -> dict[str, np.ndarray]:
        return {"overall": np.array([float(len(r)) for r in responses])}


def test_score_rows_uses_the_model_head_and_direction() -> None:
    rows = [ScoredResponse(i + 1, "q", "x" * (i + 1), None, 1.0, "g", (f"k{i}",)) for i in range(5)]
    ticks: list[int] = []
    scored = score_rows(rows, _FakeModel(), chunk=2, on_progress=ticks.append)
    assert [r.score for r in scored] == [1.0, 2.0, 3.0, 4.0, 5.0] and ticks == [2, 2, 1]
    assert [r.score for r in score_rows(rows, _FakeModel(Direction.LOWER_IS_BETTER))] == [-1.0, -2.0, -3.0, -4.0, -5.0]
    with pytest.raises(ValueError, match="no 'safety' head"):
        score_rows(rows, _FakeModel(), "safety")


@pytest.mark.parametrize(("raw", "value"), [(True, 1.0), (False, 0.0), (1, 1.0), (0.25, 0.25), ("passed", 1.0),
                                            ("timeout", 0.0), ("Failed", 0.0), ("1", 1.0)])
def test_outcome_value(raw: object, value: float) -> None:
    assert outcome_value(raw) == value


def test_outcome_value_rejects_unknown_words() -> None:
    with pytest.raises(ValueError, match="not a boolean, a number or a status word"):
        outcome_value("maybe")


def _write(path: Path, lines: list) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_read_scored_names_line_and_key(tmp_path: Path) -> None:
    good = {"prompt": "q", "response": "a", "score": 1.0, "passed": True}
    path = _write(tmp_path / "s.jsonl", [good, "{not json", {"prompt": "q", "response": "b", "passed": True},
                                         {**good, "score": "high"}, {**good, "passed": "maybe"},
                                         {"score": 1.0, "passed": True}])
    with pytest.raises(InputError) as exc:
        read_scored(path)
    err = exc.value
    assert err.line == 2 and "not valid JSON" in str(err)
    messages = [str(b) for b in err.bad_lines]
    assert err.n_bad == 5
    assert "s.jsonl:3: missing key 'score'" in messages[1]
    assert "s.jsonl:4: key 'score': expected a finite number" in messages[2]
    assert "s.jsonl:5: key 'passed'" in messages[3]
    assert "s.jsonl:6: missing key 'prompt' and 'response'" in messages[4]


def test_read_scored_reads_slices_groups_and_conversations(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.jsonl", [
        {"prompt": [{"role": "user", "content": "hi"}], "completion": "yo", "reward": 2, "outcome": "passed",
         "attributes": {"language": "en", "task_type": "chat"}, "model_version": "v2", "extra": 1},
        {"task_id": "HumanEval/1", "sample": 3, "prompt": "def f():", "response": "pass", "score": 0.5,
         "is_correct": False},
    ])
    a, b = read_scored(path)
    assert a.prompt == "user: hi" and a.response == "yo" and a.score == 2.0 and a.value == 1.0
    assert a.slices == {"task_type": "chat", "language": "en", "model": "v2"} and a.meta["extra"] == 1
    assert b.group == "task_id:HumanEval/1" and b.keys[0] == "sample:HumanEval/1\x1f3" and b.value == 0.0


def test_join_outcomes_by_trace_sample_or_text(tmp_path: Path) -> None:
    scored = read_scored(_write(tmp_path / "s.jsonl", [
        {"trace_id": "t1", "prompt": "q", "response": "a", "score": 1.0},
        {"task_id": "T", "sample": 0, "prompt": "q2", "response": "b", "score": 2.0},
        {"prompt": "q3", "response": "c", "score": 3.0},
        {"prompt": "q4", "response": "d", "score": 4.0},
    ]), need_outcome=False)
    outcomes = read_scored(_write(tmp_path / "o.jsonl", [
        {"trace_id": "t1", "passed": True, "task_type": "chat"},
        {"task_id": "T", "sample": 0, "passed": False, "status": "timeout"},
        {"prompt": "q3", "response": "c", "value": 1},
    ]), need_score=False)
    joined, missing = join_outcomes(scored, outcomes)
    assert [(r.score, r.value) for r in joined] == [(1.0, 1.0), (2.0, 0.0), (3.0, 1.0)] and missing == 1
    assert joined[0].slices["task_type"] == "chat" and joined[1].meta["status"] == "timeout"
    clash = read_scored(_write(tmp_path / "c.jsonl", [{"trace_id": "t1", "passed": True},
                                                      {"trace_id": "t1", "passed": False}]), need_score=False)
    with pytest.raises(ValueError, match="lines 1 and 2 give different outcomes"):
        join_outcomes(scored, clash)


def test_verdict_names_a_slice_where_failures_outscore_passes() -> None:
    rows = planted(5, n_prompts=60)
    for r in rows:  # on code the score now favours what fails
        if r.slices["task_type"] == "code":
            r.score = (-2.0 if r.value else 0.0) + r.score
    res = audit_outcomes(rows, AuditConfig(n_boot=100))
    assert res.by_slice["task_type"]["code"].auc.hi < 0.5
    assert any("task_type 'code'" in line and "ranks failing responses above passing ones" in line
               for line in res.verdict)


def test_audit_refuses_rows_without_score_or_outcome() -> None:
    with pytest.raises(ValueError, match="line 3: no score"):
        audit_outcomes([ScoredResponse(3, "q", "a", None, 1.0, "g", ("k",))])
    with pytest.raises(ValueError, match="no scored responses"):
        audit_outcomes([])
