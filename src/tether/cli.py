"""The `tether` command line: parses, calls the library, prints."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from tether.cli_support import events_tenant, fail, open_store, require_project, show_warnings_plainly
from tether.config import ConfigError, hide_password, init_project
from tether.console import byte_progress, out

app = typer.Typer(
    name="tether",
    help="RLHF as a continuous, audited practice.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("tether")
        except PackageNotFoundError:  # running from a source tree that was never installed
            v = "unknown (not installed)"
        sys.stdout.write(f"tether {v}\n")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", callback=_version,
                                          is_eager=True)] = False,
) -> None:
    """RLHF as a continuous, audited practice."""
    show_warnings_plainly()


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Project folder (created if missing).")] = Path("."),
    name: Annotated[str | None, typer.Option(help="Project name (default: folder name).")] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="SQLAlchemy URL; default SQLite in .tether/.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing tether.toml.")] = False,
) -> None:
    """Create a project folder: tether.toml, .tether/ and the database schema."""
    try:
        project = init_project(path, name=name, database_url=database_url, force=force)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    from tether.deploy.keyring import Keyring, project_key_file

    Keyring(project_key_file(project)).current(project.name)  # the pseudonym key, outside the database
    out.print(f"initialized project [bold]{escape(project.name)}[/] in {escape(str(project.root))}")
    out.print(f"database: {escape(hide_password(project.database_url))}", highlight=False)


def _kinds_help(target: str) -> str:
    from tether.io import FORMATS
    from tether.io.formats import get_format

    get_format("comparisons")  # registers all kinds
    names = [n for n, f in sorted(FORMATS.items()) if (f.reader if target == "import" else f.writer)]
    return "One of: " + ", ".join(names)


@app.command("import")
def import_(
    kind: Annotated[str, typer.Argument(help="comparisons, ratings, pairs, events, hh-rlhf, trl, hf, "
                                             "hf-comparisons, pandalm, prd, labelstudio, argilla")],
    file: Annotated[Path, typer.Argument(help="File (JSONL, JSON, .gz, .parquet) or folder (prd, hf, "
                                                        "argilla).")],
    skip_bad: Annotated[
        Path | None, typer.Option("--skip-bad", help="Write rejected lines here and import the rest.")
    ] = None,
    set_name: Annotated[str, typer.Option("--set", help="Preference set for pair kinds.")] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import a file into the project's store (all or nothing, idempotent)."""
    from tether.deploy.event_rules import event_problems
    from tether.deploy.ingest import import_redactor
    from tether.io import InputError, import_file
    from tether.io.formats import get_format
    from tether.io.importer import total_bytes

    store = open_store()
    tenant = events_tenant()
    try:
        events = get_format(kind).target == "events"
        with byte_progress(f"import {kind}", total_bytes(file) if file.exists() else 0) as advance:
            report = import_file(store, kind, file, skip_bad=skip_bad, set_name=set_name, on_bytes=advance,
                                 transform_event=import_redactor(store, tenant) if events else None,
                                 check_event=event_problems if events else None, project=tenant)
    except InputError as exc:
        if exc.n_bad == 1:
            raise fail(str(exc), "nothing was imported; fix the line or pass --skip-bad FILE") from None
        listed = [str(b) for b in exc.bad_lines]
        more = [f"... and {exc.n_bad - len(listed)} more"] if exc.n_bad > len(listed) else []
        raise fail(f"{exc.n_bad} bad lines in {file}:", "nothing was imported; fix the lines or pass --skip-bad FILE "
                   "(writes them with their reasons and imports the rest)", details=listed + more) from None
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    if as_json:
        out.print_json(json.dumps(report.as_dict()))
        return
    skipped = f", {report.skipped} skipped" if report.skipped else ""
    into = f" into events tenant {tenant!r}" if report.target == "events" else ""
    out.print(
        f"imported {report.stored} {report.target} from {escape(str(file))}{escape(into)} "
        f"({report.duplicates} already stored, {report.rejected} rejected{skipped})"
    )
    for reason, n in report.skipped_reasons.items():
        out.print(f"  skipped {n}: {escape(reason)}", highlight=False)
    if report.rejected:
        out.print(f"rejected lines with reasons: {escape(str(report.rejected_file))}")
        for line in report.first_errors:
            out.print(f"  {escape(line)}", highlight=False)
        if report.rejected > len(report.first_errors):
            out.print(f"  ... and {report.rejected - len(report.first_errors)} more (all in the file)")


@app.command()
def export(
    kind: Annotated[str, typer.Argument(help="comparisons, ratings, pairs, events, trl, hf, hf-comparisons, "
                                             "hh-rlhf, pandalm")],
    file: Annotated[Path, typer.Argument(help="Output file (.gz compresses; hf: a folder, or a .parquet file).")],
    set_name: Annotated[str | None, typer.Option("--set", help="Only this preference set.")] = None,
    objective: Annotated[str | None, typer.Option(help="Only this objective (comparisons, ratings).")] = None,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign (comparisons, ratings).")] = None,
    project: Annotated[str | None, typer.Option(help="Only this project's events (events); each event names "
                                                     "its project.")] = None,
) -> None:
    """Export stored records in one of the interchange kinds (atomically: a failure leaves no partial file)."""
    from tether.io import export_file
    from tether.io.formats import get_format

    with open_store() as store:
        try:
            fmt = get_format(kind)
            options: dict = {}
            if fmt.target == "pairs":
                options["set_name"] = set_name
            elif fmt.target in ("comparisons", "ratings"):
                options.update(objective=objective, campaign=campaign)
            elif fmt.target == "events":
                options["project"] = project
            n = export_file(store, kind, file, **options)
        except ValueError as exc:
            raise fail(str(exc)) from None
    out.print(f"wrote {n} records to {file}")


@app.command()
def stats(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Counts by objective, task type, rater and campaign."""
    from rich.table import Table

    with open_store() as store:
        s = store.stats()
    if as_json:
        sys.stdout.write(json.dumps(s, indent=2, sort_keys=True) + "\n")
        return
    out.print(f"[bold]{s['comparisons']}[/] comparisons of [bold]{s['pairs']}[/] pairs "
              f"by [bold]{s['raters']}[/] raters")
    for key, title in (("by_objective", "objective"), ("by_task_type", "task type"),
                       ("by_rater", "rater"), ("by_campaign", "campaign")):
        table = Table(title=f"by {title}", title_justify="left")
        table.add_column(title)
        table.add_column("comparisons", justify="right")
        table.add_column("pairs", justify="right")
        rows = sorted(s[key].items(), key=lambda kv: -kv[1]["comparisons"])
        for name, v in rows[:25]:
            table.add_row(name, str(v["comparisons"]), str(v["pairs"]))
        if len(rows) > 25:
            table.add_row(f"... {len(rows) - 25} more", "", "")
        out.print(table)
    if s["preference_sets"]:
        out.print("preference sets: " + ", ".join(f"{k} ({v} pairs)" for k, v in s["preference_sets"].items()))
    if s["events"]:
        out.print("events: " + ", ".join(f"{k} {v}" for k, v in sorted(s["events"].items())))


@app.command()
def serve(host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port.")] = 8000,
          secure_cookies: Annotated[bool, typer.Option(
              help="Session cookies only over HTTPS (set this behind a TLS-terminating proxy).")] = False) -> None:
    """Run the Tether server for this project: rater app at /collect, ingestion API at /v1."""
    import uvicorn

    from tether.deploy.api import freeze_startup_objects
    from tether.server import server_config

    config = server_config(require_project(), host=host, port=port, secure_cookies=secure_cookies)
    freeze_startup_objects()
    uvicorn.Server(config).run()


# Each stage registers its own commands (`register(app)` in `tether.<stage>.cli`), so
# this file stays a table of contents rather than growing with every capability.
_STAGE_CLIS = (
    "tether.sim.cli",
    "tether.audit.cli",
    "tether.raters.cli",
    "tether.collect.cli",
    "tether.reward.cli",
    "tether.policy.cli",
    "tether.deploy.cli",
    "tether.shift.cli",
    "tether.outcomes.cli",
    "tether.loop.cli",
    "tether.demo",
)


for _name in _STAGE_CLIS:
    try:
        importlib.import_module(_name).register(app)
    except ModuleNotFoundError as _exc:
        if _exc.name != _name:
            raise


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
