"""Issuing work and taking answers: counterbalanced display order, no repeats, paused task types skipped.

Display order: for each pair the orders given so far are kept balanced (the next rater gets
the order shown less often) and a fair coin decides when they are level, so every pair is
seen in both orders by different raters and no rater's order is predictable.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from tether.audit.rater_kind import judged_by_ai
from tether.collect.campaign import CampaignError, CampaignInfo, audit_blocks, get_campaign
from tether.collect.campaign_checks import agreement_by_task_type, paused_task_types, rating_agreement
from tether.records import Comparison, Rating, Side
from tether.store import Conn, Store
from tether.store import assignment_repo as work
from tether.store import collect_repo as repo
from tether.store.assignment_repo import open_tasks as open_tasks  # re-exported: the rater pages' queries
from tether.store.assignment_repo import rater_campaigns as rater_campaigns
from tether.store.assignment_repo import rater_progress as rater_progress
from tether.store.collect_repo import current_rubric, task_type_states

Display = Literal["first", "second", "tie"]


class TaskNotFound(LookupError):
    """No such open task for this rater (never says whether it exists for someone else)."""


class AlreadyAnswered(RuntimeError):
    """The task was answered before; answers are final."""


def _enrolment(conn: Conn, campaign_id: int, rater_id: str) -> repo.Enrolment | None:
    found = repo.enrolments(conn, campaign_id, rater_id=rater_id)
    return found[0] if found else None


def fill_queue(store: Store, campaign: str, rater_id: str, *, rng: random.Random | None = None) -> list[int]:
    """Issue new assignments to a rater until their open queue is full; returns the new assignment ids."""
    rng = rng or random.SystemRandom()
    if work.queue_is_full(store, campaign, rater_id):  # the common case on every page view: no write needed
        return []
    audit = store.latest_audit_run(campaign, with_result=False)
    with store.write_transaction() as conn:
        info = get_campaign(conn, campaign, lock=True)
        s = info.settings
        work.expire_open_assignments(conn, info.id, s.assignment_expiry_hours)
        qual = _enrolment(conn, info.id, rater_id)
        if qual is None or qual.status not in repo.OPEN_STATUSES:
            return []
        states = task_type_states(conn, info.id)
        blocked = audit_blocks(conn, info, audit)
        open_types = [t for t, st in states.items() if st.status != "paused" and t not in blocked]
        if not open_types:
            return []
        need = s.queue_size - work.open_count(conn, info.id, rater_id)
        if need <= 0:
            return []

        def unseen_checks(kind: str, limit: int) -> list[tuple[int, str]]:
            rows = work.unseen_items(conn, info.id, rater_id, open_types, kind)
            rng.shuffle(rows)
            return rows[:limit]

        chosen: list[tuple[int, str, str]] = []  # item id, task type, phase
        if qual.status in ("qualifying", "requalify"):
            # qualification: gold items only, as many as still needed
            done = work.gold_issued_since(conn, info.id, rater_id, qual.since_assignment)
            want = min(need, max(s.qualification_gold, 1) - done)
            chosen = [(i, tt, "qualification") for i, tt in unseen_checks("gold", want)]
        else:
            pilot = {t: st.pilot_round for t, st in states.items() if st.status == "pilot"}
            active = [t for t, st in states.items() if st.status == "active"]
            regular = work.regular_candidates(conn, info.id, rater_id, open_types, pilot, active, s.overlap, need)
            golds = unseen_checks("gold", need)
            attention = unseen_checks("attention", need)
            for _ in range(need):
                roll = rng.random()
                if roll < s.gold_rate and golds:
                    chosen.append((*golds.pop(), "gold"))
                elif roll < s.gold_rate + s.attention_rate and attention:
                    chosen.append((*attention.pop(), "attention"))
                elif regular:
                    chosen.append(regular.pop(0))
        return [_issue(conn, info, rater_id, item_id, task_type, phase, rng) for item_id, task_type, phase in chosen]


def _issue(conn: Conn, info: CampaignInfo, rater_id: str, item_id: int, task_type: str, phase: str,
           rng: random.Random) -> int:
    version, _ = current_rubric(conn, info.id, task_type)
    task, spec = repo.item_task(conn, item_id)
    objectives = info.settings.objectives
    if task == "rating":
        shown_first = "a"  # one response: no display order to balance
        if spec and spec.get("objectives"):
            objectives = spec["objectives"]  # a rating item may ask for some of the campaign's objectives only
    else:
        a_first, b_first = work.display_counts(conn, item_id)
        # counterbalance when the orders so far are uneven, a fair coin when they are level
        shown_first = rng.choice("ab") if a_first == b_first else ("a" if a_first < b_first else "b")
    return work.add_assignment(conn, info.id, item_id, rater_id, list(objectives), shown_first, phase, version)


@dataclass(frozen=True)
class Task:
    """What a rater's task page shows, in the order this rater sees it."""

    id: int
    campaign: str
    task_type: str
    objectives: list[str]
    rubric_version: str | None
    rubric: str
    prompt: str
    first: str
    second: str
    shown_first: Side
    answered: bool
    task: str = "pairwise"  # or "rating": `first` is the one response, rated on `scale`
    scale: tuple[int, int] | None = None
    scale_labels: list[str] | None = None

    @property
    def points(self) -> list[int]:
        """A rating task's scale points, lowest first."""
        return list(range(self.scale[0], self.scale[1] + 1)) if self.scale else []


def get_task(store: Store, assignment_id: int, rater_id: str, *, mark_shown: bool = True) -> Task:
    """A rater's own task (TaskNotFound for anyone else's); the first view starts the time on task."""
    with store.connect() as conn:
        row = work.task_record(conn, assignment_id, rater_id)
        if row is None:
            raise TaskNotFound(assignment_id)
        version, text = current_rubric(conn, row.campaign_id, row.task_type)
    if mark_shown and row.first_shown_at is None and row.answered_at is None:
        work.mark_shown(store, assignment_id)  # the first view starts the clock; later views do not move it
    if row.rubric_version and row.rubric_version != version:
        version = row.rubric_version  # issued under an older version: show that one's text
        with store.connect() as conn:
            text = repo.rubric_text(conn, row.campaign_id, row.task_type, version) or text
    first, second = (row.a, row.b) if row.shown_first == "a" else (row.b, row.a)
    spec = row.task_spec or {}
    return Task(id=row.id, campaign=row.campaign, task_type=row.task_type, objectives=list(row.objectives),
                rubric_version=version, rubric=text, prompt=row.prompt, first=first, second=second,
                shown_first=Side(row.shown_first), answered=row.answered_at is not None, task=row.task,
                scale=tuple(spec["scale"]) if "scale" in spec else None, scale_labels=spec.get("labels"))


def to_canonical(display: Display, shown_first: Side) -> str:
    """A display-terms answer (first / second / tie) as the canonical choice (a / b / tie)."""
    if display == "tie":
        return "tie"
    return shown_first.value if display == "first" else shown_first.other.value


def submit_answer(store: Store, assignment_id: int, rater_id: str, choices: Mapping[str, Display | int],
                  confidence: float | None = None, rationale: str | None = None) -> list[Comparison | Rating]:
    """Record a rater's answer: one Comparison per objective, in canonical terms with the order they saw, or
    for a rating task one Rating per objective (`choices`: objective -> score); `rationale` is stored with each."""
    now = datetime.now(UTC)
    rationale = (rationale or "").strip() or None
    with store.write_transaction() as conn:
        # the write comes first: it takes the write lock and claims the task atomically
        claim = work.claim_assignment(conn, assignment_id, rater_id, now)
        if claim == "missing":
            raise TaskNotFound(assignment_id)
        if claim == "answered":
            raise AlreadyAnswered(assignment_id)
        row = work.task_record(conn, assignment_id, rater_id)
        if set(choices) != set(row.objectives):
            raise ValueError(f"answer every objective exactly once: expected {sorted(row.objectives)}, "
                             f"got {sorted(choices)}")
        started = row.first_shown_at or row.issued_at
        if started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        time_ms = max(0, int((now - started).total_seconds() * 1000))
        extras: dict[str, Any] = {"assignment_id": row.id, "time_on_task_ms": time_ms}
        if row.kind != "regular":
            extras["item_kind"] = row.kind
        if row.task == "rating":
            judgments: list[Comparison | Rating] = list(_ratings(row, choices, rater_id, now, rationale, extras))
            store.add_ratings(judgments, conn=conn)
            answers: dict[str, Any] = {"scores": dict(choices)}
        else:
            shown_first = Side(row.shown_first)
            if any(choices[obj] not in ("first", "second", "tie") for obj in row.objectives):
                raise ValueError("a pairwise task is answered with first, second or tie")
            canonical = {obj: to_canonical(choices[obj], shown_first) for obj in row.objectives}
            if rationale:
                extras["rationale"] = rationale
            judgments = [
                Comparison(prompt=row.prompt, response_a=row.a, response_b=row.b, shown_first=shown_first,
                           choice=canonical[obj], rater=rater_id, pair_id=row.pair_id, objective=obj,
                           task_type=row.task_type, confidence=confidence, campaign=row.campaign,
                           interface=row.interface, rubric_version=row.rubric_version, created_at=now, **extras)
                for obj in row.objectives
            ]
            store.add_comparisons(judgments, conn=conn)
            answers = {"choices": canonical, "confidence": confidence}
        if rationale:
            answers["rationale"] = rationale
        work.record_answer(conn, assignment_id, time_ms, answers)
        info = get_campaign(conn, row.campaign)
        if row.phase == "qualification":
            _update_qualification(conn, info, rater_id)
        elif row.phase == "pilot":
            review_pilot(conn, info, row.task_type)
    return judgments


def _ratings(row: work.TaskRecord, scores: Mapping[str, Any], rater_id: str, now: datetime, rationale: str | None,
             extras: dict[str, Any]) -> list[Rating]:
    low, high = (row.task_spec or {}).get("scale", (1, 7))
    bad = {obj: v for obj, v in scores.items() if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high}
    if bad:
        raise ValueError(f"scores must be whole numbers from {low} to {high}, got {bad}")
    labels = (row.task_spec or {}).get("labels")
    return [Rating(prompt=row.prompt, response=row.a, score=scores[obj], scale_min=low, scale_max=high,
                   scale_labels=labels, rater=rater_id, item_id=row.pair_id, objective=obj, task_type=row.task_type,
                   campaign=row.campaign, interface=row.interface, rubric_version=row.rubric_version,
                   created_at=now, rationale=rationale, **extras)
            for obj in row.objectives]


def gold_accuracy(conn: Conn, campaign_id: int, rater_id: str, *, after: int = 0) -> tuple[float | None, int]:
    """(share of objectives answered as expected, gold answers) over a rater's answered gold items."""
    rows = work.gold_answers(conn, campaign_id, rater_id, after=after)
    hits = total = 0
    for answers, expected in rows:
        for obj, want in (expected or {}).items():
            got = (answers or {}).get("choices", {}).get(obj)
            if got is not None:
                hits += got == want
                total += 1
    return (hits / total if total else None), len(rows)


def _update_qualification(conn: Conn, info: CampaignInfo, rater_id: str) -> None:
    qual = _enrolment(conn, info.id, rater_id)
    accuracy, n = gold_accuracy(conn, info.id, rater_id, after=qual.since_assignment)
    need = max(info.settings.qualification_gold, 1)
    if n < need or accuracy is None:
        return
    passed = accuracy >= info.settings.pass_threshold
    repo.update_enrolment(conn, qual.id, status="qualified" if passed else "failed", gold_accuracy=accuracy, n_gold=n,
                          reason=f"gold accuracy {accuracy:.2f} on {n} items ({'>=' if passed else '<'} "
                                 f"{info.settings.pass_threshold:.2f})")


def review_pilot(conn: Conn, info: CampaignInfo, task_type: str, *, force: bool = False) -> str | None:
    """When a task type's pilot round is fully answered, decide: active, or paused (agreement < threshold)."""
    state = task_type_states(conn, info.id)[task_type]
    if state.status != "pilot":
        return None
    per_item = repo.pilot_answer_counts(conn, info.id, task_type, state.pilot_round)
    if not force and any(n < info.settings.overlap for n in per_item):
        return None
    threshold = info.settings.agreement_threshold
    if repo.task_type_tasks(conn, info.id).get(task_type) == "rating":
        value = rating_agreement(repo.pilot_ratings(conn, info.id, info.settings.name, task_type, state.pilot_round))
    else:
        # the pilot asks whether people read the rubric alike: an LLM judge's verdicts on pilot items do not count
        pilot = [c for c in repo.pilot_comparisons(conn, info.id, info.settings.name, task_type, state.pilot_round)
                 if not judged_by_ai(c)]
        value = agreement_by_task_type(pilot).get(task_type)
    if value is None:
        if not force:
            return None
        raise CampaignError(f"task type {task_type!r}: too few pilot items with two answers to judge agreement")
    if task_type in paused_task_types({task_type: value}, threshold):
        repo.set_task_type_state(conn, info.id, task_type, status="paused", agreement=value,
                                 reason=f"pilot round {state.pilot_round}: Krippendorff's alpha {value:.3f} < "
                                        f"{threshold} (ambiguous rubric {state.rubric_version}); publish a revised "
                                        "rubric to resume")
        work.withdraw_open_assignments(conn, info.id, task_type)
        return "paused"
    repo.set_task_type_state(conn, info.id, task_type, status="active", agreement=value,
                             reason=f"pilot round {state.pilot_round}: Krippendorff's alpha {value:.3f} >= {threshold}")
    return "active"


def review_pilots(store: Store, campaign: str, *, force: bool = False) -> dict[str, str | None]:
    """Review every task type still in its pilot; `force` decides on the answers so far."""
    with store.write_transaction() as conn:
        info = get_campaign(conn, campaign, lock=True)
        return {tt: review_pilot(conn, info, tt, force=force)
                for tt, st in task_type_states(conn, info.id).items() if st.status == "pilot"}
