"""tether.collect: annotation campaigns with the position guard built in, and the rater web app (guards 1 and 2).

    create_campaign(store, CampaignSettings(name="helpful-v1", overlap=3, pilot_items=10), items, rubric)
    enroll(store, "helpful-v1", rater_ids)
    fill_queue(store, "helpful-v1", rater)                 # counterbalanced display order, no repeats
    submit_answer(store, assignment, rater, {"overall": "first"})   # stored as a canonical Comparison
    campaign_status(store, "helpful-v1")                   # agreement and position bias so far, paused task types

A task type whose pilot agreement is below the 0.4 rule, or that the latest stored audit run covering the
campaign blocked, gets no new work until a revised rubric is published (`publish_rubric`).
"""

from __future__ import annotations

from tether.lazy import lazy_exports

_LAZY = {
    "CampaignSettings": "campaign", "CampaignItem": "campaign", "CampaignError": "campaign",
    "read_items": "campaign", "create_campaign": "campaign", "enroll": "campaign", "pause_task_type": "campaign",
    "publish_rubric": "campaign", "audit_blocks": "campaign", "fill_queue": "assign", "get_task": "assign",
    "submit_answer": "assign", "review_pilots": "assign", "campaign_status": "status",
    "assignment_log": "export", "create_raters_with_tokens": "security", "create_admin_credential": "security",
}

__all__, __getattr__ = lazy_exports(__name__, _LAZY)
