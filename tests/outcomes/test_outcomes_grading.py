"""Numeric graders: number parsing, final-answer extraction, and agreement with GSM8K's own labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tether.outcomes.grading import extract_answer, grade_numeric, numbers_equal, parse_number

DATA = Path(__file__).parent.parent / "data" / "gsm8k"
SYSTEMS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")


@pytest.mark.parametrize(("text", "value"), [
    ("1,234.5", 1234.5), ("$18", 18.0), ("-3/4", -0.75), ("50%", 50.0), ("1 1/2", 1.5), ("-1 1/2", -1.5),
    ("18.", 18.0), ("$1,000.00", 1000.0), (".5", 0.5), ("€2.50", 2.5), ("  42 ", 42.0),
])
def test_parse_number_reads_written_forms(text: str, value: float) -> None:
    assert parse_number(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["abc", "3/0", "", "1/x", "nan", "inf"])
def test_parse_number_rejects_non_numbers(text: str) -> None:
    assert parse_number(text) is None


@pytest.mark.parametrize(("text", "answer"), [
    ("so 3 + 4 = 7 apples\n#### 7", "7"),
    ("#### 1,200 dollars, not 5", "1,200"),                      # the first number after the marker
    ("The answer is $1,200.", "1,200"),
    ("Step 12: 3 * 4 = 12. The answer is 12, after 3 steps", "12"),
    ("He has 1/2 of 10 = 5 left.", "5"),                         # no marker: the last number
    ("A: 26", "26"),
    ("answer: -4 degrees", "-4"),
    ("It takes 2/2=<<2/2=1>>1 bolt", "1"),                       # calculator annotations are not answers
    ("total 1 1/2 cups", "1 1/2"),
    ("16-3 = 13", "13"),
])
def test_extract_answer_prefers_markers_then_last_number(text: str, answer: str) -> None:
    assert extract_answer(text) == answer


def test_extract_answer_none_without_numbers() -> None:
    assert extract_answer("I do not know.") is None


def test_numbers_equal_tolerances() -> None:
    assert numbers_equal(0.75, 3 / 4)
    assert not numbers_equal(0.33, 1 / 3)
    assert numbers_equal(0.33, 1 / 3, abs_tol=0.01)
    assert numbers_equal(1e9, 1e9 + 1)                          # within the relative tolerance
    assert not numbers_equal(18, 19)


def test_grade_numeric_against_numbers_and_solutions() -> None:
    assert grade_numeric("The answer is 0.75", "work...\n#### 3/4").passed
    assert grade_numeric("It is $1,000.", 1000).passed
    assert grade_numeric("50%", 50).passed
    wrong = grade_numeric("#### 17", "#### 18")
    assert not wrong.passed and wrong.answer == "17" and wrong.reference == "18" and "17 != 18" in wrong.reason
    none = grade_numeric("no idea", 18)
    assert not none.passed and none.answer is None and none.value == 0.0


def test_grade_numeric_refuses_a_reference_without_a_number() -> None:
    with pytest.raises(ValueError, match="reference answer has no number"):
        grade_numeric("18", "the reference is missing")
    with pytest.raises(ValueError, match="not a boolean"):
        grade_numeric("1", True)  # type: ignore[arg-type]


def _gsm8k() -> list[tuple[dict, dict]]:
    sols = [json.loads(x) for x in (DATA / "example_model_solutions_head40.jsonl").read_text().splitlines()]
    refs = [json.loads(x) for x in (DATA / "test_head40.jsonl").read_text().splitlines()]
    assert len(sols) == len(refs) == 40
    return list(zip(sols, refs, strict=True))


def test_grader_matches_gsm8k_is_correct_on_real_solutions() -> None:
    """Each of the 160 real GPT-3 solutions graded against test.jsonl's '#### N' agrees with the file's label."""
    n = n_correct = 0
    for sol, ref in _gsm8k():
        assert sol["question"] == ref["question"]
        for name in SYSTEMS:
            g = grade_numeric(sol[name]["solution"], ref["answer"])
            assert g.passed == sol[name]["is_correct"], (name, sol["question"][:60], g)
            n += 1
            n_correct += g.passed
    assert n == 160 and 0 < n_correct < n  # both outcomes occur in the sample


def test_reference_solutions_grade_as_correct() -> None:
    """The ground-truth solutions (ending 'A: N') grade as correct against the '#### N' references."""
    for sol, ref in _gsm8k():
        assert grade_numeric(sol["ground_truth"], ref["answer"]).passed
