"""Outcome checks as policy evaluators: HumanEval tests in the sandbox, numeric answers, the named `humaneval`."""

from __future__ import annotations

import numpy as np
import pytest

from tether.outcomes import HumanEvalEvaluator, NumericAnswerEvaluator, UnknownTask
from tether.outcomes.programs import humaneval_problems
from tether.policy.evaluators import Evaluator


def test_humaneval_evaluator_runs_the_tasks_tests() -> None:
    problems = humaneval_problems()
    p0, p2 = problems["HumanEval/0"], problems["HumanEval/2"]
    ev = HumanEvalEvaluator()
    assert isinstance(ev, Evaluator) and list(ev.objectives) == ["tests_passed"]
    prompts = [p0["prompt"], p0["prompt"], p2["prompt"]]
    responses = [p0["canonical_solution"], "    return True\n", p2["canonical_solution"] + "\ndef extra():\n    pass"]
    scores = ev(prompts, responses)
    # the canonical solutions pass (the third is cut at the stop sequence "\ndef"); `return True` fails
    assert scores["tests_passed"].tolist() == [1.0, 0.0, 1.0]
    assert [r.status for r in ev.last_results] == ["passed", "failed", "passed"]


def test_humaneval_evaluator_refuses_an_unknown_prompt_before_running() -> None:
    with pytest.raises(UnknownTask, match="no HumanEval task"):
        HumanEvalEvaluator()(["Write a haiku."], ["..."])


def test_numeric_answer_evaluator_grades_final_answers() -> None:
    ev = NumericAnswerEvaluator({"2+2?": 4, "Half of 9?": "#### 4.5"})
    scores = ev(["2+2?", "2+2?", "Half of 9?"], ["It is 4.", "The answer is 5", "So 9 / 2 = 4.50"])
    np.testing.assert_array_equal(scores["correct"], [1.0, 0.0, 1.0])
    with pytest.raises(UnknownTask, match="no reference"):
        ev(["3+3?"], ["6"])


def test_humaneval_is_a_named_evaluator_once_the_cli_loads() -> None:
    import tether.cli  # noqa: F401  (registers the stages' evaluators)
    from tether.policy.evaluators import named_evaluator

    assert isinstance(named_evaluator("humaneval"), HumanEvalEvaluator)
