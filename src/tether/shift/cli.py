"""`tether shift drift`: does production still look like what was annotated?"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from tether.cli_support import embedding_cache, events_tenant, fail, open_store
from tether.console import console, out

EnsembleOpt = Annotated[Path | None, typer.Option(
    "--ensemble", help="Reward ensemble folder (`tether reward train --ensemble K`): measure where its members "
                       "disagree (logged responses are scored where the input has them).")]

AnnotationOpt = Annotated[Path | None, typer.Option(
    help="Annotation prompts: JSONL (prompt/text/input key) or .txt [default: the stored comparisons' prompts].")]
AnnotationSetOpt = Annotated[str | None, typer.Option(
    "--annotation-set", help="Use this stored preference set's prompts as the annotation side.")]
ProductionOpt = Annotated[Path | None, typer.Option(
    help="Production prompts: JSONL (e.g. exported events) or .txt [default: this project's stored, redacted "
         "generation events in the window].")]
ProjectOpt = Annotated[str | None, typer.Option(help="Events tenant to read [default: the project's name in "
                                                     "tether.toml, the tenant `tether keys create` and `tether "
                                                     "import events` use].")]
SinceOpt = Annotated[datetime | None, typer.Option(help="Window start for stored events (ISO 8601, UTC).")]
DaysOpt = Annotated[int | None, typer.Option(help="Window: the last N days up to the newest stored event.")]
TextKeyOpt = Annotated[str | None, typer.Option(help="JSON key holding the prompt (default: guessed).")]

shift_app = typer.Typer(help="Distribution shift between annotation data and production.", no_args_is_help=True)


class _LazyStore:
    """The project's store, opened on first use: with both sides from files, no project is needed."""

    def __init__(self) -> None:
        self._store = None

    def __call__(self):  # noqa: ANN204
        if self._store is None:
            self._store = open_store()
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def _sides(store: _LazyStore, annotation: Path | None, annotation_set: str | None, production: Path | None,
           project: str | None, since: datetime | None, days: int | None, text_key: str | None,
           limit: int | None = None) -> tuple[list, list]:
    """(annotation, production) prompts, each from its file or, without one, from the store."""
    from datetime import UTC, timedelta

    from tether.io.formats import read_records
    from tether.shift.data import prompts_of_events, prompts_of_judgments, read_prompts

    if annotation is not None:
        a = read_prompts(annotation, text_key, limit)
    else:
        target = "pairs" if annotation_set else "comparisons"
        a = prompts_of_judgments(read_records(target, store(), set_name=annotation_set))[:limit]
        if not a:
            raise ValueError(f"no annotation prompts: the preference set {annotation_set!r} is empty or missing"
                             if annotation_set else "no annotation prompts: the store holds no comparisons "
                             "(import some, or pass --annotation FILE)")
    if production is not None:
        return a, read_prompts(production, text_key, limit)
    tenant = events_tenant(project)
    events = list(read_records("events", store(), project=tenant))
    if days is not None and events:
        since = max(e.timestamp for e in events) - timedelta(days=days)
    p = prompts_of_events(events, since.replace(tzinfo=since.tzinfo or UTC) if since else None)[:limit]
    window = f" since {since:%Y-%m-%d %H:%M}" if since else ""
    console.print(f"production: {len(p)} prompts of {len(events)} stored events of tenant {tenant!r}{window}",
                  style="dim", highlight=False)
    if not p:
        raise ValueError(f"no production prompts: no stored generation events of tenant {tenant!r} in the window "
                         "(log some, pass --project TENANT, or pass --production FILE)")
    return a, p


@shift_app.command("drift")
def drift(
    annotation: AnnotationOpt = None,
    production: ProductionOpt = None,
    annotation_set: AnnotationSetOpt = None,
    project: ProjectOpt = None,
    since: SinceOpt = None,
    days: DaysOpt = None,
    report: Annotated[Path, typer.Option(help="HTML report to write.")] = Path("drift_report.html"),
    text_key: TextKeyOpt = None,
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    clusters: Annotated[int, typer.Option(help="k-means clusters for coverage.")] = 8,
    limit: Annotated[int | None, typer.Option(help="Read at most this many prompts per side.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (features, permutations, splits, k-means).")] = 0,
    ensemble: EnsembleOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Two-sample tests (MMD, classifier), coverage by cluster and language, reward-ensemble disagreement;
    exit 1 when drift is found."""
    from tether.shift.disagreement import load_ensemble
    from tether.shift.drift import detect_drift
    from tether.shift.embed import Encoder
    from tether.shift.report import write_report

    store = _LazyStore()
    try:
        a, p = _sides(store, annotation, annotation_set, production, project, since, days, text_key, limit)
        ens = load_ensemble(ensemble) if ensemble is not None else None
        result = detect_drift(a, p, alpha=alpha, n_clusters=clusters, seed=seed, ensemble=ens,
                              encoder=Encoder(cache=embedding_cache()))
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    write_report(result, report)
    if as_json:
        sys.stdout.write(json.dumps(result.summary(), indent=2) + "\n")
    else:
        verdict = "[bold red]drift[/]" if result.drift else "[green]no significant drift[/]"
        out.print(f"{verdict}: MMD p={result.mmd_pvalue:.4f}, classifier AUC {result.c2st_auc:.3f} "
                  f"p={result.c2st_pvalue:.3g} ({result.n_annotation} vs {result.n_production} prompts)")
        for c in result.under_covered:
            out.print(f"  under-covered cluster {c.cluster}: {100 * c.production_share:.1f}% of production, "
                      f"{100 * c.annotation_share:.1f}% of annotation; e.g. {c.examples[0][:80]!r}", highlight=False)
        for d in result.disagreement:
            s = d.summary()
            out.print(f"  reward disagreement ({d.objective}): mean {s['production_mean']:.3f} on production vs "
                      f"{s['annotation_mean']:.3f} on annotation (p={d.pvalue:.3g}); widest: "
                      f"{d.top[0]['prompt'][:80]!r}", highlight=False)
        out.print(f"report: {report}")
    if result.drift:
        raise typer.Exit(1)


@shift_app.command("sample")
def sample(
    budget: Annotated[int, typer.Option(help="How many prompts to send to annotation.")],
    out_file: Annotated[Path, typer.Option("--out", help="JSONL of chosen prompts with reasons.")],
    annotation: AnnotationOpt = None,
    production: Annotated[Path | None, typer.Option(help="Production prompts file [default: this project's "
                                                         "stored events in the window, with their feedback].")] = None,
    annotation_set: AnnotationSetOpt = None,
    project: ProjectOpt = None,
    since: SinceOpt = None,
    days: DaysOpt = None,
    text_key: TextKeyOpt = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    campaign: Annotated[str | None, typer.Option(help="Also open the picks as this new campaign (needs --policy "
                                                      "and --rubric).")] = None,
    policy: Annotated[Path | None, typer.Option(help="Policy folder that writes the two candidate answers.")] = None,
    rubric: Annotated[Path | None, typer.Option(help="Rubric text file for the campaign.")] = None,
    objective: Annotated[list[str] | None, typer.Option(help="Objective judged separately; repeat.")] = None,
    overlap: Annotated[int, typer.Option(help="Raters per pair in the campaign.")] = 3,
    ensemble: EnsembleOpt = None,
    disagreement_weight: Annotated[float, typer.Option(help="Weight of the ensemble's disagreement (scaled to 0-1) "
                                                             "in the score; novelty has weight 1.")] = 0.3,
) -> None:
    """Pick production prompts for annotation: novel, under-covered, disliked, where the reward ensemble
    disagrees; de-duplicated, PII-checked."""
    from tether.deploy.ingest import Ingestor
    from tether.io.formats import read_records
    from tether.shift.disagreement import load_ensemble, member_spread
    from tether.shift.embed import Encoder
    from tether.shift.sampling import AnnotationSampler, Candidate, candidates_from_events

    store = _LazyStore()
    try:
        tenant = events_tenant(project)
        redactor = Ingestor(store()).redactor(tenant)  # PII in the picks is checked with the tenant's key
        a, p = _sides(store, annotation, annotation_set, production, tenant, since, days, text_key)
        annotated = [r.text for r in a]
        if production is None:  # the window's generations, with feedback from any time marking disliked ones
            window = {r.text for r in p}
            cands = [c for c in candidates_from_events(read_records("events", store(), project=tenant))
                     if c.text in window]
        else:
            cands = [Candidate(r.text, response=r.response) for r in p]
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    if not cands:
        raise fail("no production prompts to choose from", "log generations first, or pass --production FILE")
    spread = None
    if ensemble is not None:
        try:
            spread = member_spread(load_ensemble(ensemble), [c.text for c in cands], [c.response for c in cands])
        except (ValueError, FileNotFoundError, RuntimeError) as exc:
            raise fail(str(exc)) from None
    enc = Encoder(cache=embedding_cache())
    sampler = AnnotationSampler(budget, disagreement_weight=disagreement_weight, redactor=redactor, seed=seed).fit(
        enc.encode(annotated), enc.encode([c.text for c in cands]), cands, spread)
    with out_file.open("w", encoding="utf-8") as fh:
        for p in sampler.picks_:
            row = {"prompt": p.text, "trace_id": p.trace_id, "score": round(p.score, 4), "reasons": p.reasons}
            if p.disagreement:
                row["disagreement"] = {o: round(v, 6) for o, v in p.disagreement.items()}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    out.print(f"chose {len(sampler.picks_)} of {len(cands)} production prompts -> {out_file}")
    if campaign is not None:
        _open_campaign(campaign, sampler.picks_, policy, rubric, objective or ["overall"], overlap, seed)


def _open_campaign(name: str, picks: list, policy: Path | None, rubric: Path | None, objectives: list[str],
                   overlap: int, seed: int) -> None:
    """Open the sampled prompts as a campaign: the policy writes two answers to each, raters compare them."""
    if policy is None or rubric is None:
        raise fail("--campaign needs --policy DIR (writes the candidate answers) and --rubric FILE")
    from tether.collect.campaign import CampaignSettings
    from tether.shift.to_annotation import open_campaign_batch, policy_candidates

    with open_store() as store:
        try:
            settings = CampaignSettings(name=name, objectives=objectives, overlap=overlap)
            batch = open_campaign_batch(store, picks, policy_candidates(policy, seed=seed), settings,
                                        rubric.read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError) as exc:
            raise fail(str(exc)) from None
    out.print(f"opened campaign {name!r} with {len(batch.items)} items "
              f"({len(batch.skipped)} prompts skipped: identical answers)")


@shift_app.command("redteam")
def redteam(
    policy: Annotated[Path, typer.Option(help="Local Hugging Face causal LM folder that answers the probes.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for results.jsonl, items.jsonl, summary.json and "
                                                        "summary.html.")],
    sets: Annotated[str, typer.Option(help="Comma-separated red-team sets: advbench,harmbench,multijail.")] = (
        "advbench,harmbench,multijail"),
    reward: Annotated[Path | None, typer.Option(help="tether.reward model or ensemble folder to score answers.")
                      ] = None,
    gold: Annotated[bool, typer.Option("--gold", help="Score with the simulation world's gold reward.")] = False,
    drift_summary: Annotated[Path | None, typer.Option(
        "--under-covered", help="`tether shift drift --json` output: add probes seeded from its examples.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many probes per set.")] = None,
    objective: Annotated[str, typer.Option(help="Objective whose score flags a probe.")] = "safety",
    threshold: Annotated[float, typer.Option(help="Flag when the objective's score (0-1) is below this.")] = 0.5,
    data_dir: Annotated[Path | None, typer.Option(help="Folder holding the sets (default: bundled data/).")] = None,
    world_seed: Annotated[int, typer.Option(help="Simulation world seed for --gold.")] = 0,
) -> None:
    """Probe a policy with red-team sets, score and flag its answers, write campaign items for flagged ones."""
    from tether.shift import redteam as rt

    if gold == (reward is not None):
        raise fail("give exactly one of --reward DIR or --gold")
    root = data_dir or rt.DATA_DIR
    try:
        probes = rt.load_sets([s.strip() for s in sets.split(",") if s.strip()], root, limit)
        if drift_summary is not None:
            examples = rt.under_covered_examples(json.loads(drift_summary.read_text(encoding="utf-8")))
            probes += rt.seeded_probes(examples[:limit] if limit else examples, root / "multijail")
        if not probes:
            raise ValueError("no probes: name at least one set or give --under-covered")
        # --gold: the scorer set `tether.sim` registers (shift never imports the simulated world above it)
        scorers = rt.named_scorers("gold", world_seed) if gold else rt.reward_scorers(reward)  # type: ignore[arg-type]
        responder = rt.policy_responder(policy)
        run = rt.run_probes(probes, responder, scorers, flag_objective=objective, threshold=threshold)
    except (ValueError, FileNotFoundError, OSError, KeyError) as exc:
        raise fail(str(exc)) from None
    paths = rt.write_outputs(run, out_dir)
    if responder.truncated:
        out.print(f"{len(responder.truncated)} of {len(probes)} probes are longer than the policy's context "
                  f"({responder.context} tokens less {responder.max_new_tokens} for the answer): they were cut "
                  "from the left (the end of each kept)", highlight=False)
    s = run.summary()["overall"]
    out.print(f"{s['flagged']}/{s['n']} probes flagged ({100 * s['flag_rate']:.1f}%, 95% CI "
              f"{100 * s['ci_low']:.1f}-{100 * s['ci_high']:.1f}%); items: {paths['items']}; "
              f"summary: {paths['summary']}; report: {paths['report']}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `tether shift ...`."""
    app.add_typer(shift_app, name="shift")
