"""`tether raters ...`: import candidates (printing sign-in links once), match to a profile, qualify."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tether.audit.config import AGREEMENT_FLOOR
from tether.cli_support import fail, open_store

raters_app = typer.Typer(help="Raters: import candidates, match them to a written profile, qualify.",
                         no_args_is_help=True)



# Where `tether serve` mounts the rater app (tether.server.COLLECT_PREFIX; a test keeps the two equal). The raters
# stage sits below the server, so it names the path rather than import it.
COLLECT_PATH = "/collect"
BASE_URL_HELP = ("Where raters reach `tether serve` (scheme, host, port, any proxy path); links go to its rater app "
                 f"at {COLLECT_PATH}/r/TOKEN.")


EXPIRES_HELP = ("Days the link stays valid [default: tether.toml [campaign] link_expiry_days, else 30].")


def _lifetime(days: float | None):  # noqa: ANN202
    from tether.collect.security import link_lifetime

    try:
        return link_lifetime(days)
    except ValueError as exc:
        raise fail(f"--expires-days: {exc}") from None


def sign_in_link(base_url: str, token: str) -> str:
    """The sign-in link for a token: BASE/collect/r/TOKEN (a base that already ends in /collect is kept as is)."""
    base = base_url.rstrip("/")
    if not base.endswith(COLLECT_PATH):
        base += COLLECT_PATH
    return f"{base}/r/{token}"


@raters_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="Candidates: JSONL or CSV with an 'id' column; other keys are "
                                              "attributes (CSV lists as a;b).")],
    base_url: Annotated[str, typer.Option(help=BASE_URL_HELP)] = "http://127.0.0.1:8000",
    links: Annotated[bool, typer.Option(help="Issue a sign-in link for each rater.")] = True,
    expires_days: Annotated[float | None, typer.Option(help=EXPIRES_HELP, show_default=False)] = None,
) -> None:
    """Import raters; each gets a personal sign-in link, printed once (tokens are stored hashed)."""
    from tether.collect.security import create_raters_with_tokens
    from tether.console import out
    from tether.io import InputError
    from tether.raters.profile import read_candidates

    try:
        raters = read_candidates(file)
    except (InputError, FileNotFoundError) as exc:
        raise fail(str(exc), "nothing was imported") from None
    lifetime = _lifetime(expires_days) if links else None
    with open_store() as store:
        if lifetime is not None:
            tokens = create_raters_with_tokens(store, raters, lifetime=lifetime)
        else:
            store.upsert_raters(raters)
            tokens = {}
    out.print(f"imported {len(raters)} raters from {file}")
    if tokens:
        out.print("sign-in links (shown once; not recoverable - send each to its rater):")
        for rater_id, token in tokens.items():
            typer.echo(f"{rater_id}\t{sign_in_link(base_url, token)}")


@raters_app.command("match")
def match_cmd(
    profile: Annotated[Path, typer.Argument(help="Target profile (TOML or YAML).")],
    candidates: Annotated[Path | None, typer.Option(help="Candidate file; default: raters in the store.")] = None,
    top: Annotated[int, typer.Option(help="Show this many.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    save: Annotated[bool, typer.Option(help="Save the profile in the store.")] = True,
) -> None:
    """Rank candidates against a written profile, with the reason for each score."""
    from rich.table import Table

    from tether.console import out
    from tether.raters.match import rank
    from tether.raters.profile import load_profile, read_candidates, stored_raters

    try:
        target = load_profile(profile)
        people = read_candidates(candidates) if candidates else None
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    with open_store() as store:
        if people is None:
            people = stored_raters(store)
        if save:
            store.save_profile(target.to_record())
    if not people:
        raise fail("no candidates", "pass --candidates FILE or run tether raters import first")
    ranked = rank(target, people)
    if as_json:
        typer.echo(json.dumps([{"rater": m.rater.id, "score": round(m.score, 4), "eligible": m.eligible,
                                "reason": m.reason} for m in ranked[:top]], indent=2))
        return
    table = Table(title=f"recruit list for {target.name}", title_justify="left")
    for col in ("#", "rater", "score", "eligible", "why"):
        table.add_column(col)
    for i, m in enumerate(ranked[:top], start=1):
        table.add_row(str(i), m.rater.id, f"{m.score:.2f}", "yes" if m.eligible else "no", m.reason)
    out.print(table)


@raters_app.command("qualify")
def qualify_cmd(
    campaign: Annotated[str, typer.Argument()],
    audit_json: Annotated[Path | None, typer.Option(help="`tether audit --json` output: per-rater reliability.")]
    = None,
    min_gold_accuracy: Annotated[float | None, typer.Option(help="Default: the campaign's pass threshold.")] = None,
    min_agreement: Annotated[float, typer.Option(help="Audit reliability below this sends a rater back.")
                             ] = AGREEMENT_FLOOR,
    requalify: Annotated[bool, typer.Option(help="Send raters whose numbers dropped back to qualification.")]
    = False,
) -> None:
    """Show qualification (gold accuracy per rater); with --requalify, re-qualify raters who dropped."""
    from rich.table import Table

    from tether.collect.campaign import CampaignError
    from tether.console import out
    from tether.raters.qualify import qualifications
    from tether.raters.qualify import requalify as do_requalify

    agreement: dict[str, float] = {}
    if audit_json is not None:
        try:
            data = json.loads(audit_json.read_text(encoding="utf-8"))
            agreement = {r: float(v["reliability"]) for r, v in data.get("raters", {}).items()
                         if v.get("reliability") is not None}
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            raise fail(f"{audit_json}: cannot read per-rater reliability (key raters.<id>.reliability): {exc}"
                        ) from None
    with open_store() as store:
        try:
            if requalify:
                for q in do_requalify(store, campaign, agreement=agreement, min_gold_accuracy=min_gold_accuracy,
                                      min_agreement=min_agreement):
                    out.print(f"{q.rater}: {q.reason}")
            rows = qualifications(store, campaign, agreement)
        except CampaignError as exc:
            raise fail(str(exc)) from None
    table = Table(title=f"qualification in {campaign}", title_justify="left")
    for col in ("rater", "status", "gold accuracy", "gold answers", "agreement", "note"):
        table.add_column(col)
    for q in rows:
        table.add_row(q.rater, q.status, "-" if q.gold_accuracy is None else f"{q.gold_accuracy:.2f}",
                      str(q.gold_answers), "-" if q.agreement is None else f"{q.agreement:.2f}", q.reason)
    out.print(table)


@raters_app.command("link")
def link(rater: Annotated[str, typer.Argument()],
         base_url: Annotated[str, typer.Option(help=BASE_URL_HELP)] = "http://127.0.0.1:8000",
         expires_days: Annotated[float | None, typer.Option(help=EXPIRES_HELP, show_default=False)] = None) -> None:
    """Issue a new sign-in link for a rater (old links keep working until they expire or are revoked)."""
    from tether.collect.security import issue_rater_token

    lifetime = _lifetime(expires_days)
    with open_store() as store:
        try:
            token = issue_rater_token(store, rater, lifetime=lifetime)
        except KeyError as exc:
            raise fail(str(exc.args[0])) from None
    typer.echo(f"{rater}\t{sign_in_link(base_url, token)}")


@raters_app.command("revoke")
def revoke(rater: Annotated[str, typer.Argument(help="Rater id.")]) -> None:
    """Revoke every sign-in link of a rater and sign them out everywhere (issue a new link with `link`)."""
    from tether.collect.security import revoke_rater
    from tether.console import out

    with open_store() as store:
        try:
            n = revoke_rater(store, rater)
        except KeyError as exc:
            raise fail(str(exc.args[0])) from None
    out.print(f"revoked {n} sign-in link(s) of {rater}; their sessions are ended")


@raters_app.command("judge")
def judge_cmd(
    file: Annotated[Path | None, typer.Argument(help="Pairs to judge: campaign items or comparisons JSONL (prompt, "
                                                     "response_a, response_b, task_type); leave out with "
                                                     "--campaign to judge that campaign's items.")] = None,
    base_url: Annotated[str, typer.Option(help="OpenAI-compatible endpoint base, e.g. http://127.0.0.1:8000/v1 "
                                               "(vLLM, TGI, llama.cpp server, a hosted API); POSTs "
                                               "BASE/chat/completions.")] = "",
    model: Annotated[str, typer.Option(help="Model name sent to the endpoint; the rater is judge:MODEL.")] = "",
    rubric: Annotated[Path | None, typer.Option(help="Rubric or constitution (text/Markdown): the judge's system "
                                                     "prompt [default with --campaign and no FILE: the campaign's "
                                                     "rubric of each task type].", show_default=False)] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write the judgments as v1 comparisons "
                                                                       "JSONL.")] = None,
    store: Annotated[bool, typer.Option("--store", help="Store the judgments in the project store.")] = False,
    api_key_env: Annotated[str | None, typer.Option(help="Environment variable holding the API key.")] = None,
    api_key_file: Annotated[Path | None, typer.Option(help="File holding the API key (mode 0600; a file others "
                                                           "can read is refused).")] = None,
    one_order: Annotated[bool, typer.Option("--one-order", help="Judge each pair once (A shown first) instead "
                                                                "of in both display orders.")] = False,
    concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight at once.")] = 4,
    retry_wait: Annotated[float, typer.Option(min=0, help="Seconds before the first retry of a failed call; "
                                                          "doubles each retry (5 retries).")] = 1.0,
    timeout: Annotated[float, typer.Option(min=0.01, help="Seconds a call may take before it is abandoned and "
                                                         "retried.")] = 120.0,
    campaign: Annotated[str | None, typer.Option(help="Campaign: without FILE, judge its regular and gold items "
                                                      "(each objective, its rubric) as an extra rater and store "
                                                      "the verdicts into it, skipping what the judge answered "
                                                      "before; with FILE, only recorded on each judgment.")] = None,
) -> None:
    """Judge pairs with an LLM through an OpenAI-compatible endpoint; verdicts are comparisons, audited like
    a human's (`tether audit` shows the judge's position bias and its agreement with the human raters)."""
    from tether.console import console, out, step_progress
    from tether.io import write_jsonl
    from tether.io.v1 import comparison_to_v1
    from tether.raters.judge import JudgeConfig, JudgeError, judge, load_api_key, read_items
    from tether.raters.judge_campaign import answered, campaign_judge_items, register_judge
    from tether.records import Side

    from_campaign = file is None
    if from_campaign and campaign is None:
        raise fail("nothing to judge", "pass a FILE of pairs, or --campaign NAME to judge a campaign's items")
    if not base_url or not model:
        raise fail("--base-url and --model are required")
    if from_campaign:
        store = True  # a campaign's extra rater: its verdicts belong in the campaign
    if output is None and not store:
        raise fail("nowhere to put the judgments", "pass -o FILE and/or --store")
    if rubric is None and not from_campaign:
        raise fail("--rubric is required with a FILE of pairs")
    try:
        rubric_text = "" if rubric is None else rubric.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{rubric}: cannot read the rubric ({exc})") from None
    db = open_store() if store else None
    try:
        key = load_api_key(api_key_env, api_key_file)
        config = JudgeConfig(base_url, model, rubric_text, both_orders=not one_order, concurrency=concurrency,
                             retry_wait=retry_wait, timeout=timeout, campaign=campaign)
        if from_campaign:
            items = campaign_judge_items(db, campaign, rubric_text or None)
            done = answered(db, config)
        else:
            items, done = read_items(file), set()
        total = len(items) * (1 if one_order else 2)
        todo = total - sum((i.pair_id, i.objective, o) in done for i in items
                           for o in (Side.A,) + (() if one_order else (Side.B,)))
        if from_campaign and done:
            out.print(f"{total - todo} of {total} judgments in campaign {campaign} were made before; judging the "
                      f"other {todo}", highlight=False)
        if todo == 0:
            out.print("nothing left to judge")
            return
        with step_progress(f"judging with {model}", todo) as advance:
            result = judge(items, config, api_key=key, on_progress=advance, done=done)
    except (JudgeError, FileNotFoundError) as exc:
        if db is not None:
            db.close()
        raise fail(str(exc), "nothing was written") from None
    try:
        for reason in result.failures[:10]:
            console.print(f"  {reason}", highlight=False, markup=False)
        out.print(f"{len(result.comparisons)} judgments by {config.rater} from {todo} calls; "
                  f"{result.unjudged} unjudged (call failed after retries), {result.unparsed} unparseable; "
                  f"{result.retries} retries", highlight=False)
        if not result.comparisons:
            raise fail(f"the judge at {base_url} gave no usable verdict",
                       "nothing was written; see the reasons above")
        if output is not None:
            write_jsonl(output, (comparison_to_v1(c) for c in result.comparisons))
            out.print(f"wrote {len(result.comparisons)} comparisons to {output}")
        if db is not None:
            register_judge(db, config)
            written = db.add_comparisons(result.comparisons)
            where = f" into campaign {campaign}" if campaign else ""
            out.print(f"stored {written.stored} comparisons{where} (rater {config.rater}, kind ai, interface "
                      f"llm-judge); audit them with tether audit", highlight=False)
    finally:
        if db is not None:
            db.close()


def register(app: typer.Typer) -> None:
    """Add `tether raters ...`."""
    app.add_typer(raters_app, name="raters")
