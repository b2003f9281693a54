"""The main job: one command that runs Tether's loop on the embedded default.

Stages so far: set up a project, import the bundled real data, audit it (agreement, the 0.4
rule, position bias, rater reliability), curate weighted preference sets, prove the label guard
on the simulated world against its gold truth, then log simulated production traffic (redacted),
test it for drift against the annotation set and sample prompts back into annotation. Each
capability that lands adds its stage.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from tether.config import CONFIG_NAME, Project, find_project, init_project
from tether.console import byte_progress, console, out
from tether.records import Comparison


def bundled_data_dir() -> Path:
    """The `data/` folder shipped with the source tree (override with TETHER_DATA_DIR)."""
    env = os.environ.get("TETHER_DATA_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / "data")
    for path in candidates:
        if (path / "pandalm").is_dir():
            return path
    raise FileNotFoundError(
        "bundled data not found: run from a source checkout (pip install -e .) or set TETHER_DATA_DIR"
    )


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
    production: dict[str, Any] = field(default_factory=dict)


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
        study = label_quality_study(World(seed=seed))
    store.add_comparisons(study.comparisons)
    return study.as_dict()


def _production(store, reports_dir: Path, seed: int, annotated: list[str]) -> dict[str, Any]:  # noqa: ANN001
    """Simulated production traffic -> redacted events -> drift vs the annotation set -> sampling."""
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
    stored = ingestor.ingest(events, project="default")
    window_start = config.start + timedelta(days=config.days - 30)
    recent = [e for e in store.iter_events(project="default")
              if e.type is EventType.GENERATION and e.timestamp >= window_start]
    encoder = Encoder()
    with console.status(f"drift: {len(annotated)} annotated vs {len(recent)} recent production prompts"):
        drift = detect_drift([PromptRecord(t) for t in annotated], [PromptRecord(e.prompt or "") for e in recent],
                             encoder=encoder, seed=seed)
    report = write_report(drift, reports_dir / "drift.html")
    candidates = candidates_from_events(store.iter_events(project="default"))
    sampler = AnnotationSampler(25, redactor=ingestor.redactor("default"), seed=seed).fit(
        encoder.encode(annotated), encoder.encode([c.text for c in candidates]), candidates)
    reasons: dict[str, int] = {}
    for pick in sampler.picks_:
        for r in pick.reasons:
            kind = r.rstrip("0123456789. ")  # "novelty 0.74" -> "novelty"
            reasons[kind] = reasons.get(kind, 0) + 1
    return {"events": len(events), "stored": stored.stored, "window": len(recent), "drift": drift.summary(),
            "report": str(report), "sampled": len(sampler.picks_), "sample_reasons": reasons,
            "sample_examples": [p.text[:90] for p in sampler.picks_[:3]]}


def run_demo(root: Path, *, data_dir: Path | None = None, progress: bool = True, n_bootstrap: int = 100,
             seed: int = 1) -> DemoResult:
    """Set up (or reuse) a project at `root` and run every stage of the loop that exists."""
    data_dir = data_dir or bundled_data_dir()
    project = find_project(root) if (root / CONFIG_NAME).exists() else init_project(root)
    result = DemoResult(project=project)
    reports_dir = project.data_dir / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    store = project.store()
    try:
        result.imports = _import_bundled(store, data_dir, progress)
        result.audits = _audit_real(store, reports_dir, n_bootstrap)
        result.study = _study(store, seed)
        annotated = sorted({c.prompt for c in store.iter_comparisons(campaign="sim-label-quality")})
        result.production = _production(store, reports_dir, seed, annotated)
        result.stats = store.stats()
    finally:
        store.close()
    return result


def _print(result: DemoResult) -> None:
    out.rule("[bold]Tether demo")
    out.print(f"project [bold]{result.project.name}[/] at {result.project.root}")
    out.print(f"store   {result.project.database_url}")
    out.rule("1. import the bundled real data")
    for imp in result.imports:
        out.print(f"  {imp['kind']:>8}: {imp['what']} — {imp['stored']} new {imp['target']}, "
                  f"{imp['duplicates']} already stored")
    s = result.stats
    out.print(f"  store: {s['comparisons']} comparisons on {s['pairs']} pairs by {s['raters']} raters")
    out.rule("2. audit before training (guards 1 and 2)")
    for name, a in result.audits.items():
        blocked = ", ".join(a["blocked_task_types"]) or "none"
        out.print(f"  [bold]{name}[/]: {a['judgments']} judgments, Krippendorff's alpha {a['alpha']:.3f}; "
                  f"{a['task_types']} task types, blocked (agreement < 0.4): {blocked}", highlight=False)
        if a["cohens_kappa_pairs"]:
            kappas = ", ".join(f"{p['rater_a']}~{p['rater_b']} {p['value']:.3f}" for p in a["cohens_kappa_pairs"])
            out.print(f"    Cohen's kappa per rater pair: {kappas}", highlight=False)
        first = ", ".join(f"{r} {v:.2f}" for r, v in sorted(a["position"].items())[:8])
        out.print(f"    first-position rate: {first}", highlight=False)
        out.print(f"    curated set [bold]{a['curated_set']}[/]: {a['curated_pairs']} weighted pairs; "
                  f"report {a['html']}")
    out.rule("3. the label guard on the simulated world (gold truth known)")
    st = result.study
    acc = st["accuracy"]
    out.print(f"  {st['comparisons']} judgments by careful / position-biased / novice raters; "
              f"blocked task types: {', '.join(st['blocked_task_types']) or 'none'}")
    out.print(f"  agreement with gold: majority vote {acc['majority_vote']:.3f}, "
              f"curated {acc['curated_weighted']:.3f} (unweighted {acc['curated_unweighted']:.3f}), "
              f"noise-free raters {acc['noise_free']:.3f}")


def _print_production(p: dict[str, Any]) -> None:
    out.rule("4. production: redacted logging, drift, sampling into annotation (guard 5)")
    d = p["drift"]
    out.print(f"  {p['events']} simulated production events stored redacted ({p['stored']} new); "
              f"last 30 days: {p['window']} prompts")
    verdict = "[bold red]drift detected[/]" if d["drift"] else "[green]no significant drift[/]"
    out.print(f"  {verdict}: MMD p={d['mmd_pvalue']:.4f}, classifier AUC {d['c2st_auc']:.3f} "
              f"(p={d['c2st_pvalue']:.2g}); report {p['report']}", highlight=False)
    for c in d["under_covered"][:3]:
        out.print(f"    under-covered: {100 * c['production_share']:.0f}% of production vs "
                  f"{100 * c['annotation_share']:.0f}% of annotation, e.g. {c['examples'][0][:70]!r}",
                  highlight=False)
    why = ", ".join(f"{k} {v}" for k, v in sorted(p["sample_reasons"].items()))
    out.print(f"  sampled {p['sampled']} production prompts into annotation ({why})", highlight=False)


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        path: Annotated[Path, typer.Argument(help="Project folder for the demo.")] = Path("tether-demo"),
        data_dir: Annotated[Path | None, typer.Option(help="Bundled data folder (default: ./data).")] = None,
        bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for agreement intervals.")] = 100,
        seed: Annotated[int, typer.Option(help="Seed of the simulated world.")] = 1,
    ) -> None:
        """Run the main job on the embedded default: import, audit, curate, simulated proof."""
        result = run_demo(path, data_dir=data_dir, n_bootstrap=bootstrap, seed=seed)
        _print(result)
        _print_production(result.production)
