"""Outcome checks as `tether.policy` evaluators: a policy can be trained on, evaluated by, or guarded with what
actually works, not only with what a reward model prefers.

    ev = HumanEvalEvaluator()                      # `--evaluator humaneval` on `tether policy rl / eval`
    ev([problem["prompt"]], [completion])          # {"tests_passed": array([1.0])}: run against its tests
    NumericAnswerEvaluator({"2+2?": 4})(["2+2?"], ["It is 4."])   # {"correct": array([1.0])}

Both are held-out by construction (the policy never sees the tests or the references), so they also serve as the
over-optimisation monitor's evaluator (`--heldout`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from tether.outcomes.config import SandboxConfig
from tether.outcomes.grading import grade_numeric
from tether.outcomes.programs import humaneval_problems, humaneval_program, match_prompt, truncate_completion
from tether.outcomes.sandbox import Sandbox


class UnknownTask(KeyError):
    """A prompt the evaluator has no test or reference for."""

    def __str__(self) -> str:
        return str(self.args[0])


class HumanEvalEvaluator:
    """1.0 when the completion passes its HumanEval task's tests in the sandbox, else 0.0 (`tests_passed`).

    The prompt is the task's prompt (exactly, or as CodeT shortens it); the response is the completion, cut at
    the Codex stop sequences as HumanEval's own evaluation does. Samples run in parallel in one sandbox."""

    objectives = ("tests_passed",)

    def __init__(self, problems: Mapping[str, dict] | None = None, config: SandboxConfig | None = None,
                 *, truncate: bool = True) -> None:
        self.problems = dict(problems if problems is not None else humaneval_problems())
        self.by_prompt = {p["prompt"]: p for p in self.problems.values()}
        self.config, self.truncate = config, truncate
        self.name = f"HumanEval tests ({len(self.problems)} tasks, sandboxed)"
        self.last_results: list = []  # the sandbox's results of the last call, for a report's reasons

    def problem_of(self, prompt: str) -> dict:
        problem = self.by_prompt.get(prompt) or match_prompt(prompt, self.problems)
        if problem is None:
            raise UnknownTask(f"no HumanEval task has this prompt: {prompt[:80]!r}")
        return problem

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> dict[str, np.ndarray]:
        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
        problems = [self.problem_of(p) for p in prompts]  # every prompt checked before anything runs
        programs = [(i, humaneval_program(prob, truncate_completion(r) if self.truncate else r))
                    for i, (prob, r) in enumerate(zip(problems, responses, strict=True))]
        results: list = [None] * len(programs)
        with Sandbox(self.config) as box:
            for i, result in box.run_many(programs):
                results[i] = result
        self.last_results = results
        return {"tests_passed": np.array([float(r.passed) for r in results], dtype=np.float64)}


class NumericAnswerEvaluator:
    """1.0 when the response's final number equals the prompt's reference answer (GSM8K-style), else 0.0."""

    objectives = ("correct",)

    def __init__(self, references: Mapping[str, str | float], *, rel_tol: float = 1e-6,
                 abs_tol: float = 1e-6) -> None:
        self.references = dict(references)
        self.rel_tol, self.abs_tol = rel_tol, abs_tol
        self.name = f"numeric answers ({len(self.references)} references)"

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> dict[str, np.ndarray]:
        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
        missing = [p for p in prompts if p not in self.references]
        if missing:
            raise UnknownTask(f"{len(missing)} prompts have no reference answer, e.g. {missing[0][:80]!r}")
        grades = [grade_numeric(r, self.references[p], rel_tol=self.rel_tol, abs_tol=self.abs_tol).passed
                  for p, r in zip(prompts, responses, strict=True)]
        return {"correct": np.array(grades, dtype=np.float64)}


def humaneval_evaluator(seed: int = 0) -> HumanEvalEvaluator:
    """The registered `humaneval` evaluator (the seed is unused: the tests are deterministic)."""
    del seed
    return HumanEvalEvaluator()
