"""An LLM judge as a campaign's extra rater: the campaign's own items, rubric and objectives, both display orders,
verdicts stored into the campaign (so `tether campaign status` and `tether audit --campaign` include them).

Regular and gold items are judged (gold answers stay marked `item_kind: gold`, as a human's do); attention checks
("choose B") test a person's attention and are skipped. A rerun judges only what the judge has not answered yet.
"""

from __future__ import annotations

from tether.raters.judge import INTERFACE, JudgeConfig, JudgeError, JudgeItem
from tether.records import AI_KIND, Rater, Side
from tether.store import Store

SKIPPED_KINDS = ("attention",)


def campaign_judge_items(store: Store, campaign: str, rubric: str | None = None) -> list[JudgeItem]:
    """One item per (campaign item, objective); the task type's current rubric unless `rubric` replaces it."""
    from tether.collect.campaign import CampaignError, stored_items

    try:
        info, items = stored_items(store, campaign)
    except CampaignError as exc:
        raise JudgeError(str(exc)) from None
    out = [JudgeItem(i.prompt, i.response_a, i.response_b, task_type=i.task_type, pair_id=i.pair_id,
                     objective=objective, rubric=None if rubric else i.rubric,
                     rubric_version=None if rubric else i.rubric_version,
                     extras={} if i.kind == "regular" else {"item_kind": i.kind})
           for i in items if i.kind not in SKIPPED_KINDS for objective in info.settings.objectives]
    if not out:
        raise JudgeError(f"campaign {campaign!r} has no regular or gold items to judge")
    return out


def answered(store: Store, config: JudgeConfig) -> set[tuple[str | None, str, Side]]:
    """(pair_id, objective, shown_first) this judge already answered in the config's campaign."""
    return {(c.pair_id, c.objective, c.shown_first)
            for c in store.iter_comparisons(campaign=config.campaign, rater=config.rater)}


def register_judge(store: Store, config: JudgeConfig) -> None:
    """The judge's Rater record: `kind: "ai"` marks it as a model for the audit (the endpoint's key is never
    stored, nor its URL, which may carry credentials)."""
    store.upsert_raters([Rater(id=config.rater, name=config.model,
                               attributes={"kind": AI_KIND, "model": config.model, "interface": INTERFACE})])
