"""`tether campaign ...`: thin commands over tether.collect."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from tether.cli_support import config_options, fail, open_store
from tether.collect.campaign import CampaignSettings

CAMPAIGN_OPTIONS = ("objectives", "overlap", "pilot_items", "agreement_threshold", "gold_rate", "attention_rate",
                    "qualification_gold", "pass_threshold", "queue_size",
                    "assignment_expiry_hours", "rule_raters")

campaign_app = typer.Typer(help="Annotation campaigns: create, watch, pause, revise the rubric, export.",
                           no_args_is_help=True)




@campaign_app.command("create")
@config_options(CampaignSettings, "campaign", CAMPAIGN_OPTIONS, param="settings", from_args=("name",))
def create(
    name: Annotated[str, typer.Argument(help="Campaign name (letters, digits, . _ -).")],
    items: Annotated[Path, typer.Option(help="JSONL of items: prompt, response_a, response_b, task_type, "
                                             "kind (regular/gold/attention), expected; a rating (Likert) item: "
                                             "prompt, response, task: rating, scale: [1, 5], scale_labels, "
                                             "objectives.")],
    rubric: Annotated[Path, typer.Option(help="Rubric text file (Markdown or plain text).")],
    rubric_version: Annotated[str, typer.Option(help="Version name of this first rubric.")] = "v1",
    enroll: Annotated[list[str] | None, typer.Option(help="Rater id to enroll; repeat.")] = None,
    *,
    settings: CampaignSettings,
) -> None:
    """Create a campaign from an item file and a rubric; every task type starts with a pilot."""
    from tether.collect.campaign import CampaignError, create_campaign, read_items
    from tether.collect.campaign import enroll as enroll_raters
    from tether.console import out
    from tether.io import InputError

    if not rubric.is_file():
        raise fail(f"{rubric}: no such file")
    with open_store() as store:
        try:
            parsed = read_items(items)
            create_campaign(store, settings, parsed, rubric.read_text(encoding="utf-8"), rubric_version=rubric_version)
            if enroll:
                enroll_raters(store, name, enroll)
        except (InputError, CampaignError, FileNotFoundError) as exc:
            raise fail(str(exc)) from None
    kinds = {k: sum(i.kind == k and i.task == "pairwise" for i in parsed) for k in ("regular", "gold", "attention")}
    n_rating = sum(i.task == "rating" for i in parsed)
    rated = f"{n_rating} rating items, " if n_rating else ""
    out.print(f"created campaign [bold]{name}[/]: {kinds['regular']} pairs, {rated}{kinds['gold']} gold, "
              f"{kinds['attention']} attention items; objectives {', '.join(settings.objectives)}; "
              f"{len({i.task_type for i in parsed})} task types in pilot")


@campaign_app.command("enroll")
def enroll_cmd(name: Annotated[str, typer.Argument()],
               rater: Annotated[list[str], typer.Argument(help="Rater ids.")]) -> None:
    """Enroll raters in a campaign (they qualify on gold items first if the campaign asks for it)."""
    from tether.collect.campaign import CampaignError, enroll
    from tether.console import out

    with open_store() as store:
        try:
            n = enroll(store, name, rater)
        except CampaignError as exc:
            raise fail(str(exc)) from None
    out.print(f"enrolled {n} new raters in {name}")


@campaign_app.command("status")
def status(name: Annotated[str, typer.Argument()],
           as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Progress, agreement so far, position bias so far, and paused task types."""
    from rich.table import Table

    from tether.collect.campaign import CampaignError
    from tether.collect.status import campaign_status
    from tether.console import out

    with open_store() as store:
        try:
            s = campaign_status(store, name)
        except CampaignError as exc:
            raise fail(str(exc)) from None
    if as_json:
        sys.stdout.write(json.dumps(s, indent=2, sort_keys=True, default=str) + "\n")
        return
    out.print(f"[bold]{name}[/]: {s['answered']} of {s['issued']} issued tasks answered; "
              f"paused: {', '.join(s['paused_task_types']) or 'none'}")
    table = Table(title="task types", title_justify="left")
    for col in ("task type", "status", "rubric", "pilot alpha", "alpha so far", "answered/issued", "why"):
        table.add_column(col)
    for tt, v in s["task_types"].items():
        fmt = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
        blocked = s["blocked_by_audit"].get(tt)
        table.add_row(tt, "blocked" if blocked else v["status"], str(v["rubric_version"]), fmt(v["pilot_agreement"]),
                      fmt(v.get("agreement_so_far")), f"{v['answered']}/{v['issued']}", blocked or v["reason"])
    out.print(table)
    b = s["position_bias"]
    if b:
        out.print(f"position bias so far (human raters): first shown picked {b['first']}/{b['n']} = {b['rate']:.3f} "
                  f"(95% CI {b['low']:.3f}-{b['high']:.3f}, binomial p={b['p_value']:.3g})")
    for judge, n in s["ai_raters"].items():
        p = s["position_bias_by_rater"].get(judge)
        shown = "" if p is None else f"; first shown picked {p['first']}/{p['n']} = {p['rate']:.3f}"
        with_ai = ", ".join(f"{tt} {v['agreement_so_far_with_ai']:.3f}" for tt, v in s["task_types"].items()
                            if "agreement_so_far_with_ai" in v)
        out.print(f"AI rater {judge}: {n} judgments{shown}; alpha so far with the AI raters: {with_ai or '-'} (the "
                  "table's alpha is the human raters')", highlight=False)


@campaign_app.command("pause")
def pause(name: Annotated[str, typer.Argument()], task_type: Annotated[str, typer.Argument()],
          reason: Annotated[str, typer.Option(help="Why (shown on the campaign page).")] = "paused by hand") -> None:
    """Pause a task type: no new assignments until a new rubric version is published."""
    from tether.collect.campaign import CampaignError, pause_task_type
    from tether.console import out

    with open_store() as store:
        try:
            withdrawn = pause_task_type(store, name, task_type, reason)
        except CampaignError as exc:
            raise fail(str(exc)) from None
    out.print(f"paused {task_type} in {name}; {withdrawn} open tasks withdrawn")


@campaign_app.command("publish-rubric")
def publish(
    name: Annotated[str, typer.Argument()],
    file: Annotated[Path, typer.Argument(help="The revised rubric text.")],
    version: Annotated[str, typer.Option(help="New version name, e.g. v2.")],
    task_type: Annotated[str, typer.Option(help="Task type it applies to; '*' for all.")] = "*",
) -> None:
    """Publish a rubric version; paused task types it covers resume with a fresh pilot round."""
    from tether.collect.campaign import CampaignError, publish_rubric
    from tether.console import out

    if not file.is_file():
        raise fail(f"{file}: no such file")
    with open_store() as store:
        try:
            resumed = publish_rubric(store, name, file.read_text(encoding="utf-8"), version=version,
                                     task_type=task_type)
        except CampaignError as exc:
            raise fail(str(exc)) from None
    out.print(f"published rubric {version} for {task_type}; resumed: {', '.join(resumed) or 'none'}")


@campaign_app.command("review")
def review(name: Annotated[str, typer.Argument()],
           force: Annotated[bool, typer.Option(help="Decide on the pilot answers so far.")] = False) -> None:
    """Apply the pilot rule now (it also runs by itself when a pilot round is complete)."""
    from tether.collect.assign import review_pilots
    from tether.collect.campaign import CampaignError
    from tether.console import out

    with open_store() as store:
        try:
            decisions = review_pilots(store, name, force=force)
        except CampaignError as exc:
            raise fail(str(exc)) from None
    for tt, decision in decisions.items():
        out.print(f"{tt}: {decision or 'pilot not complete yet'}")


@campaign_app.command("export")
def export(name: Annotated[str, typer.Argument()], file: Annotated[Path, typer.Argument(help="Comparisons JSONL.")],
           assignments: Annotated[Path | None, typer.Option(help="Also write the assignment log here.")] = None,
           ratings: Annotated[Path | None, typer.Option(help="Also write the campaign's ratings (Rating v1 JSONL, "
                                                             "its Likert tasks' answers) here.")] = None,
           ) -> None:
    """Export the campaign's comparisons (v1 JSONL), and optionally its ratings and assignment log (order,
    timings)."""
    from tether.collect.campaign import CampaignError
    from tether.collect.export import assignment_log
    from tether.console import out
    from tether.io import export_file
    from tether.io.jsonl import write_jsonl

    with open_store() as store:
        try:
            n = export_file(store, "comparisons", file, campaign=name)
            if ratings is not None:
                r = export_file(store, "ratings", ratings, campaign=name)
                out.print(f"wrote {r} ratings to {ratings}")
            elif (r := sum(1 for _ in store.iter_ratings(campaign=name, batch=500))) > 0:
                out.print(f"the campaign also holds {r} ratings (Likert tasks): pass --ratings FILE to write them")
            if assignments is not None:
                m = write_jsonl(assignments, assignment_log(store, name))
                out.print(f"wrote {m} assignments to {assignments}")
        except CampaignError as exc:
            raise fail(str(exc)) from None
    out.print(f"wrote {n} comparisons to {file}")


@campaign_app.command("admin-key")
def admin_key(name: Annotated[str, typer.Argument(help="Team member the credential is for.")]) -> None:
    """Create an admin credential for the campaign pages; printed once, stored hashed."""
    from tether.collect.security import create_admin_credential
    from tether.console import out

    with open_store() as store:
        try:
            secret = create_admin_credential(store, name)
        except ValueError as exc:
            raise fail(str(exc)) from None
    out.print(f"admin credential for {name} (shown once, not recoverable):")
    sys.stdout.write(secret + "\n")


def register(app: typer.Typer) -> None:
    """Add `tether campaign ...`."""
    app.add_typer(campaign_app, name="campaign")
