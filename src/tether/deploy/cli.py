"""`tether keys ...` (ingestion API keys) and `tether deploy ...` (ingestion server, deletion, PII, feedback)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from tether.cli_support import embedding_cache, events_tenant, fail, open_store, require_project
from tether.console import console, out

keys_app = typer.Typer(help="Per-project API keys for the ingestion API.", no_args_is_help=True)
deploy_app = typer.Typer(help="The production side: ingestion server, PII redaction, deletion, feedback.",
                         no_args_is_help=True)

# One notion of the events tenant: `--project`, else the project's name in tether.toml. Keys are created for it,
# `tether import events` writes to it, and every command below reads it (and says which one it read).
TENANT_HELP = "Events tenant [default: the project's name in tether.toml]."


@keys_app.command("create")
def keys_create(
    project: Annotated[str | None, typer.Option(help="Events tenant the key writes to [default: the project's "
                                                     "name in tether.toml].")] = None,
    name: Annotated[str, typer.Option(help="A label to tell keys apart.")] = "",
    publishable: Annotated[bool, typer.Option(help="A feedback-only key for the web widget (tpk_...): it may post "
                                                   "feedback on traces the server issued, from --origin pages.")
                           ] = False,
    origin: Annotated[list[str] | None, typer.Option(help="Page origin allowed to use a --publishable key, e.g. "
                                                          "https://shop.example (repeat).")] = None,
) -> None:
    """Create an API key; it is printed once and only its hash is stored."""
    from tether.deploy.keys import create_key

    with open_store() as store:
        try:
            tenant = events_tenant(project)
            key = create_key(store, tenant, name, publishable=publishable, origins=origin or ())
        except ValueError as exc:
            raise fail(str(exc)) from None
    sys.stdout.write(key + "\n")
    console.print(f"key for events tenant {tenant!r}", style="dim", highlight=False)
    out.print("store it now: it cannot be shown again (revoke with `tether keys revoke PREFIX`)", style="dim")


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key, or its prefix as shown by `tether keys list`.")],
) -> None:
    """Revoke a key: requests with it are refused from now on."""
    from tether.deploy.keys import revoke_key

    with open_store() as store:
        n = revoke_key(store, key)
    if not n:
        raise fail(f"no active key matches {key!r}", "see `tether keys list`")
    out.print(f"revoked {n} key(s)")


@keys_app.command("list")
def keys_list(project: Annotated[str | None, typer.Option(help="Only this project.")] = None) -> None:
    """Keys by prefix, project and state (never the key itself)."""
    from tether.deploy.keys import list_keys

    with open_store() as store:
        for k in list_keys(store, project):
            state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
            scope = f"feedback from {', '.join(k.origins)}" if k.scope == "feedback" else "ingest"
            out.print(f"{k.prefix}  {k.project}  {state}  {scope}  {k.name}", highlight=False)


@deploy_app.command("serve")
def deploy_serve(host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
                 port: Annotated[int, typer.Option(help="Port.")] = 8100) -> None:
    """Run the ingestion API alone (POST /v1/events, /v1/traces; docs at /docs)."""
    import uvicorn

    from tether.deploy.api import create_app, freeze_startup_objects

    app = create_app(require_project().database_url)
    freeze_startup_objects()
    uvicorn.run(app, host=host, port=port, log_level="info")


@deploy_app.command("forget")
def deploy_forget(
    trace: Annotated[list[str] | None, typer.Option("--trace", help="Trace id to delete (repeatable).")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Delete every trace of this end user.")] = None,
    project: Annotated[str | None, typer.Option(help=TENANT_HELP)] = None,
) -> None:
    """Delete a user's or a trace's events and what was derived from them (outcomes, preference pairs)."""
    from tether.deploy.forget import forget
    from tether.deploy.ingest import Ingestor

    if not trace and not user:
        raise fail("nothing to forget", "pass --trace ID or --user ID")
    with open_store() as store:
        name = events_tenant(project)
        res = forget(store, name, traces=trace or (), user=user, redactors=Ingestor(store).lookup_redactors(name),
                     embeddings=embedding_cache())
    batch = f" (and {res.batch_items} annotation-batch items and judgments)" if res.batch_items else ""
    if res.embeddings:
        batch += f" and {res.embeddings} cached prompt embeddings"
    out.print(f"deleted {res.events} events, {res.outcomes} outcomes and {res.pairs} preference pairs "
              f"from {res.traces} traces of events tenant {name!r}{batch}", highlight=False)


@deploy_app.command("redact")
def deploy_redact(
    file: Annotated[Path | None, typer.Argument(help="Text file (default: stdin).")] = None,
    project: Annotated[str | None, typer.Option(help="Events tenant whose secret keys the pseudonyms "
                                                     "[default: the project's name in tether.toml].")] = None,
) -> None:
    """Print the text with PII replaced by the project's pseudonyms."""
    from tether.deploy.ingest import Ingestor

    text = file.read_text(encoding="utf-8") if file else sys.stdin.read()
    with open_store() as store:
        sys.stdout.write(Ingestor(store).redactor(events_tenant(project)).redact(text))


@deploy_app.command("rotate-key")
def deploy_rotate_key(
    project: Annotated[str | None, typer.Option(help="Events tenant whose pseudonym key is rotated "
                                                     "[default: the project's name in tether.toml].")] = None,
) -> None:
    """Make a new pseudonym key for new data; older keys stay in the key file so that forget finds old data.

    Restart a running server to use the new key."""
    from tether.deploy.keyring import Keyring, KeyringError

    with open_store() as store:
        try:
            ring = Keyring(store=store)
            name = events_tenant(project)
            key = ring.rotate(name)
            kept = [k.id for k in ring.keys(name)[1:]]
        except KeyringError as exc:
            raise fail(str(exc)) from None
    out.print(f"events tenant {name!r}: new pseudonyms use key {key.id}; kept for lookup: {', '.join(kept) or '-'} "
              f"(in {ring.path})", highlight=False)


@deploy_app.command("pii-eval")
def deploy_pii_eval(file: Annotated[Path, typer.Argument(help="Labelled JSONL: {text, spans:[{type,start,end}]}.")],
                    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Recall and precision of the redactor per PII type on a labelled set."""
    from tether.deploy.pii import Redactor
    from tether.deploy.pii_eval import evaluate

    try:
        res = evaluate(Redactor(b"pii-eval-secret-not-for-production"), file)
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    res.pop("_misses", None)
    if as_json:
        sys.stdout.write(json.dumps(res, indent=2) + "\n")
        return
    for t, v in res.items():
        out.print(f"{t:12s} gold {v['gold']:4d}  recall {v['recall']:.3f}  precision {v['precision']:.3f}")


@deploy_app.command("feedback")
def deploy_feedback(
    by: Annotated[str, typer.Option(help="Group by 'model' (version) or 'day'.")] = "model",
    project: Annotated[str | None, typer.Option(help=TENANT_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Feedback rates: thumbs up share (95% Wilson interval), corrections, regenerations."""
    from tether.deploy.feedback import feedback_rates

    with open_store() as store:
        try:
            tenant = events_tenant(project)
            rows = feedback_rates(store.iter_events(project=tenant), by=by)
        except ValueError as exc:
            raise fail(str(exc)) from None
    console.print(f"events tenant {tenant!r}: {len(rows)} groups", style="dim", highlight=False)
    if as_json:
        sys.stdout.write(json.dumps([{**r.__dict__, "up_rate": r.up_rate, "up_rate_ci": r.up_rate_ci,
                                      "feedback_rate": r.feedback_rate} for r in rows], indent=2) + "\n")
        return
    for r in rows:
        lo, hi = r.up_rate_ci
        out.print(f"{r.key:24s} gen {r.generations:6d}  thumbs {r.thumbs_up + r.thumbs_down:5d} "
                  f"up {r.up_rate:.3f} [{lo:.3f}, {hi:.3f}]  corrections {r.corrections}  "
                  f"regenerations {r.regenerations}", highlight=False)


@deploy_app.command("pairs")
def deploy_pairs(
    set_name: Annotated[str, typer.Option("--set", help="Preference set to write.")] = "production-feedback",
    project: Annotated[str | None, typer.Option(help=TENANT_HELP)] = None,
) -> None:
    """Turn corrections and regenerations into weighted preference pairs (corrected over original)."""
    from tether.deploy.feedback import corrections_to_pairs

    with open_store() as store:
        tenant = events_tenant(project)
        pairs = corrections_to_pairs(store.iter_events(project=tenant))
        res = store.add_pairs(pairs, set_name=set_name)
    out.print(f"{res.stored} new pairs in set {set_name!r} ({res.duplicates} already there) from the events of "
              f"tenant {tenant!r}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `tether keys ...` and `tether deploy ...`."""
    app.add_typer(keys_app, name="keys")
    app.add_typer(deploy_app, name="deploy")
