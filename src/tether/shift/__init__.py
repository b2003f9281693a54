"""tether.shift: is production still what the reward model was trained on? (guard 5)

    a, p = prompts_of_judgments(store.iter_comparisons()), prompts_of_events(store.iter_events(project="shop"))
    result = detect_drift(a, p)                       # MMD + classifier two-sample tests, coverage, languages
    picks = AnnotationSampler(200).fit(A, P, candidates).picks_   # A, P: Encoder().encode(...) of each side
    run = run_probes(load_sets(["advbench"]), policy_responder("policy/"), reward_scorers("rm/"))  # red team

Importing this package loads no model; the submodules load what they need on use.
"""

from __future__ import annotations

from tether.lazy import lazy_exports

_LAZY = {
    "PromptRecord": "data", "read_prompts": "data", "prompts_of_events": "data", "prompts_of_judgments": "data",
    "DriftResult": "drift", "detect_drift": "drift", "MMDTest": "twosample", "ClassifierTest": "twosample",
    "Encoder": "embed", "load_ensemble": "disagreement", "member_spread": "disagreement",
    "AnnotationSampler": "sampling", "Candidate": "sampling", "candidates_from_events": "sampling",
    "open_campaign_batch": "to_annotation", "policy_candidates": "to_annotation",
    "Probe": "redteam", "RedTeamRun": "redteam", "load_sets": "redteam", "run_probes": "redteam",
    "policy_responder": "redteam", "reward_scorers": "redteam", "named_scorers": "redteam",
    "register_scorers": "redteam", "write_report": "report", "write_redteam_report": "report",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
