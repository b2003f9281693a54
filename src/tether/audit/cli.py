"""`tether audit` and `tether curate`: thin commands over tether.audit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tether.cli_support import fail, open_store

KIND_HELP = "Kind of FILE (any importable comparisons kind: comparisons, pandalm, prd, ...)."


def _load(file: Path | None, kind: str, objective: str | None, task_type: str | None, campaign: str | None):  # noqa: ANN202
    """Comparisons from FILE (read with the kind's reader) or from the project store, filtered."""
    from tether.console import step_progress
    from tether.io import InputError
    from tether.io.formats import read_kind

    def keep(c) -> bool:  # noqa: ANN001
        return ((objective is None or c.objective == objective) and (task_type is None or c.task_type == task_type)
                and (campaign is None or c.campaign == campaign))

    if file is None:
        store = open_store()
        try:
            with step_progress("reading comparisons", store.count_comparisons()) as advance:
                out = []
                for c in store.iter_comparisons(objective=objective, task_type=task_type, campaign=campaign):
                    out.append(c)
                    advance(1)
        finally:
            store.close()
        if not out:
            raise fail("the project store holds no comparisons (matching the filters)",
                       "import some first: tether import comparisons FILE, or pass FILE")
        return out
    try:
        out = [c for c in read_kind(kind, file, "comparisons") if keep(c)]
    except InputError as exc:
        raise fail(str(exc), "fix the line, or import with --skip-bad and audit the store") from None
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    if not out:
        raise fail(f"{file}: no comparisons (matching the filters)")
    return out


def _audit_config(bootstrap: int, seed: int, threshold: float, min_shared: int, gold: Path | None,
                  label_frame: str):  # noqa: ANN202
    from pydantic import ValidationError

    from tether.audit import AuditConfig
    from tether.audit.reliability import read_gold

    try:
        gold_labels = read_gold(gold) if gold else None
        return AuditConfig(n_bootstrap=bootstrap, seed=seed, block_threshold=threshold, min_shared_items=min_shared,
                           gold=gold_labels, label_frame=label_frame)
    except (ValueError, ValidationError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None


File = Annotated[Path | None, typer.Argument(help="Comparisons file; default: the project store.")]
Kind = Annotated[str, typer.Option("--kind", help=KIND_HELP)]
Objective = Annotated[str | None, typer.Option(help="Only this objective.")]
TaskType = Annotated[str | None, typer.Option("--task-type", help="Only this task type.")]
Campaign = Annotated[str | None, typer.Option(help="Only this campaign.")]
Gold = Annotated[Path | None, typer.Option(help="Gold labels: JSON {pair_id: a|b|tie} or JSONL {pair_id, label}.")]
Bootstrap = Annotated[int, typer.Option(help="Bootstrap resamples for every interval.")]
Seed = Annotated[int, typer.Option(help="Seed of the bootstrap.")]
Threshold = Annotated[float, typer.Option(help="Block task types whose alpha is below this.")]
MinShared = Annotated[int, typer.Option("--min-shared", help="Shared items a rater pair needs for Cohen's kappa.")]
Frame = Annotated[str, typer.Option("--label-frame", help="canonical (a/b/tie) or display (first/second/tie).")]


def register(app: typer.Typer) -> None:
    """Add `audit` and `curate` to the tether command line."""

    @app.command()
    def audit(
        file: File = None,
        kind: Kind = "comparisons",
        objective: Objective = None,
        task_type: TaskType = None,
        campaign: Campaign = None,
        gold: Gold = None,
        html: Annotated[Path | None, typer.Option("--html", help="HTML report [default: .tether/reports/audit.html]")
                        ] = None,
        json_out: Annotated[Path | None, typer.Option(
            "--json", help="Also write the numbers as JSON here (always: .tether/reports/audit.json).")] = None,
        bootstrap: Bootstrap = 200,
        seed: Seed = 0,
        threshold: Threshold = 0.4,
        min_shared: MinShared = 20,
        label_frame: Frame = "canonical",
    ) -> None:
        """Can the labels be trusted? Agreement per task type (0.4 rule), raters, position bias."""
        from tether.audit import run_audit
        from tether.audit.report import print_summary, write_html
        from tether.config import find_project
        from tether.console import console, out

        comparisons = _load(file, kind, objective, task_type, campaign)
        config = _audit_config(bootstrap, seed, threshold, min_shared, gold, label_frame)
        with console.status("auditing"):
            try:
                result = run_audit(comparisons, config)
            except ValueError as exc:
                raise fail(str(exc)) from None
        print_summary(result, out)
        reports = find_project().data_dir / "reports"
        html_path = html or reports / "audit.html"
        with console.status("writing the HTML report"):
            write_html(result, html_path)
        out.print(f"HTML report: {html_path}")
        # the latest audit's numbers always land beside the report, where campaigns can read blocked task types
        for path in {json_out or reports / "audit.json", reports / "audit.json"}:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(result.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n",
                            encoding="utf-8")
        out.print(f"JSON: {json_out or reports / 'audit.json'}")

    @app.command()
    def curate(
        file: File = None,
        policy: Annotated[str, typer.Option(help="Reversed pairs: discard, downweight or keep.")] = "downweight",
        output: Annotated[Path | None, typer.Option("-o", "--output", help="Write v1 preference pairs here.")
                          ] = None,
        set_name: Annotated[str | None, typer.Option(
            "--set", help="Also store them as this preference set (replacing its pairs).")] = None,
        include_blocked: Annotated[bool, typer.Option("--include-blocked",
                                                      help="Keep pairs of blocked task types.")] = False,
        soft_labels: Annotated[str, typer.Option(help="bradley_terry or dawid_skene.")] = "bradley_terry",
        kind: Kind = "comparisons",
        objective: Objective = None,
        task_type: TaskType = None,
        campaign: Campaign = None,
        gold: Gold = None,
        bootstrap: Bootstrap = 200,
        seed: Seed = 0,
        threshold: Threshold = 0.4,
        min_shared: MinShared = 20,
        label_frame: Frame = "canonical",
    ) -> None:
        """Audited comparisons -> weighted preference pairs (ties kept, soft labels, provenance flags)."""
        from pydantic import ValidationError

        from tether.audit import CurateConfig, run_audit
        from tether.audit import curate as curate_
        from tether.console import console, out
        from tether.io import write_jsonl
        from tether.io.v1 import pair_to_v1

        if output is None and set_name is None:
            raise fail("nowhere to put the pairs", "pass -o FILE (v1 JSONL) and/or --set NAME (the project store)")
        try:
            cconfig = CurateConfig(policy=policy, include_blocked=include_blocked, soft_labels=soft_labels)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise fail(f"--{err['loc'][0]}: {err['msg']}") from None
        comparisons = _load(file, kind, objective, task_type, campaign)
        config = _audit_config(bootstrap, seed, threshold, min_shared, gold, label_frame)
        with console.status("auditing and curating"):
            try:
                curated = curate_(run_audit(comparisons, config), cconfig)
            except ValueError as exc:
                raise fail(str(exc)) from None
        c = curated.counts
        out.print(f"{c['pairs']} preference pairs ({c['ties']} ties) from {c['items']} items; excluded: "
                  f"{c['excluded_blocked']} of blocked task types, {c['discarded_reversal']} reversed (discarded), "
                  f"{c['dropped_zero_weight']} with no reliable rater; {c['downweighted_reversal']} reversed "
                  f"pairs downweighted")
        if output is not None:
            write_jsonl(output, (pair_to_v1(p) for p in curated.pairs))
            out.print(f"wrote {len(curated.pairs)} pairs to {output}")
        if set_name is not None:
            store = open_store()
            try:
                written = store.add_pairs(curated.pairs, set_name=set_name, replace=True)
            finally:
                store.close()
            out.print(f"stored {written.stored} pairs as preference set {set_name!r}")
