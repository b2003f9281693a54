"""tether.outcomes: what actually happened, beside what raters preferred (guard 6).

    with Sandbox(SandboxConfig(wall_seconds=10)) as box:          # limits, no network, own uid as root
        result = box.run(program)                                  # passed / failed / timeout / error / killed
    summary = run_samples(Path("samples.jsonl"), Path("out.jsonl"), box)   # HumanEval, CodeT, MBPP; resumes
    pass_at_k(n=100, c=29, k=10)                                   # unbiased estimator (Chen et al. 2021)
    store.add_outcomes(outcomes_of_rows(rows, "sandbox"), project="shop")  # joined to generations by trace

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
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
