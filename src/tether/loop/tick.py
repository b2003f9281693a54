"""One turn of the loop, safe to run from cron, a Kubernetes CronJob or an Airflow task: `tick(store, config)`.

A tick takes the role's lock, then does exactly one of:
- a batch it opened earlier is still being labelled: record that (`waiting`, with the progress) and stop — no
  duplicate batch is opened, so running tick twice in a row does the work once;
- that batch is complete: audit it, curate it, keep a share of its prompts out as fresh held-out pairs, retrain a
  challenger on the champion's data plus the rest, and challenge the champion with it (promote, or refuse with the
  failing checks) — `retrained`;
- nothing pending: evaluate the triggers (cadence, drift, negative feedback, outcome AUC, a paused task type); when
  one fires, sample production prompts into a new campaign batch (`labelling`), else record `idle`.

Every tick is recorded (`tether loop status`). What a batch derives from production traces — its campaign items, the
judgments of them and the curated pairs — keeps the trace ids, so `tether deploy forget` reaches it.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tether.loop.config import LoopConfig
from tether.loop.triggers import Evidence, Trigger, evaluate_triggers
from tether.records import Comparison, PreferencePair, content_hash
from tether.store.bulk import aware as _aware

__all__ = ["TickResult", "tick", "LoopError"]

PENDING = ("labelling", "waiting", "retraining", "failed")  # a failed or killed retraining is retried
CandidateFn = Callable[[list[str]], tuple[list[str], list[str]]]


class LoopError(ValueError):
    """The loop cannot run as configured (no policy to write candidates, no rubric, no raters, no production data)."""


@dataclass
class TickResult:
    state: str                      # idle / labelling / waiting / retrained / locked
    tick_id: int | None = None
    campaign: str | None = None
    triggers: list[Trigger] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "tick": self.tick_id, "campaign": self.campaign,
                "triggers": [t.to_dict() for t in self.triggers], "actions": self.actions, "result": self.result}


def tick(store: Any, config: LoopConfig, *, project: str, models_dir: str | Path, now: datetime | None = None,
         candidates: CandidateFn | None = None, on_step: Callable[[str], None] | None = None,
         embeddings: Any = None) -> TickResult:
    """Run one tick for `config.role` over the events of tenant `project`; retrained models go under `models_dir`.
    `candidates` writes the two answers of each sampled prompt (default: `config.policy`'s greedy and sampled);
    `embeddings`: the project's embedding cache (`tether.store.embedding_cache`), so that a tick re-embeds only the
    prompts it has not seen (`tether deploy forget` purges the forgotten events' texts from it)."""
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    if not store.acquire_loop_lock(config.role, holder, stale_after=timedelta(hours=config.lock_hours)):
        return TickResult("locked", actions=[f"another tick of role {config.role!r} is running; nothing done"])
    try:
        step = on_step or (lambda _msg: None)
        pending = _pending(store, config.role)
        if pending is not None:
            return _advance(store, config, pending, models_dir, step)
        return _watch(store, config, project, now or datetime.now(UTC), candidates, step, embeddings)
    finally:
        store.release_loop_lock(config.role, holder)


def _pending(store: Any, role: str) -> dict[str, Any] | None:
    """The batch the newest batch-carrying tick left open, if it is still open."""
    for t in store.ticks(role):
        if t["campaign"] is not None:
            return t if t["state"] in PENDING else None
    return None


def _opened(store: Any, role: str, campaign: str) -> dict[str, Any]:
    """The tick that opened `campaign` (its result holds the batch's items and their traces)."""
    return next(t for t in reversed(store.ticks(role)) if t["campaign"] == campaign and t["state"] == "labelling")


def _progress(store: Any, campaign: str, items: dict[str, str | None], overlap: int) -> tuple[int, int]:
    """(pairs judged by `overlap` distinct raters, pairs in the batch)."""
    raters: dict[str, set[str]] = {}
    for c in store.iter_comparisons(campaign=campaign):
        raters.setdefault(c.pair_id, set()).add(c.rater)
    return sum(len(raters.get(p, ())) >= overlap for p in items), len(items)


def _advance(store: Any, cfg: LoopConfig, pending: dict[str, Any], models_dir: str | Path,
             step: Callable[[str], None]) -> TickResult:
    campaign = pending["campaign"]
    opened = _opened(store, cfg.role, campaign)
    items: dict[str, str | None] = opened["result"]["items"]
    done, total = _progress(store, campaign, items, opened["result"]["overlap"])
    if done < total:
        progress = {"judged": done, "items": total}
        tick_id = store.add_tick(cfg.role, "waiting", campaign=campaign, result=progress,
                                 actions=[f"batch {campaign} is being labelled: {done} of {total} pairs judged"],
                                 finished_at=datetime.now(UTC))
        return TickResult("waiting", tick_id, campaign, actions=[f"waiting on batch {campaign}: {done}/{total} "
                                                                 "pairs judged by enough raters"], result=progress)
    tick_id = store.add_tick(cfg.role, "retraining", campaign=campaign)
    try:
        actions, result = _retrain(store, cfg, campaign, items, Path(models_dir), tick_id, step)
    except Exception as exc:
        store.finish_tick(tick_id, "failed", result={"error": str(exc)})
        raise
    store.finish_tick(tick_id, "retrained", actions=actions, result=result)
    return TickResult("retrained", tick_id, campaign, actions=actions, result=result)


def _split(pairs: Sequence[PreferencePair], fraction: float, seed: int) -> tuple[list, list]:
    """(train, held out) by prompt, stable under re-runs: a prompt's side depends on its text and the seed only."""
    train, heldout = [], []
    for p in pairs:
        bucket = int(content_hash(str(seed), p.prompt)[:8], 16) / 0xFFFFFFFF
        (heldout if bucket < fraction else train).append(p)
    return train, heldout


def recent_batches(pairs: Sequence[PreferencePair], batches: Sequence[str], keep: int) -> list[PreferencePair]:
    """The pairs of the `keep` latest of `batches` (campaigns, newest first) by their `loop_batch` provenance: pairs
    from outside the loop (a launch set) and from older batches are left out."""
    latest = set(batches[:max(0, keep)])
    return [p for p in pairs if p.provenance.get("loop_batch") in latest]


def _champion_pairs(store: Any, champion: Any) -> list[PreferencePair]:
    """What the champion was trained on, from its registry lineage (a stored set or a pairs file)."""
    from tether.io.formats import read_records

    if champion is None:
        return []
    versions = store.model_versions(path=champion.path)
    lineage = versions[-1].lineage if versions else {}
    if lineage.get("set"):
        return list(store.iter_pairs(set_name=lineage["set"]))
    if lineage.get("file") and Path(lineage["file"]).is_file():
        return list(read_records("pairs", None, path=Path(lineage["file"])))
    return []


def _retrain(store: Any, cfg: LoopConfig, campaign: str, items: dict[str, str | None], models_dir: Path,
             tick_id: int, step: Callable[[str], None]) -> tuple[list[str], dict[str, Any]]:
    from tether.audit.audit import run_audit
    from tether.audit.curate import curate
    from tether.audit.runs import audit_run
    from tether.loop.challenge import ChallengeConfig, challenge
    from tether.loop.promotion import record_challenge
    from tether.records import ModelVersion
    from tether.reward import load
    from tether.reward.config import TrainConfig
    from tether.reward.data import fingerprint
    from tether.reward.train import train

    comparisons: list[Comparison] = list(store.iter_comparisons(campaign=campaign))
    step(f"audit {len(comparisons)} judgments of {campaign}")
    audit = run_audit(comparisons)
    run = store.add_audit_run(audit_run(audit, comparisons))
    curated = [p.model_copy(update={"provenance": {**p.provenance, "loop_batch": campaign, "trace_id": items.get(
        p.provenance.get("pair_id", ""))}}) for p in curate(audit).pairs]  # the trace, so forget reaches the pair
    new_train, heldout = _split(curated, cfg.heldout_fraction, cfg.seed)
    current = store.champion(cfg.role)
    base = _champion_pairs(store, current)
    if cfg.train_batches:  # forget stale labels: the new batch and the latest train_batches - 1 before it only
        older = [t["campaign"] for t in store.ticks(cfg.role) if t["campaign"] not in (None, campaign)]
        base = recent_batches(base, list(dict.fromkeys(older)), cfg.train_batches - 1)
    data = base + new_train
    if not data or not heldout:
        raise LoopError(f"batch {campaign}: {len(new_train)} training and {len(heldout)} held-out pairs after "
                        "curation; nothing to retrain or judge with (a larger batch, or more raters per pair)")
    set_name = f"loop-{cfg.role}-{tick_id}"
    store.add_pairs(data, set_name=set_name)
    store.add_pairs(heldout, set_name=f"{set_name}-heldout")
    out_dir = models_dir / set_name
    step(f"retrain on {len(base)} pairs of the champion + {len(new_train)} new -> {out_dir}")
    tcfg = TrainConfig(backbone=cfg.backbone, max_steps=cfg.train_steps, max_length=cfg.max_length, seed=cfg.seed)
    trained = train(data, out_dir, tcfg, progress=False)
    parent = None
    if current is not None and current.model:
        parent = f"{current.model}@{current.version}"
    store.add_model_version(ModelVersion(
        name=out_dir.name, kind="reward", path=str(out_dir.resolve()), parent=parent,
        metrics={"steps": trained.steps}, config={"backbone": cfg.backbone, "max_steps": cfg.train_steps,
                                                  "max_length": cfg.max_length, "seed": cfg.seed},
        lineage={"set": set_name, "file": None, "pairs": len(data), "fingerprint": fingerprint(data),
                 "audit_runs": [run.id], "campaign": campaign, "heldout_set": f"{set_name}-heldout",
                 "loop_tick": tick_id}))
    step(f"challenge the champion on {len(heldout)} held-out pairs")
    champion_model = load(current.path) if current is not None and Path(current.path).is_dir() else None
    verdict = challenge(champion_model, load(out_dir), heldout, ChallengeConfig(seed=cfg.seed))
    decision = record_challenge(store, cfg.role, out_dir, verdict)
    actions = [f"audited {campaign} (audit run {run.id})", f"curated {len(curated)} pairs: {len(new_train)} to "
               f"training, {len(heldout)} held out", f"retrained {out_dir.name} on {len(data)} pairs",
               f"{'promoted' if decision.action == 'promote' else 'refused'} {out_dir.name}: {verdict.summary()}"]
    return actions, {"audit_run": run.id, "model": str(out_dir.resolve()), "decision": decision.action,
                     "challenge": verdict.to_dict(), "pairs": {"champion": len(base), "new": len(new_train),
                                                               "heldout": len(heldout)}}


def _evidence(store: Any, cfg: LoopConfig, project: str, now: datetime) -> Evidence:
    champion = store.champion(cfg.role)
    last_batch = next((t["started_at"] for t in store.ticks(cfg.role) if t["campaign"] is not None), None)
    audit = store.latest_audit_run(with_result=False)
    paused = audit.blocked_task_types if audit is not None and (
        last_batch is None or _aware(audit.created_at) > _aware(last_batch)) else []
    training = [p.prompt for p in _champion_pairs(store, champion)]
    ev = Evidence(now, champion, list(store.iter_events(project=project)), store.outcomes(project=project),
                  training, paused)
    if champion is not None and Path(champion.path).is_dir():
        from tether.reward import load

        ev.champion_model = load(champion.path)
    return ev


SCORED_PER_WINDOW = 500
MAX_ANNOTATED = 2000


def _score_summary(ev: Evidence, cfg: LoopConfig) -> dict[str, float] | None:
    """Quantiles of the champion's scores of the window's logged answers (a seeded sample of at most 500)."""
    import numpy as np

    if ev.champion_model is None:
        return None
    since = ev.now - timedelta(days=cfg.window_days)
    gens = [e for e in ev.events if e.type.value == "generation" and e.prompt and e.response
            and since <= _aware(e.timestamp) < ev.now]
    if not gens:
        return None
    rng = np.random.default_rng(cfg.seed)
    if len(gens) > SCORED_PER_WINDOW:
        gens = [gens[i] for i in sorted(rng.choice(len(gens), SCORED_PER_WINDOW, replace=False))]
    scores = ev.champion_model.score([g.prompt for g in gens], [g.response for g in gens])
    scores = getattr(scores, "scores", scores)
    head = cfg.objectives[0] if cfg.objectives[0] in scores else next(iter(scores))
    q = np.quantile(np.asarray(scores[head], dtype=float), [0.1, 0.25, 0.5, 0.75, 0.9])
    return {"n": len(gens), "objective": head, **{k: round(float(v), 5) for k, v in zip(
        ("p10", "p25", "p50", "p75", "p90"), q, strict=True)}}


def _check_batch_settings(cfg: LoopConfig, candidates: CandidateFn | None) -> None:
    """Everything a batch needs, checked before any work, every problem named at once."""
    problems = []
    if candidates is None and cfg.policy is None:
        problems.append("policy is not set (the folder that writes two answers per prompt)")
    elif candidates is None and not Path(cfg.policy).is_dir():
        problems.append(f"policy {cfg.policy!r} is not a folder")
    if cfg.rubric is None or not Path(cfg.rubric).is_file():
        problems.append(f"rubric {cfg.rubric!r} is not a file")
    if not cfg.raters:
        problems.append("raters is empty (who labels the batch)")
    if problems:
        raise LoopError("[loop] " + "; ".join(problems) + " — set them in tether.toml [loop] or as options")


def _watch(store: Any, cfg: LoopConfig, project: str, now: datetime, candidates: CandidateFn | None,
           step: Callable[[str], None], embeddings: Any = None) -> TickResult:
    _check_batch_settings(cfg, candidates)
    step("evaluate the triggers")
    evidence = _evidence(store, cfg, project, now)
    triggers = evaluate_triggers(evidence, cfg)
    scores = _score_summary(evidence, cfg)  # the dashboard's reward-score distribution over time
    fired = [t for t in triggers if t.fired]
    if not fired:
        tick_id = store.add_tick(cfg.role, "idle", triggers=[t.to_dict() for t in triggers],
                                 actions=["nothing due"], result={"scores": scores, "window_end": now.isoformat()},
                                 finished_at=datetime.now(UTC))
        return TickResult("idle", tick_id, triggers=triggers, actions=["nothing due"], result={"scores": scores})
    campaign, items, picked = _open_batch(store, cfg, project, now, candidates, step, embeddings)
    actions = [f"due: {', '.join(t.name for t in fired)}",
               f"opened batch {campaign}: {len(items)} production prompts for {cfg.overlap} raters each"]
    result = {"items": items, "overlap": cfg.overlap, "picked": picked, "project": project, "scores": scores,
              "window_end": now.isoformat()}
    tick_id = store.add_tick(cfg.role, "labelling", campaign=campaign, triggers=[t.to_dict() for t in triggers],
                             actions=actions, result=result, finished_at=datetime.now(UTC))
    return TickResult("labelling", tick_id, campaign, triggers, actions, {"items": len(items), "picked": picked})


def _disagreement(store: Any, cfg: LoopConfig, cands: Sequence[Any], step: Callable[[str], None]) -> Any:
    """When the champion is an ensemble: its members' spread on each logged answer, computed here, in the tick, off
    the ingestion path (ingestion keeps its throughput)."""
    from tether.reward import load
    from tether.reward.ensemble import ENSEMBLE_FILE
    from tether.shift.disagreement import member_spread

    champion = store.champion(cfg.role)
    if champion is None or not (Path(champion.path) / ENSEMBLE_FILE).is_file():
        return None
    step(f"score {len(cands)} logged answers with the champion ensemble's members")
    return member_spread(load(champion.path), [c.text for c in cands], [c.response for c in cands])


def _open_batch(store: Any, cfg: LoopConfig, project: str, now: datetime, candidates: CandidateFn | None,
                step: Callable[[str], None], embeddings: Any = None) -> tuple[str, dict[str, str | None], int]:
    from tether.collect.campaign import CampaignSettings, enroll
    from tether.deploy.ingest import Ingestor
    from tether.shift.embed import Encoder
    from tether.shift.sampling import AnnotationSampler, candidates_from_events
    from tether.shift.to_annotation import open_campaign_batch, policy_candidates

    since = now - timedelta(days=cfg.window_days)
    cands = [c for c in candidates_from_events(e for e in store.iter_events(project=project)
                                               if _aware(e.timestamp) >= since) if c.text]
    if not cands:
        raise LoopError(f"no generation events of tenant {project!r} in the last {cfg.window_days:g} days to "
                        "sample from")
    step(f"sample {cfg.batch_prompts} of {len(cands)} production prompts")
    annotated = list(dict.fromkeys(c.prompt for c in store.iter_comparisons()))
    if len(annotated) > MAX_ANNOTATED:  # novelty against a seeded sample: embedding every prompt ever judged is slow
        import random

        annotated = random.Random(cfg.seed).sample(annotated, MAX_ANNOTATED)
    enc = Encoder(cache=embeddings)
    spread = _disagreement(store, cfg, cands, step)
    sampler = AnnotationSampler(cfg.batch_prompts, redactor=Ingestor(store).redactor(project), seed=cfg.seed).fit(
        enc.encode(annotated), enc.encode([c.text for c in cands]), cands, spread)
    n = len(store.ticks(cfg.role))
    name = f"loop-{cfg.role}-{n + 1}-{now:%Y%m%d}"
    write = candidates or policy_candidates(cfg.policy, seed=cfg.seed)
    step(f"write two answers to each of {len(sampler.picks_)} prompts")
    settings = CampaignSettings(name=name, objectives=cfg.objectives, overlap=cfg.overlap)
    batch = open_campaign_batch(store, sampler.picks_, write, settings,
                                Path(cfg.rubric).read_text(encoding="utf-8"))
    enroll(store, name, cfg.raters)
    trace_of = {p.text: p.trace_id for p in sampler.picks_}
    items = {item.resolved_pair_id: trace_of.get(item.prompt) for item in batch.items}
    return name, items, len(sampler.picks_)
