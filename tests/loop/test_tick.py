"""`tether loop tick`: triggers from stored data, one batch at a time (twice in a row does the work once), retraining
and the challenge once the batch is labelled, and `forget` reaching what a batch derived from a user's traces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tether.deploy.forget import forget
from tether.loop.config import LoopConfig
from tether.loop.tick import LoopError, tick
from tether.loop.triggers import Evidence, cadence, negative_feedback, outcome_auc, paused
from tether.records import Comparison, Event, EventType, Outcome, Promotion, Rater, RewardContract
from tether.shift.embed import minilm_path, model_id
from tether.store import Store
from tether.store.embedding_cache import EmbeddingCache

NOW = datetime(2026, 6, 1, tzinfo=UTC)
TOPICS = ["tax forms", "a sourdough starter", "bike brakes", "python decorators", "a job interview", "tide tables",
          "houseplants", "a car battery", "knitting", "a lease contract", "jet lag", "a chess opening"]


def generations(n: int, start: datetime, *, negative: int = 0, prefix: str = "t") -> list[Event]:
    events = []
    for i in range(n):
        trace = f"{prefix}{i}"
        ts = start + timedelta(hours=i)
        events.append(Event(event_id=f"{trace}-g", type=EventType.GENERATION, trace_id=trace, timestamp=ts,
                            prompt=f"How do I deal with {TOPICS[i % len(TOPICS)]}? (case {i})",
                            response=f"answer {i}", model="m1", attributes={"user_id": f"u-{i % 3}"}))
        if i < negative:
            events.append(Event(event_id=f"{trace}-f", type=EventType.FEEDBACK, trace_id=trace, name="thumbs",
                                value=-1, timestamp=ts + timedelta(minutes=1)))
    return events


def evidence(events: list[Event], **kw) -> Evidence:  # noqa: ANN003
    base = {"now": NOW, "champion": None, "events": events, "outcomes": [], "training_prompts": [],
            "paused_task_types": []}
    return Evidence(**{**base, **kw})


CFG = LoopConfig(min_window=10)


def test_cadence_fires_without_a_champion_and_when_it_is_older_than_the_cadence() -> None:
    assert cadence(evidence([]), CFG).fired
    young = Promotion(role="reward", action="promote", path="/m", created_at=NOW - timedelta(days=3))
    old = Promotion(role="reward", action="promote", path="/m", created_at=NOW - timedelta(days=8))
    assert not cadence(evidence([], champion=young), CFG).fired
    t = cadence(evidence([], champion=old), CFG)
    assert t.fired and t.value == pytest.approx(8.0)


def test_negative_feedback_trigger_compares_this_window_with_the_one_before() -> None:
    week = timedelta(days=7)
    before = generations(40, NOW - 2 * week, negative=2, prefix="b")  # 5% negative
    now = generations(40, NOW - week, negative=8, prefix="n")  # 20% negative
    t = negative_feedback(evidence(before + now), CFG)
    assert t.fired and t.value == pytest.approx(0.15)
    assert not negative_feedback(evidence(before + generations(40, NOW - week, negative=3, prefix="n")), CFG).fired
    quiet = negative_feedback(evidence(now), CFG)
    assert not quiet.fired and "not enough generations" in quiet.detail


class LengthModel:
    """Scores a response by its length: right while long answers pass, wrong once they start failing."""

    objectives = ("overall",)

    def contract(self, objective: str) -> RewardContract:
        return RewardContract(name="len", objective=objective)

    def score(self, prompts: list[str], responses: list[str]) -> dict[str, np.ndarray]:
        return {"overall": np.array([float(len(r)) for r in responses])}


def test_outcome_trigger_fires_when_the_champions_auc_against_outcomes_falls() -> None:
    week = timedelta(days=7)
    events, outcomes = [], []
    for side, start in (("b", NOW - 2 * week), ("n", NOW - week)):
        for i in range(30):
            long = i % 2 == 0
            passed = long if side == "b" else not long  # long answers stop working in the new window
            trace = f"{side}{i}"
            events.append(Event(event_id=trace, type=EventType.GENERATION, trace_id=trace,
                                timestamp=start + timedelta(hours=i), prompt=f"q{i}", model="m1",
                                response="a much longer answer" if long else "short"))
            outcomes.append(Outcome(outcome_id=f"o{trace}", name="resolved", value=int(passed), trace_id=trace))
    champion = Promotion(role="reward", action="promote", path="/m", created_at=NOW)
    t = outcome_auc(evidence(events, outcomes=outcomes, champion=champion, champion_model=LengthModel()), CFG)
    assert t.fired and t.value == pytest.approx(1.0)


def test_paused_task_types_fire() -> None:
    assert paused(evidence([], paused_task_types=["code"]), CFG).fired
    assert not paused(evidence([]), CFG).fired


@pytest.fixture
def loop_store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'loop.db'}")
    store.upsert_raters([Rater(id="ana"), Rater(id="ben")])
    store.add_events(generations(36, NOW - timedelta(days=6)), project="shop")
    yield store
    store.close()


def two_answers(prompts: list[str]) -> tuple[list[str], list[str]]:
    return ([f"A careful, correct answer about {p[20:40]}" for p in prompts],
            [f"Whatever, figure out {p[20:40]} yourself" for p in prompts])


def test_tick_opens_one_batch_waits_then_retrains_and_challenges(loop_store: Store, tmp_path: Path,
                                                                 tiny_backbone: Path) -> None:
    rubric = tmp_path / "rubric.md"
    rubric.write_text("Prefer the answer that helps.")
    cfg = LoopConfig(batch_prompts=24, raters=["ana", "ben"], overlap=2, rubric=str(rubric),
                     backbone=str(tiny_backbone), train_steps=3, max_length=32, heldout_fraction=0.4)
    cache = EmbeddingCache(tmp_path / "embeddings")
    args = {"project": "shop", "models_dir": tmp_path / "models", "now": NOW, "candidates": two_answers,
            "embeddings": cache}
    first = tick(loop_store, cfg, **args)
    assert first.state == "labelling" and [t.name for t in first.triggers if t.fired] == ["cadence"]
    assert first.result["items"] == 24
    picked = [p for _, p, *_ in _items(loop_store, first.campaign)]
    assert len(cache.get(model_id(minilm_path()), 128, picked)) == len(picked)  # a later tick re-embeds none of them
    second = tick(loop_store, cfg, **args)  # run again at once: nothing new is opened
    assert second.state == "waiting" and second.campaign == first.campaign
    assert second.result == {"judged": 0, "items": 24}
    assert len([t for t in loop_store.ticks("reward") if t["state"] == "labelling"]) == 1

    opened = loop_store.ticks("reward")[-1]["result"]["items"]
    items = [c for c in _items(loop_store, first.campaign)]
    assert {pair for pair, *_ in items} == set(opened)
    judgments = [Comparison(prompt=p, response_a=a, response_b=b, shown_first="a" if r == "ana" else "b",
                            choice="a", rater=r, pair_id=pair, campaign=first.campaign)
                 for pair, p, a, b in items for r in ("ana", "ben")]
    loop_store.add_comparisons(judgments)
    third = tick(loop_store, cfg, **args)
    assert third.state == "retrained", third
    pairs = third.result["pairs"]
    assert pairs["champion"] == 0 and pairs["new"] + pairs["heldout"] == 24 and pairs["heldout"] > 0
    decision = loop_store.promotions("reward")[-1]
    assert decision.action == ("promote" if third.result["challenge"]["passed"] else "refuse")
    assert decision.model == Path(third.result["model"]).name
    assert tick(loop_store, cfg, **args).state in ("idle", "labelling")  # the batch is no longer pending

    # forget one user's traces: their batch items, judgments and curated pairs go too
    before = len(_items(loop_store, first.campaign))
    doomed = {t for t, trace in opened.items() if trace is not None and int(trace[1:]) % 3 == 1}
    result = forget(loop_store, "shop", user="u-1")
    assert result.batch_items > 0
    left = _items(loop_store, first.campaign)
    assert len(left) == before - len(doomed) and not {pair for pair, *_ in left} & doomed
    assert not [c for c in loop_store.iter_comparisons(campaign=first.campaign) if c.pair_id in doomed]
    assert not [p for p in loop_store.iter_pairs() if p.provenance.get("pair_id") in doomed]


def _items(store: Store, campaign: str) -> list[tuple[str, str, str, str]]:
    from sqlalchemy import select

    from tether.store.collect_models import CampaignItemRow, CampaignRow
    from tether.store.models import PromptRow, ResponseRow

    a, b = ResponseRow.__table__.alias("a"), ResponseRow.__table__.alias("b")
    with store.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(CampaignItemRow.pair_id, PromptRow.text, a.c.text, b.c.text)
            .join(CampaignRow, CampaignRow.id == CampaignItemRow.campaign_id)
            .join(PromptRow, PromptRow.id == CampaignItemRow.prompt_id)
            .join(a, a.c.id == CampaignItemRow.response_a_id).join(b, b.c.id == CampaignItemRow.response_b_id)
            .where(CampaignRow.name == campaign))]


def test_a_batch_needs_a_rubric_and_raters_and_a_running_tick_holds_the_lock(loop_store: Store, tmp_path: Path) -> None:
    with pytest.raises(LoopError, match="rubric None is not a file; raters is empty"):
        tick(loop_store, LoopConfig(), project="shop", models_dir=tmp_path, now=NOW, candidates=two_answers)
    assert loop_store.acquire_loop_lock("reward", "me", stale_after=timedelta(hours=1))  # released after the error
    assert tick(loop_store, LoopConfig(), project="shop", models_dir=tmp_path, now=NOW).state == "locked"


def test_confidence_trigger_and_low_confidence_answers_are_sampled_first() -> None:
    from tether.loop.triggers import confidence
    from tether.shift.sampling import MEAN_LOGPROB, AnnotationSampler, candidates_from_events

    week = timedelta(days=7)
    events = []
    for side, start, lp in (("b", NOW - 2 * week, -0.3), ("n", NOW - week, -0.8)):
        for e in generations(20, start, prefix=side):
            events.append(e.model_copy(update={"attributes": {**e.attributes, MEAN_LOGPROB: lp}}))
    t = confidence(evidence(events), CFG)
    assert t.fired and t.value == pytest.approx(0.5)
    # the sampler: same novelty everywhere, so the least confident answer is picked first, with its reason
    cands = candidates_from_events(events[:3])
    cands[1] = type(cands[1])(cands[1].text, cands[1].trace_id, False, cands[1].response, -2.5)
    cands[0] = type(cands[0])(cands[0].text, cands[0].trace_id, False, cands[0].response, -0.1)
    emb = np.eye(3)
    picks = AnnotationSampler(1, cluster_bonus=0).fit(np.zeros((0, 3)), emb, cands).picks_
    assert picks[0].trace_id == cands[1].trace_id and "low confidence 1.00" in picks[0].reasons


def test_a_training_window_keeps_the_pairs_of_the_latest_batches_only() -> None:
    from tether.loop.tick import recent_batches
    from tether.records import PreferencePair

    def pair(i: int, batch: str | None) -> PreferencePair:
        return PreferencePair(prompt=f"p{i}", chosen="a", rejected="b",
                              provenance={"loop_batch": batch} if batch else {})

    pairs = [pair(0, None), pair(1, "b1"), pair(2, "b2"), pair(3, "b3"), pair(4, "b3")]
    newest_first = ["b3", "b2", "b1"]
    assert [p.prompt for p in recent_batches(pairs, newest_first, 2)] == ["p2", "p3", "p4"]
    assert recent_batches(pairs, newest_first, 0) == []  # the launch set and every older batch are forgotten
    assert len(recent_batches(pairs, newest_first, 5)) == 4
