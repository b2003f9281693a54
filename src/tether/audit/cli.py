"""`tether audit` and `tether curate`: thin commands over tether.audit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tether.audit.config import AuditConfig, CurateConfig
from tether.cli_support import config_options, fail, open_store, require_project

KIND_HELP = "Kind of FILE (any importable comparisons kind: comparisons, pandalm, prd, ...; or ratings)."


def _load(file: Path | None, kind: str, objective: str | None, task_type: str | None, campaign: str | None):  # noqa: ANN202
    """Comparisons from FILE (read with the kind's reader) or from the project store, filtered."""
    from tether.console import step_progress
    from tether.io.formats import read_records

    filters = {"objective": objective, "task_type": task_type, "campaign": campaign}
    if file is None:
        with open_store() as store, step_progress("reading comparisons", store.count_comparisons()) as advance:
            out = []
            for c in read_records("comparisons", store, **filters):
                out.append(c)
                advance(1)
        if not out:
            raise fail("the project store holds no comparisons (matching the filters)",
                       "import some first: tether import comparisons FILE, or pass FILE")
        return _without_attention_checks(out)
    return _without_attention_checks(_read_file("comparisons", file, kind, filters))


def _read_file(target: str, file: Path, kind: str, filters: dict) -> list:
    """Records of `target` in FILE (read with the kind's reader), filtered; a clear error for a bad or empty file."""
    from tether.io import InputError
    from tether.io.formats import read_records

    try:
        out = list(read_records(target, path=file, kind=kind, **filters))
    except InputError as exc:
        raise fail(str(exc), "fix the line, or import with --skip-bad and audit the store") from None
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    if not out:
        raise fail(f"{file}: no {target} (matching the filters)")
    return out


def _load_judgments(file: Path | None, kind: str, objective: str | None, task_type: str | None,
                    campaign: str | None) -> tuple[list, list]:
    """(comparisons, ratings) to audit: a FILE holds one kind (`--kind ratings` for a ratings file); the store
    gives both (a campaign may mix pairwise and rating tasks)."""
    from tether.io.formats import get_format, read_records

    filters = {"objective": objective, "task_type": task_type, "campaign": campaign}
    try:
        file_holds_ratings = file is not None and get_format(kind).target == "ratings"
    except ValueError as exc:
        raise fail(str(exc)) from None
    if file_holds_ratings:
        return [], _read_file("ratings", file, kind, filters)
    if file is not None:
        return _load(file, kind, objective, task_type, campaign), []
    with open_store() as store:
        ratings = [r for r in read_records("ratings", store, **filters) if "item_kind" not in r.extras]
        has_comparisons = next(read_records("comparisons", store, **filters), None) is not None
    if ratings and not has_comparisons:
        return [], ratings
    return _load(file, kind, objective, task_type, campaign), ratings


def _without_attention_checks(comparisons: list) -> list:
    """Attention-check answers ("choose B") test the rater, not the responses: they would inflate agreement
    and end up as trivial training pairs. Gold items stay: their texts are real and their labels known."""
    from tether.console import console

    kept = [c for c in comparisons if c.extras.get("item_kind") != "attention"]
    if len(kept) < len(comparisons):
        console.print(f"left out {len(comparisons) - len(kept)} attention-check judgments (campaign items of kind "
                      "attention)", highlight=False)
    if not kept:
        raise fail("every comparison is an attention-check answer: nothing to audit")
    return kept


def _record(result, comparisons: list, file: Path | None):  # noqa: ANN001, ANN202
    """Store the audit run (later stages read it from the store) and return it with its id."""
    from tether.audit import audit_run

    with open_store() as store:
        return store.add_audit_run(audit_run(result, comparisons, str(file) if file else "store"))


def _with_gold(config, gold: Path | None):  # noqa: ANN001, ANN202
    from tether.audit.reliability import read_gold

    try:
        return config.model_copy(update={"gold": read_gold(gold)}) if gold else config
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None


File = Annotated[Path | None, typer.Argument(help="Comparisons (or, with --kind ratings, ratings) file; default: "
                                                 "the project store (comparisons and ratings).")]
Kind = Annotated[str, typer.Option("--kind", help=KIND_HELP)]
Objective = Annotated[str | None, typer.Option(help="Only this objective.")]
TaskType = Annotated[str | None, typer.Option("--task-type", help="Only this task type.")]
Campaign = Annotated[str | None, typer.Option(help="Only this campaign.")]
Gold = Annotated[Path | None, typer.Option(help="Gold labels: JSON {pair_id: a|b|tie} or JSONL {pair_id, label}.")]


AUDIT_OPTIONS = ("n_bootstrap", "seed", "block_threshold", "min_shared_items", "label_frame", "rule_raters",
                 "ai_raters")


def _with_stored_ai_raters(config: AuditConfig, file: Path | None) -> AuditConfig:
    """Raters the store marks as models (Rater attributes kind 'ai') join the config's AI raters."""
    if file is not None:
        return config
    with open_store() as store:
        stored = {r.id for r in store.raters() if r.is_ai}
    return config.model_copy(update={"ai_raters": sorted(set(config.ai_raters) | stored)}) if stored else config


def _with_campaign_rule(config: AuditConfig, campaign: str | None) -> AuditConfig:
    """A campaign created with `--rule-raters all` puts its AI raters into the 0.4 rule of its audits."""
    if campaign is None or config.rule_raters == "all":
        return config
    from tether.store import collect_repo

    with open_store() as store, store.connect() as conn:
        row = collect_repo.campaign_row(conn, campaign)
    return config.model_copy(update={"rule_raters": "all"}) if row and row.get("rule_raters") == "all" else config


@config_options(AuditConfig, "audit", AUDIT_OPTIONS)
def audit(
    file: File = None,
    kind: Kind = "comparisons",
    objective: Objective = None,
    task_type: TaskType = None,
    campaign: Campaign = None,
    gold: Gold = None,
    html: Annotated[Path | None, typer.Option("--html", help=r"HTML report \[default: .tether/reports/audit.html]")
                    ] = None,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Also write the numbers as JSON here (always: .tether/reports/audit.json).")] = None,
    *,
    config: AuditConfig,
) -> None:
    """Can the labels be trusted? Agreement per task type (0.4 rule), raters, position bias; ratings (Likert):
    interval and ordinal agreement."""
    from tether.audit import run_audit
    from tether.audit.ratings import audit_ratings
    from tether.audit.ratings_report import mixed_audit_run, mixed_numbers, print_ratings_summary, write_mixed_html
    from tether.audit.report import print_summary
    from tether.config import find_project
    from tether.console import console, out

    require_project()  # the run is stored and its reports written in the project: say so before any work
    comparisons, ratings = _load_judgments(file, kind, objective, task_type, campaign)
    config = _with_campaign_rule(_with_gold(config, gold), campaign)
    result = ratings_audit = None
    with console.status("auditing"):
        try:
            if comparisons:
                result = run_audit(comparisons, _with_stored_ai_raters(config, file))
            if ratings:
                ratings_audit = audit_ratings(ratings, config)
        except ValueError as exc:
            raise fail(str(exc)) from None
    if result is not None:
        print_summary(result, out)
    if ratings_audit is not None:
        print_ratings_summary(ratings_audit, out)
    with open_store() as store:
        run = store.add_audit_run(mixed_audit_run(result, comparisons, ratings_audit, ratings, config,
                                                  str(file) if file else "store"))
    out.print(f"stored as audit run {run.id}")
    reports = find_project().data_dir / "reports"
    html_path = html or reports / "audit.html"
    with console.status("writing the HTML report"):
        write_mixed_html(result, ratings_audit, html_path)
    out.print(f"HTML report: {html_path}")
    numbers = mixed_numbers(result, ratings_audit)
    for path in {json_out or reports / "audit.json", reports / "audit.json"}:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(numbers, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
    out.print(f"JSON: {json_out or reports / 'audit.json'}")


@config_options(CurateConfig, "curate", ("policy", "include_blocked", "soft_labels", "reliability", "weights"),
                param="curate_config")
@config_options(AuditConfig, "audit", AUDIT_OPTIONS)
def curate(
    file: File = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write v1 preference pairs here.")] = None,
    set_name: Annotated[str | None, typer.Option(
        "--set", help="Also store them as this preference set (replacing its pairs).")] = None,
    kind: Kind = "comparisons",
    objective: Objective = None,
    task_type: TaskType = None,
    campaign: Campaign = None,
    gold: Gold = None,
    *,
    config: AuditConfig,
    curate_config: CurateConfig,
) -> None:
    """Audited comparisons -> weighted preference pairs (ties kept, soft labels, provenance flags)."""
    from tether.audit import curate as curate_
    from tether.audit import run_audit
    from tether.console import console, out
    from tether.io import write_jsonl
    from tether.io.v1 import pair_to_v1

    if output is None and set_name is None:
        raise fail("nowhere to put the pairs", "pass -o FILE (v1 JSONL) and/or --set NAME (the project store)")
    require_project()
    comparisons = _load(file, kind, objective, task_type, campaign)
    with console.status("auditing and curating"):
        try:
            result = run_audit(comparisons, _with_stored_ai_raters(_with_gold(config, gold), file))
            curated = curate_(result, curate_config)
        except ValueError as exc:
            raise fail(str(exc)) from None
    run = _record(result, comparisons, file)
    # each pair names the audit run that curated it: a model trained on the pairs can name it in its lineage
    pairs = [p.model_copy(update={"provenance": {**p.provenance, "audit_run": run.id}}) for p in curated.pairs]
    c = curated.counts
    out.print(f"audit run {run.id}: {c['pairs']} preference pairs ({c['ties']} ties) from {c['items']} items; "
              f"excluded: "
              f"{c['excluded_blocked']} of blocked task types, {c['discarded_reversal']} reversed (discarded), "
              f"{c['dropped_zero_weight']} at weight 0 (no reliable rater, or a 50/50 posterior); "
              f"{c['downweighted_reversal']} reversed pairs downweighted")
    if output is not None:
        write_jsonl(output, (pair_to_v1(p) for p in pairs))
        out.print(f"wrote {len(pairs)} pairs to {output}; how many more are worth buying: "
                  f"tether reward curve --pairs {output} --report curve.html", highlight=False)
    if set_name is not None:
        with open_store() as store:
            written = store.add_pairs(pairs, set_name=set_name, replace=True)
        repeats = len(pairs) - written.stored
        why = (f"; {repeats} more repeat another pair's prompt, chosen and rejected texts and objective (a set holds "
               f"each once{'; the file keeps all ' + str(len(pairs)) if output is not None else ''})"
               if repeats else "")
        out.print(f"stored {written.stored} pairs as preference set {set_name!r}{why}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `audit` and `curate` to the tether command line."""
    app.command()(audit)
    app.command()(curate)
