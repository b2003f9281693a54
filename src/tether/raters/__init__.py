"""tether.raters: recruit to a written profile, qualify on gold, send back raters whose numbers drop (guard 1).

    profile = load_profile("profile.toml")                 # the target population, attribute by attribute
    ranked = rank(profile, read_candidates("candidates.jsonl"))   # each candidate's match, with reasons
    qualifications(store, "campaign"); requalify(store, "campaign", agreement=reliability)
    judge(read_items("pairs.jsonl"), JudgeConfig(base_url, model, rubric), api_key)   # an LLM judge as a rater
"""

from __future__ import annotations

from tether.lazy import lazy_exports

_LAZY = {
    "TargetProfile": "profile", "load_profile": "profile", "read_candidates": "profile",
    "stored_raters": "profile", "Match": "match", "match": "match", "rank": "match",
    "JudgeConfig": "judge", "JudgeItem": "judge", "JudgeResult": "judge", "JudgeError": "judge", "judge": "judge",
    "load_api_key": "judge", "read_items": "judge", "parse_verdict": "judge",
    "Qualification": "qualify", "qualifications": "qualify", "requalify": "qualify",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
