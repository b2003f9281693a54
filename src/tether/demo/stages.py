"""The main job: one command that runs Tether's loop on the embedded default.

Stages so far: set up a project, import the bundled real data, audit it (agreement, the 0.4
rule, position bias, rater reliability), curate weighted preference sets, prove the label guard
on the simulated world against its gold truth, train a small reward ensemble on the curated
simulated pairs, audit it on fresh gold-labelled pairs and run the gate the policy stage
requires, then log simulated production traffic (redacted), test it for drift against the
annotation set and sample prompts back into annotation; finally the loop: the reward model challenges
for the serving role, one tick evaluates the triggers and opens the next batch, and the dashboard is
written. Last, the seven guards against a naive pipeline (`tether.demo.guards`), and the demo's own report.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tether.config import CONFIG_NAME, Project, find_project, init_project
from tether.console import byte_progress, console
from tether.demo.guards import GuardRow, run_guards
from tether.demo.guards.votes import fresh_gold_pairs
from tether.demo.report import write_demo_report
from tether.demo.settings import REWARD_EVAL_PAIRS, REWARD_MEMBERS, REWARD_STEPS
from tether.records import Comparison


def bundled_data_dir() -> Path:
    """The `data/` folder shipped with the source tree (override with TETHER_DATA_DIR)."""
    env = os.environ.get("TETHER_DATA_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[3] / "data")  # src/tether/demo/stages.py -> repo
    for path in candidates:
        if (path / "pandalm").is_dir():
            return path
    raise FileNotFoundError(
        "bundled data not found: run from a source checkout (pip install -e .) or set TETHER_DATA_DIR"
    )


SIM_CAMPAIGN = "sim-label-quality"  # the label-quality study's campaign, as stored
STAMP_FILE = "demo_stamp.json"  # what the demo's reward model was trained on, so a rerun can reuse it

# (kind, path under data/, what it is)
BUNDLED_IMPORTS: tuple[tuple[str, str, str], ...] = (
    ("pandalm", "pandalm/testset-v1.json", "PandaLM: 999 pairs x 3 human annotators"),
    ("prd", "prd/vicuna80", "PRD Vicuna80: human and LLM reviewers in both display orders"),
    ("hh-rlhf", "hh-rlhf/harmless-base_test.jsonl.gz", "HH-RLHF harmless test split"),
)

# (name, selector over stored comparisons) for the real-data audits
REAL_AUDITS: tuple[tuple[str, Callable[[Comparison], bool]], ...] = (
    ("pandalm-humans", lambda c: c.campaign == "pandalm-testset"),
    ("prd-humans", lambda c: c.rater.startswith("prd-human-")),
    ("prd-llm-reviewers", lambda c: (c.campaign or "").startswith("prd-vicuna80/")
     and not c.rater.startswith("prd-human-")),
)


@dataclass
class DemoResult:
    project: Project
    imports: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    audits: dict[str, dict[str, Any]] = field(default_factory=dict)
    study: dict[str, Any] = field(default_factory=dict)
    reward: dict[str, Any] = field(default_factory=dict)
    production: dict[str, Any] = field(default_factory=dict)
    loop: dict[str, Any] = field(default_factory=dict)
    guards: list[GuardRow] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    report: Path | None = None
    report_json: Path | None = None


def _import_bundled(store, data_dir: Path, progress: bool) -> list[dict[str, Any]]:  # noqa: ANN001
    from tether.io import import_file
    from tether.io.importer import total_bytes

    reports = []
    for kind, rel, what in BUNDLED_IMPORTS:
        path = data_dir / rel
        if progress:
            with byte_progress(f"import {kind}", total_bytes(path)) as advance:
                report = import_file(store, kind, path, set_name=kind, on_bytes=advance)
        else:
            report = import_file(store, kind, path, set_name=kind)
        reports.append({"kind": kind, "what": what, **report.as_dict()})
    return reports


def _audit_real(store, reports_dir: Path, n_bootstrap: int) -> dict[str, dict[str, Any]]:  # noqa: ANN001
    """Audit each real source, write its HTML/JSON report, curate the usable ones."""
    import json

    from tether.audit import AuditConfig, CurateConfig, curate, run_audit
    from tether.audit.report import write_html
    from tether.io import write_jsonl
    from tether.io.v1 import pair_to_v1

    everything = list(store.iter_comparisons())
    out_: dict[str, dict[str, Any]] = {}
    for name, select in REAL_AUDITS:
        comparisons = [c for c in everything if select(c)]
        if not comparisons:
            continue
        with console.status(f"auditing {name} ({len(comparisons)} judgments)"):
            result = run_audit(comparisons, AuditConfig(n_bootstrap=n_bootstrap))
        d = result.to_dict()
        html = write_html(result, reports_dir / f"audit-{name}.html")
        (reports_dir / f"audit-{name}.json").write_text(json.dumps(d, indent=2, sort_keys=True), encoding="utf-8")
        curated = curate(result, CurateConfig(policy="downweight"))
        set_name = f"{name}-curated"
        store.add_pairs(curated.pairs, set_name=set_name, replace=True)
        write_jsonl(reports_dir / f"{set_name}.jsonl", (pair_to_v1(p) for p in curated.pairs))
        out_[name] = {
            "judgments": len(comparisons),
            "html": str(html),
            "blocked_task_types": result.blocked_task_types,
            "task_types": len(result.verdicts),
            "cohens_kappa_pairs": d["agreement"]["overall"]["cohens_kappa"].get("pairs", [])[:6],
            "alpha": d["agreement"]["overall"]["krippendorff_alpha_nominal"]["value"],
            "position": {r: round(v["rate"], 3) for r, v in d["position"]["by_rater"].items()
                         if v.get("rate") is not None},
            "curated_set": set_name,
            "curated_pairs": len(curated.pairs),
        }
    return out_


def _study(store, seed: int) -> dict[str, Any]:  # noqa: ANN001
    from tether.sim import World
    from tether.sim.studies import label_quality_study

    with console.status("simulated world: label-quality study"):
        study = label_quality_study(World(seed=seed), campaign=SIM_CAMPAIGN)
    store.add_comparisons(study.comparisons)
    return study.as_dict()


def _train_or_reuse(pairs: list, model_dir: Path, cfg, members: int, progress: bool):  # noqa: ANN001, ANN202
    """The demo's reward model: reused when a rerun has the same curated pairs and settings (training is seeded,
    so retraining would only repeat it); anything else retrains from scratch, leaving no stale member behind."""
    import json
    import shutil

    from tether.reward import load
    from tether.reward.data import fingerprint
    from tether.reward.ensemble import train_ensemble
    from tether.reward.model import CONTRACT_FILE
    from tether.reward.train import train

    folders = [model_dir / f"member-{i}" for i in range(members)] if members > 1 else [model_dir]
    stamp = json.loads(json.dumps({"data": fingerprint(pairs), "members": members, "config": asdict(cfg)}, default=str))
    stamp_path = model_dir / STAMP_FILE
    if stamp_path.is_file() and json.loads(stamp_path.read_text()) == stamp \
            and all((f / CONTRACT_FILE).is_file() for f in folders):
        return load(model_dir), folders, True
    if model_dir.exists():
        shutil.rmtree(model_dir)
    if members > 1:
        model = train_ensemble(pairs, model_dir, cfg, k=members, progress=progress)
    else:
        train(pairs, model_dir, cfg, progress=progress)
        model = load(model_dir)
    stamp_path.write_text(json.dumps(stamp, indent=2))
    return model, folders, False


def _reward(store, reports_dir: Path, models_dir: Path, seed: int, steps: int, members: int,  # noqa: ANN001
            progress: bool = True, eval_pairs: int = REWARD_EVAL_PAIRS) -> tuple[dict[str, Any], Any, tuple]:
    """Curated sim pairs -> a small MiniLM reward ensemble -> audit on fresh gold pairs -> the policy gate.

    Returns the stage's figures, the loaded model (a `RewardEnsemble` when `members` > 1) and the fresh gold pairs
    (test, calibration) it was judged on."""
    import json
    import time

    from transformers.utils import logging as hf_logging

    from tether.audit import AuditConfig, CurateConfig, audit_run, curate, run_audit
    from tether.io import write_jsonl
    from tether.io.v1 import pair_to_v1
    from tether.records import ModelVersion
    from tether.reward.data import fingerprint
    from tether.reward.evaluate import evaluate, write_report
    from tether.reward.gate import GateConfig, GateFailed, check_gate, require_gate, save_gate
    from tether.reward.model import read_contracts
    from tether.reward.train import TrainConfig
    from tether.sim import World

    hf_logging.disable_progress_bar()  # the demo prints its own progress, not weight-loading bars
    # the same audit -> curate path as the real data, on the study's campaign as stored
    comparisons = list(store.iter_comparisons(campaign=SIM_CAMPAIGN))
    audit = run_audit(comparisons, AuditConfig(n_bootstrap=0))
    run = store.add_audit_run(audit_run(audit, comparisons))
    set_name = f"{SIM_CAMPAIGN}-curated"
    store.add_pairs(curate(audit, CurateConfig(policy="downweight")).pairs, set_name=set_name, replace=True)
    pairs = list(store.iter_pairs(set_name=set_name))
    write_jsonl(reports_dir / f"{set_name}.jsonl", (pair_to_v1(p) for p in pairs))
    objectives = sorted({p.objective for p in pairs})

    model_dir = models_dir / "reward-sim"
    cfg = TrainConfig(backbone="minilm", max_steps=steps, batch_size=16, max_length=128, seed=seed, name="reward-sim")
    t0 = time.perf_counter()
    model, folders, reused = _train_or_reuse(pairs, model_dir, cfg, members, progress)
    train_s = time.perf_counter() - t0

    # held-out truth: fresh pairs from another seed of the world, split test / temperature-calibration
    seen = {(p.prompt, frozenset((p.chosen, p.rejected))) for p in pairs}
    fresh = fresh_gold_pairs(World(seed=seed + 1), eval_pairs, objectives, seen)
    cut = 2 * len(fresh) // 3
    test, calibration = fresh[:cut], fresh[cut:]
    with console.status(f"reward audit: {len(test)} gold pairs, temperature on {len(calibration)}"):
        ev = evaluate(model, test, calibration_pairs=calibration)
    gate = check_gate(ev, GateConfig())  # the defaults `tether reward gate` applies
    for folder in folders:
        save_gate(folder, gate)
    try:  # what `tether.policy` will do with this model
        require_gate(model_dir)
        policy = None
    except GateFailed as exc:
        policy = str(exc)
    report = write_report(ev, reports_dir / "reward.html", title="Reward model audit: reward-sim (simulated world)",
                          gate=gate)
    (reports_dir / "reward.json").write_text(json.dumps({"eval": ev.to_dict(), "gate": gate.to_dict()}, indent=2,
                                                        default=str), encoding="utf-8")
    store.add_model_version(ModelVersion(
        name="reward-sim", kind="reward", path=str(model_dir.resolve()), config=asdict(cfg), gate=gate.to_dict(),
        metrics={"accuracy": ev.accuracy, "ece": ev.ece, "members": members, "reused": reused},
        lineage={"set": set_name, "pairs": len(pairs), "fingerprint": fingerprint(pairs), "audit_runs": [run.id]},
        contracts=read_contracts(folders[0])))
    return {
        "model": str(model_dir), "members": [str(f) for f in folders], "train_pairs": len(pairs),
        "train_set": set_name, "steps": steps, "train_seconds": train_s, "reused": reused,
        "test_pairs": len(test) - ev.n_ties, "calibration_pairs": len(calibration),
        "accuracy": ev.accuracy, "ece_raw": ev.ece_raw, "ece": ev.ece, "temperature": ev.temperature,
        "calibration": ev.calibration,
        "length_correlation": ev.length_correlation, "matched_accuracy": ev.matched_accuracy,
        "n_matched": ev.n_matched, "longer_preferred_model": ev.longer_preferred_model,
        "longer_preferred_labels": ev.longer_preferred_labels,
        "by_task_type": {k: v["accuracy"] for k, v in ev.by_slice.get("task_type", {}).items()},
        "gate_passed": gate.passed, "gate_failed": [c.condition() for c in gate.checks if not c.passed],
        "gate_ok": [c.condition() for c in gate.checks if c.passed], "gate_summary": gate.summary(),
        "policy_blocked": policy, "report": str(report),
    }, model, (test, calibration)


def _production(store, reports_dir: Path, seed: int, annotated: dict[str, str],  # noqa: ANN001
                ensemble=None, tenant: str = "default") -> dict[str, Any]:  # noqa: ANN001
    """Simulated production traffic -> redacted events -> drift vs the annotation set -> sampling.

    `annotated`: each annotated prompt with one response its raters judged. With a reward `ensemble`, drift also
    compares its members' spread on both sides, and the sampler weighs that spread in."""
    from datetime import timedelta

    from tether.deploy.ingest import Ingestor
    from tether.records import EventType
    from tether.shift.data import PromptRecord
    from tether.shift.drift import detect_drift
    from tether.shift.embed import Encoder
    from tether.shift.report import write_report
    from tether.shift.sampling import AnnotationSampler, candidates_from_events
    from tether.sim import ProductionConfig, World

    config = ProductionConfig(days=120, requests_per_day=10)
    events = list(World(seed=seed).production_stream(config))
    ingestor = Ingestor(store)
    stored = ingestor.ingest(events, project=tenant)  # the project's name: the tenant every command reads
    window_start = config.start + timedelta(days=config.days - 30)
    recent = [e for e in store.iter_events(project=tenant)
              if e.type is EventType.GENERATION and e.timestamp >= window_start]
    encoder = Encoder()
    what = " and reward-ensemble disagreement" if ensemble is not None else ""
    with console.status(f"drift{what}: {len(annotated)} annotated vs {len(recent)} recent production prompts"):
        A = encoder.encode(list(annotated))
        P = encoder.encode([e.prompt or "" for e in recent])
        drift = detect_drift([PromptRecord(t, response=r) for t, r in annotated.items()],
                             [PromptRecord(e.prompt or "", response=e.response) for e in recent],
                             embeddings=(A, P), seed=seed, ensemble=ensemble)
    report = write_report(drift, reports_dir / "drift.html")
    # candidates: the window just tested, whose prompts are embedded and (with an ensemble) scored already;
    # feedback from any time still marks a trace as disliked
    row = {e.trace_id: i for i, e in enumerate(recent)}
    candidates = [c for c in candidates_from_events(store.iter_events(project=tenant)) if c.trace_id in row]
    idx = [row[c.trace_id] for c in candidates]
    spread = {d.objective: d.production[idx] for d in drift.disagreement} or None
    sampler = AnnotationSampler(25, redactor=ingestor.redactor(tenant), seed=seed).fit(
        A, P[idx], candidates, disagreement=spread)
    reasons: dict[str, int] = {}
    for pick in sampler.picks_:
        for r in pick.reasons:
            kind = r.rstrip("0123456789. ")  # "novelty 0.74" -> "novelty"
            reasons[kind] = reasons.get(kind, 0) + 1
    disagreement = None
    if spread:
        disagreement = {o: {"picked_mean": float(sum(p.disagreement[o] for p in sampler.picks_)
                                                 / max(len(sampler.picks_), 1)),
                            "window_mean": float(v.mean())} for o, v in spread.items()}
    return {"events": len(events), "stored": stored.stored, "window": len(recent), "drift": drift.summary(),
            "report": str(report), "candidates": len(candidates), "sampled": len(sampler.picks_),
            "sample_reasons": reasons, "sample_disagreement": disagreement,
            "sample_examples": [p.text[:90] for p in sampler.picks_[:3]]}


LOOP_BATCH = 20  # production prompts the loop's first tick samples into a batch


def _loop(store, reports_dir: Path, models_dir: Path, model_dir: Path, model, fresh: tuple, seed: int,  # noqa: ANN001
          tenant: str) -> dict[str, Any]:
    """The loop on top: the reward model challenges for the role (the first one is judged on its own checks), then
    one tick over the production window evaluates the triggers and, when one fires, opens a batch of sampled
    production prompts for the simulated raters; the dashboard is written from the store."""
    from datetime import timedelta

    from tether.loop.challenge import ChallengeConfig, challenge
    from tether.loop.config import LoopConfig
    from tether.loop.dashboard import dashboard_data, render_html
    from tether.loop.promotion import record_challenge
    from tether.loop.tick import tick
    from tether.sim import ProductionConfig, World
    from tether.sim.responses import Style

    test, calibration = fresh
    current = store.champion("reward")
    history = store.promotions("reward")
    decision = history[-1] if history and Path(history[-1].path) == model_dir.resolve() else None  # a rerun
    if decision is None:
        with console.status("loop: the reward model challenges for the role"):
            verdict = challenge(None if current is None else _load_reward(current.path), model, test,
                                ChallengeConfig(seed=seed), calibration_pairs=calibration)
        decision = record_challenge(store, "reward", model_dir, verdict)
    rubric = reports_dir / "loop-rubric.md"
    rubric.write_text("Pick the answer that is correct, honest and concise.\n", encoding="utf-8")
    raters = sorted({c.rater for c in store.iter_comparisons(campaign=SIM_CAMPAIGN)})[:3]
    world = World(seed=seed)

    variants = (Style(verbose=True), Style(hedging=True), Style(correct=False), Style(sycophantic=True))

    def two_answers(prompts: list[str]) -> tuple[list[str], list[str]]:
        """The simulated policy answers twice: its best answer, and one with a property changed."""
        return ([world.respond(p) for p in prompts],
                [world.respond(p, variants[i % len(variants)], seed=i) for i, p in enumerate(prompts)])

    config = ProductionConfig(days=120, requests_per_day=10)
    now = config.start + timedelta(days=config.days)
    cfg = LoopConfig(rubric=str(rubric), raters=raters, overlap=3, batch_prompts=LOOP_BATCH, window_days=30,
                     seed=seed)
    with console.status("loop: one tick (triggers, then what is due)"):
        ticked = tick(store, cfg, project=tenant, models_dir=models_dir, now=now, candidates=two_answers)
    dashboard = reports_dir / "loop.html"
    dashboard.write_text(render_html(dashboard_data(store, role="reward", project=tenant)), encoding="utf-8")
    champion = store.champion("reward")
    return {"decision": None if decision is None else decision.action,
            "decision_reason": None if decision is None else decision.reason,
            "champion": None if champion is None else champion.path,
            "tick": ticked.to_dict(), "dashboard": str(dashboard)}


def _load_reward(path: str):  # noqa: ANN202
    from tether.reward import load

    return load(path)


def run_demo(root: Path, *, data_dir: Path | None = None, progress: bool = True, n_bootstrap: int = 100,
             seed: int = 1, reward_steps: int = REWARD_STEPS, reward_members: int = REWARD_MEMBERS,
             reward_eval_pairs: int = REWARD_EVAL_PAIRS) -> DemoResult:
    """Set up (or reuse) a project at `root` and run every stage of the loop that exists.

    `reward_steps`, `reward_members`, `reward_eval_pairs`: optimizer steps per member, ensemble size and fresh
    gold candidate pairs (two thirds test, one third temperature calibration) of the reward stage."""
    for name, value, least in (("reward_steps", reward_steps, 1), ("reward_members", reward_members, 1),
                               ("reward_eval_pairs", reward_eval_pairs, 10)):
        if value < least:
            raise ValueError(f"{name} must be >= {least}, got {value}")
    data_dir = data_dir or bundled_data_dir()
    project = find_project(root) if (root / CONFIG_NAME).exists() else init_project(root)
    result = DemoResult(project=project)
    reports_dir = project.data_dir / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    store = project.store()
    timings = result.timings

    def timed(stage: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        value = fn()
        timings[stage] = time.perf_counter() - t0
        return value

    try:
        result.imports = timed("1. import", lambda: _import_bundled(store, data_dir, progress))
        result.audits = timed("2. audit", lambda: _audit_real(store, reports_dir, n_bootstrap))
        result.study = timed("3. label study", lambda: _study(store, seed))
        result.reward, model, fresh = timed("4. reward", lambda: _reward(
            store, reports_dir, project.data_dir / "models", seed, reward_steps, reward_members, progress,
            reward_eval_pairs))
        annotated: dict[str, str] = {}  # each annotated prompt with a response its raters judged
        for c in store.iter_comparisons(campaign=SIM_CAMPAIGN):
            annotated.setdefault(c.prompt, c.response_a)
        ensemble = model if reward_members > 1 else None  # disagreement needs several members
        result.production = timed("5. production", lambda: _production(
            store, reports_dir, seed, dict(sorted(annotated.items())), ensemble, tenant=project.name))
        result.loop = timed("6. loop", lambda: _loop(
            store, reports_dir, project.data_dir / "models", Path(result.reward["model"]), model, fresh, seed,
            project.name))
        result.guards = timed("7. guards", lambda: run_guards(seed))
        result.stats = store.stats()
    finally:
        store.close()
    stages = {"imports": result.imports, "audits": result.audits, "study": result.study, "reward": result.reward,
              "production": result.production, "loop": result.loop}
    result.report, result.report_json = write_demo_report(reports_dir, result.guards, timings, stages)
    return result
