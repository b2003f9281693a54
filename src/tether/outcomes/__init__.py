"""tether.outcomes: what actually happened, beside what raters preferred (guard 6), and reward models audited
against it.

    with Sandbox(SandboxConfig(wall_seconds=10)) as box:          # limits, no network, own uid as root
        result = box.run(program)                                  # passed / failed / timeout / error / killed
    summary = run_samples(Path("samples.jsonl"), Path("out.jsonl"), box)   # HumanEval, CodeT, MBPP; resumes
    pass_at_k(n=100, c=29, k=10)                                   # unbiased estimator (Chen et al. 2021)
    store.add_outcomes(outcomes_of_rows(rows, "sandbox"), project="shop")  # joined to generations by trace

    rows = read_scored("scored.jsonl")          # prompt, response, score, passed per line
    result = audit_outcomes(rows)               # AUC, rank correlation, calibration, best-of-n, by slice
    pairs = outcome_pairs(rows)                 # passing chosen over failing, provenance source "outcome"
    grade_numeric("... #### 18", "18").passed   # True
    HumanEvalEvaluator()(prompts, completions)  # {"tests_passed": ...}: a policy reward or held-out evaluator

Outcome events (SDK `log_outcome`, the ingestion API) are stored as outcomes by the store itself.
"""

from __future__ import annotations

from tether.lazy import lazy_exports

_LAZY = {
    "Sandbox": "sandbox", "RunResult": "sandbox", "SandboxConfig": "config",
    "Sample": "programs", "read_samples": "programs", "humaneval_problems": "programs",
    "humaneval_program": "programs", "mbpp_program": "programs", "truncate_completion": "programs",
    "run_samples": "run", "read_outcomes": "run", "outcomes_of_rows": "run",
    "pass_at_k": "passk", "mean_pass_at_k": "passk", "counts_by_task": "passk",
    "grade_numeric": "grading", "extract_answer": "grading", "parse_number": "grading", "Grade": "grading",
    "ScoredResponse": "scored", "read_scored": "scored", "join_outcomes": "scored",
    "AuditConfig": "audit", "OutcomeAudit": "audit", "audit_outcomes": "audit",
    "PairConfig": "pairs", "outcome_pairs": "pairs", "campaign_items": "pairs", "score_rows": "pairs",
    "write_report": "report", "print_summary": "report",
    "HumanEvalEvaluator": "evaluators", "NumericAnswerEvaluator": "evaluators", "UnknownTask": "evaluators",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
