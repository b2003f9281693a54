"""A campaign's progress so far: work issued and answered, agreement, position bias, paused task types."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from typing import Any

from tether.audit.rater_kind import judged_by_ai
from tether.collect.assign import gold_accuracy
from tether.collect.campaign import audit_blocks, get_campaign, task_type_states
from tether.collect.campaign_checks import agreement_by_task_type, position_bias, rating_agreement
from tether.store import Store
from tether.store import collect_repo as repo


def campaign_status(store: Store, campaign: str) -> dict[str, Any]:
    """Everything the campaign page and `tether campaign status` show, as plain data."""
    audit = store.latest_audit_run(campaign, with_result=False)
    with store.connect() as conn:
        info = get_campaign(conn, campaign)
        states = task_type_states(conn, info.id)
        blocked = audit_blocks(conn, info, audit)
        items, work = repo.campaign_counts(conn, info.id)
        tasks = repo.task_type_tasks(conn, info.id)
        raters = repo.enrolments(conn, info.id)
        gold = {r.rater_id: gold_accuracy(conn, info.id, r.rater_id) for r in raters}
    everyone = [c for c in store.iter_comparisons(campaign=campaign) if "item_kind" not in c.extras]
    ai_names = {r.id for r in store.raters() if r.is_ai}
    # AI raters (an LLM judge as an extra rater) are reported beside the people; the rule and the campaign's
    # numbers so far are the people's
    ai = [c for c in everyone if judged_by_ai(c, ai_names)]
    regular = [c for c in everyone if not judged_by_ai(c, ai_names)]
    by_rater: dict[str, list] = defaultdict(list)
    for c in everyone:
        by_rater[c.rater].append(c)
    bias = position_bias(regular)
    per_type: dict[str, dict[str, Any]] = {
        tt: {"task": tasks.get(tt, "pairwise"), "status": st.status, "pilot_round": st.pilot_round,
             "rubric_version": st.rubric_version, "pilot_agreement": st.agreement, "reason": st.reason, "items": {},
             "issued": 0, "answered": 0, "mean_time_on_task_s": None}
        for tt, st in states.items()
    }
    for tt, kind, n in items:
        per_type[tt]["items"][kind] = n
    for tt, issued, answered, mean_ms in work:
        per_type[tt].update(issued=issued, answered=answered,
                            mean_time_on_task_s=None if mean_ms is None else round(float(mean_ms) / 1000, 2))
    for tt, value in agreement_by_task_type(regular).items():
        per_type[tt]["agreement_so_far"] = value
    ratings: dict[str, list] = defaultdict(list)
    for r in store.iter_ratings(campaign=campaign):
        ratings[r.task_type].append(r)
    for tt, rs in ratings.items():
        if tt in per_type and (value := rating_agreement(rs)) is not None:
            per_type[tt]["agreement_so_far"] = value
    if ai:
        for tt, value in agreement_by_task_type(everyone).items():
            per_type[tt]["agreement_so_far_with_ai"] = value
    return {
        "campaign": campaign,
        "objectives": info.settings.objectives,
        "overlap": info.settings.overlap,
        "agreement_threshold": info.settings.agreement_threshold,
        "task_types": per_type,
        "paused_task_types": sorted(tt for tt, st in states.items() if st.status == "paused" or tt in blocked),
        "audit_run": None if audit is None else audit.id,
        "blocked_by_audit": blocked,
        "issued": sum(v["issued"] for v in per_type.values()),
        "answered": sum(v["answered"] for v in per_type.values()),
        "position_bias": None if bias is None else asdict(bias),
        "position_bias_by_rater": {r: asdict(b) for r, cs in sorted(by_rater.items())
                                   if (b := position_bias(cs)) is not None},
        "ai_raters": {name: len(by_rater[name]) for name in sorted({c.rater for c in ai})},
        "raters": [{"rater": r.rater_id, "status": r.status, "reason": r.reason,
                    "gold_accuracy": gold[r.rater_id][0], "gold_answers": gold[r.rater_id][1]} for r in raters],
    }
