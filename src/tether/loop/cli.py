"""`tether models ...`: the registry (every recorded version with its lineage) and the champion of each role
(challenge, promote, roll back), over tether.loop."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from tether.cli_support import config_options, fail, load_pairs, open_store
from tether.console import console, out
from tether.loop.config import LoopConfig

models_app = typer.Typer(help="The registry: every recorded model version with its lineage, config and gate; the "
                              "champion of each role (challenge, promote, rollback).", no_args_is_help=True)
RoleOpt = Annotated[str, typer.Option("--role", help="What the model is used for; one champion per role.")]
DEFAULT_ROLE = "reward"


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
    _register_loop(app)


@models_app.command("list")
def models_list(
    kind: Annotated[str | None, typer.Option(help="Only this kind (reward, policy, ...).")] = None,
    name: Annotated[str | None, typer.Option(help="Only versions of this model.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Recorded model versions, oldest first; `champion` marks the folders serving a role now."""
    from rich.table import Table

    from tether.loop.promotion import serving_stack

    with open_store() as store:
        versions = store.model_versions(kind=kind, name=name)
        history = store.promotions()
    serving: dict[str, list[str]] = {}
    for role in dict.fromkeys(p.role for p in history):
        stack = serving_stack([p for p in history if p.role == role])
        if stack:
            serving.setdefault(stack[-1], []).append(role)
    if as_json:
        sys.stdout.write(json.dumps([v.model_dump(mode="json") | {"champion_of": serving.get(v.path, [])}
                                     for v in versions], indent=2) + "\n")
        return
    if not versions:
        out.print("no model versions recorded (tether reward train records one)")
        return
    table = Table(box=None)
    for column in ("name", "version", "kind", "created", "trained on", "gate", "champion", "path"):
        table.add_column(column)
    newest = {v.path: v.version for v in versions}  # a folder retrained in place serves its newest version
    for v in versions:
        data = v.lineage.get("set") or v.lineage.get("file") or ""
        gate = "-" if v.gate is None else ("passed" if v.gate.get("passed") else "FAILED")
        roles = ", ".join(serving.get(v.path, [])) if newest[v.path] == v.version else ""
        table.add_row(v.name, v.version, v.kind, f"{v.created_at:%Y-%m-%d %H:%M}",
                      f"{data} ({v.lineage.get('pairs', '?')} pairs)", gate, roles or "-", v.path)
    out.print(table)


def _version(name: str, version: str | None) -> Any:
    with open_store() as store:
        versions = store.model_versions(name=name)
    chosen = [v for v in versions if version in (None, v.version)]
    if not chosen:
        known = ", ".join(v.version for v in versions) or "none"
        raise fail(f"no recorded version {version or ''} of model {name!r} (recorded: {known})",
                   "see tether models list")
    return chosen[-1]


@models_app.command("show")
def models_show(
    name: Annotated[str, typer.Argument(help="Model name (its folder name).")],
    version: Annotated[str | None, typer.Argument(help="Version, e.g. v2; default: the newest.")] = None,
) -> None:
    """One version in full: lineage (data, audit runs), config, metrics, contracts, gate."""
    sys.stdout.write(json.dumps(_version(name, version).model_dump(mode="json"), indent=2) + "\n")


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        items: dict[str, Any] = {}
        for k, v in data.items():
            items.update(_flat(v, f"{prefix}{k}."))
        return items
    return {prefix.rstrip("."): data}


@models_app.command("diff")
def models_diff(
    name: Annotated[str, typer.Argument(help="Model name.")],
    old: Annotated[str, typer.Argument(help="One version, e.g. v1.")],
    new: Annotated[str, typer.Argument(help="Another version of the same model, or NAME@VERSION of another.")],
) -> None:
    """What changed between two versions: lineage (data), config and metrics, one line per differing field."""
    other, _, other_version = new.rpartition("@") if "@" in new else (name, "", new)
    a, b = _version(name, old), _version(other or name, other_version)
    left, right = ({f"{part}.{k}": v for part in ("lineage", "config", "metrics", "gate")
                    for k, v in _flat(getattr(x, part) or {}).items()} for x in (a, b))
    changed = [k for k in sorted(left.keys() | right.keys()) if left.get(k) != right.get(k)]
    out.print(f"{a.name} {a.version} -> {b.name} {b.version}: {len(changed)} fields differ", highlight=False)
    for k in changed:
        out.print(f"  {k}: {left.get(k, '-')!r} -> {right.get(k, '-')!r}", highlight=False, markup=False)


def _outcome_rows(path: Path) -> list:
    from tether.io import InputError
    from tether.outcomes.scored import read_scored

    try:
        return read_scored(path, need_score=False, need_outcome=True)
    except InputError as exc:
        raise fail(str(exc), "fix the line and run again") from None
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None


def _load(path: Path) -> Any:
    from tether.reward import load

    try:
        return load(path)
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None


@models_app.command("challenge")
def challenge_cmd(
    challenger: Annotated[Path, typer.Argument(help="Reward model or ensemble folder that wants to serve.")],
    pairs: Annotated[Path | None, typer.Option("--pairs", help="Fresh held-out preference pairs (v1 JSONL), "
                                               "never seen by either model.")] = None,
    set_name: Annotated[str | None, typer.Option("--set", help="A stored preference set instead of --pairs.")
                        ] = None,
    kind: Annotated[str, typer.Option("--kind", help="Kind of the --pairs file: pairs, hh-rlhf, trl.")] = "pairs",
    calibrate: Annotated[Path | None, typer.Option(help="Validation pairs to fit each model's temperature on.")
                         ] = None,
    outcomes: Annotated[Path | None, typer.Option(help="Responses with outcomes (JSONL: prompt, response, passed): "
                                                  "the challenger must not agree worse with them.")] = None,
    role: RoleOpt = DEFAULT_ROLE,
    max_slice_drop: Annotated[float, typer.Option(help="Accuracy a slice may lose (0.03 = 3 points).")] = 0.03,
    min_slice_n: Annotated[int, typer.Option(help="Slices with fewer pairs are shown, not judged.")] = 30,
    max_ece: Annotated[float, typer.Option(help="Largest calibration error the challenger may have.")] = 0.05,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples of prompts per interval.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Judge and print; record nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
) -> None:
    """Challenge the role's champion: promote CHALLENGER only if it is better on fresh held-out pairs (interval of the
    accuracy gain above 0), drops no slice by more than --max-slice-drop, keeps ECE <= --max-ece and does not agree
    worse with --outcomes. The promotion or the refusal (with its failing checks) is recorded; exit 1 if refused."""
    from tether.loop.challenge import ChallengeConfig, challenge
    from tether.loop.promotion import record_challenge

    if not challenger.is_dir():
        raise fail(f"{challenger}: no such model folder")
    cfg = ChallengeConfig(max_slice_drop=max_slice_drop, min_slice_n=min_slice_n, max_ece=max_ece,
                          n_boot=bootstrap, seed=seed)
    heldout = load_pairs(pairs, set_name, kind)
    calibration = load_pairs(calibrate, None, "pairs") if calibrate else None
    rows = _outcome_rows(outcomes) if outcomes else None
    with open_store() as store:
        current = store.champion(role)
        if current is not None and Path(current.path) == challenger.resolve():
            raise fail(f"{challenger} already serves role {role!r}")
        if current is not None and not Path(current.path).is_dir():
            raise fail(f"the champion of role {role!r} ({current.path}) is gone from disk",
                       f"roll back (tether models rollback --role {role}) or promote with a reason")
        champion = _load(Path(current.path)) if current is not None else None
        try:
            result = challenge(champion, _load(challenger), heldout, cfg, calibration_pairs=calibration,
                               outcome_rows=rows)
        except (ValueError, KeyError) as exc:
            raise fail(str(exc)) from None
        record = None if dry_run else record_challenge(store, role, challenger, result)
    if as_json:
        out.print_json(json.dumps(result.to_dict() | {"recorded": record and record.action}))
    else:
        _print_result(result, current, challenger)
        if record is not None:
            what = "promoted" if record.action == "promote" else "refused"
            out.print(f"{what}: {challenger} for role {role!r} (tether models champion --role {role})",
                      highlight=False)
    if not result.passed:
        raise typer.Exit(1)


def _print_result(result: Any, current: Any, challenger: Path) -> None:
    if result.champion is None:
        out.print(f"no champion for this role yet: {challenger} judged on its own checks", highlight=False)
    else:
        d = result.difference
        out.print(f"champion {current.model or current.path} accuracy {result.champion['accuracy']:.4f}, challenger "
                  f"{result.challenger['accuracy']:.4f}: gain {d['accuracy']:+.4f} "
                  f"[{d['accuracy_lo']:+.4f}, {d['accuracy_hi']:+.4f}]", highlight=False)
        if "outcome_auc" in d:
            out.print(f"outcome AUC {result.champion['outcome_auc']:.3f} -> {result.challenger['outcome_auc']:.3f} "
                      f"[{d['outcome_auc_lo']:+.3f}, {d['outcome_auc_hi']:+.3f}]", highlight=False)
    for check in result.checks:
        out.print(("  ok   " if check.passed else "  FAIL ") + check.condition(), highlight=False, markup=False)
    out.print(result.summary(), highlight=False, markup=False)


@models_app.command("promote")
def promote_cmd(
    model: Annotated[Path, typer.Argument(help="Model folder to serve the role.")],
    reason: Annotated[str, typer.Option(help="Why it is promoted without a challenge (recorded).")],
    role: RoleOpt = DEFAULT_ROLE,
    kind: Annotated[str, typer.Option(help="reward, cost or policy.")] = "reward",
) -> None:
    """Promote without a challenge (a role's first model, or an override): the reason is recorded."""
    from tether.loop.promotion import PromotionError, promote

    if not model.is_dir():
        raise fail(f"{model}: no such model folder")
    with open_store() as store:
        try:
            record = promote(store, role, model, reason=reason, kind=kind)
        except (PromotionError, ValueError) as exc:
            raise fail(str(exc)) from None
    out.print(f"promoted: {record.path} serves role {role!r}", highlight=False)


@models_app.command("rollback")
def rollback_cmd(
    role: RoleOpt = DEFAULT_ROLE,
    to: Annotated[str | None, typer.Option(help="An earlier champion (folder, NAME or NAME@VERSION); default: the "
                                           "one before the current.")] = None,
    reason: Annotated[str, typer.Option(help="Why (recorded).")] = "",
) -> None:
    """Serve the previous champion again; recorded with the reason."""
    from tether.loop.promotion import PromotionError, rollback

    with open_store() as store:
        try:
            record = rollback(store, role, to=to, reason=reason)
        except PromotionError as exc:
            raise fail(str(exc)) from None
    out.print(f"rolled back: {record.path} serves role {role!r}", highlight=False)


@models_app.command("champion")
def champion_cmd(
    role: RoleOpt = DEFAULT_ROLE,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The model serving a role and every decision about it (promotions, refusals with their failed checks,
    rollbacks), oldest first."""
    from tether.loop.promotion import serving_stack

    with open_store() as store:
        history = store.promotions(role)
    stack = serving_stack(history)
    if as_json:
        sys.stdout.write(json.dumps({"role": role, "champion": stack[-1] if stack else None,
                                     "history": [p.model_dump(mode="json") for p in history]}, indent=2) + "\n")
        return
    if not history:
        out.print(f"no decisions recorded for role {role!r} (tether models challenge MODEL or tether models promote "
                  "MODEL --reason ...)", highlight=False)
        return
    out.print(f"role {role!r}: " + (f"served by {stack[-1]}" if stack else "no champion"), highlight=False)
    for p in history:
        name = f"{p.model} {p.version}" if p.model else p.path
        out.print(f"  {p.created_at:%Y-%m-%d %H:%M} {p.action:<8} {name}: {p.reason}", highlight=False, markup=False)
        if p.action == "refuse":
            for c in p.checks:
                if not c["passed"]:
                    value = "n/a" if c["value"] is None else f"{c['value']:.4f}"
                    out.print(f"      failed {c['name']}: {value} vs {c['threshold']}", highlight=False, markup=False)


loop_app = typer.Typer(help="The loop: retrain on a cadence and on evidence, promote only what is better "
                            "(run `tether loop tick` from cron, a CronJob or an Airflow task).", no_args_is_help=True)
LOOP_OPTIONS = ("role", "cadence_days", "window_days", "drift_alpha", "negative_feedback_rise", "outcome_auc_drop",
                "confidence_drop", "min_window", "batch_prompts", "policy", "rubric", "raters", "overlap", "objectives",
                "heldout_fraction", "train_batches", "backbone", "train_steps", "max_length", "lock_hours", "seed")


def _register_loop(app: typer.Typer) -> None:
    app.add_typer(loop_app, name="loop")


@loop_app.command("tick")
@config_options(LoopConfig, "loop", LOOP_OPTIONS)
def tick_cmd(
    project: Annotated[str | None, typer.Option(help="Events tenant to watch \\[default: the project's name].")
                       ] = None,
    models_dir: Annotated[Path | None, typer.Option(help="Where retrained models go \\[default: <project>/models].")
                          ] = None,
    now: Annotated[datetime | None, typer.Option(help="Evaluate as of this UTC time (replays, simulations) "
                                                 "\\[default: now].")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the tick as JSON.")] = False,
    *,
    config: LoopConfig,
) -> None:
    """Run what is due, once: wait on an open batch, or retrain and challenge when it is labelled, or evaluate the
    triggers and open a batch of production prompts when one fires. Idempotent; safe to schedule."""
    from tether.cli_support import embedding_cache, events_tenant, require_project
    from tether.loop.tick import LoopError, tick

    root = require_project().root
    with open_store() as store:
        try:
            when = None if now is None else (now if now.tzinfo else now.replace(tzinfo=UTC))
            result = tick(store, config, project=events_tenant(project), models_dir=models_dir or root / "models",
                          now=when, on_step=lambda msg: console.print(msg, style="dim", highlight=False),
                          embeddings=embedding_cache())
        except (LoopError, ValueError, FileNotFoundError) as exc:
            raise fail(str(exc)) from None
    if as_json:
        out.print_json(json.dumps(result.to_dict()))
        return
    for t in result.triggers:
        out.print(f"  {'FIRED' if t.fired else 'quiet'} {t.name}: {t.detail}", highlight=False, markup=False)
    for a in result.actions:
        out.print(a, highlight=False, markup=False)
    out.print(f"tick {result.tick_id or '-'}: {result.state}", highlight=False)


@loop_app.command("status")
def status_cmd(
    role: RoleOpt = DEFAULT_ROLE,
    limit: Annotated[int, typer.Option(help="Ticks shown, newest first.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The loop's recent ticks: state, the batch pending, the triggers that fired and what was done."""
    with open_store() as store:
        ticks = store.ticks(role, limit=limit)
        champion = store.champion(role)
    if as_json:
        sys.stdout.write(json.dumps({"role": role, "champion": champion and champion.path, "ticks": ticks},
                                    default=str, indent=2) + "\n")
        return
    out.print(f"role {role!r}: champion {champion.path if champion else 'none'}", highlight=False)
    if not ticks:
        out.print("no ticks yet (tether loop tick)")
    for t in ticks:
        fired = [x["name"] for x in t["triggers"] or [] if x["fired"]]
        out.print(f"  tick {t['id']} {t['started_at']:%Y-%m-%d %H:%M} {t['state']:<10} {t['campaign'] or ''}"
                  + (f" fired: {', '.join(fired)}" if fired else ""), highlight=False)
        for a in t["actions"] or []:
            out.print(f"      {a}", highlight=False, markup=False)


@loop_app.command("dashboard")
def dashboard_cmd(
    out_file: Annotated[Path, typer.Option("-o", "--out", help="HTML file to write.")],
    role: RoleOpt = DEFAULT_ROLE,
    project: Annotated[str | None, typer.Option(help="Events tenant \\[default: the project's name].")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Also print the data as JSON.")] = False,
) -> None:
    """The alignment-drift dashboard as one self-contained HTML file (also served at /collect/admin/loop)."""
    from tether.cli_support import events_tenant
    from tether.loop.dashboard import dashboard_data, render_html

    with open_store() as store:
        data = dashboard_data(store, role=role, project=events_tenant(project))
    out_file.write_text(render_html(data), encoding="utf-8")
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    out.print(f"dashboard: {out_file} ({len(data['alarms'])} open alarms)", highlight=False)


@models_app.command("canary")
def canary_cmd(
    model: Annotated[Path, typer.Argument(help="Challenger folder to give a share of the traffic.")],
    share: Annotated[float, typer.Option(help="Share of users (or traces) it serves, e.g. 0.1.")],
    role: Annotated[str, typer.Option("--role", help="The role (e.g. policy).")] = "policy",
    reason: Annotated[str, typer.Option(help="Why (recorded).")] = "",
    kind: Annotated[str, typer.Option(help="policy, reward or cost.")] = "policy",
) -> None:
    """Serve MODEL to --share of the role's users beside the champion (GET /v1/assignment tells the application which
    one per user, sticky), until the next promotion, refusal or rollback of the role ends it."""
    from tether.loop.promotion import PromotionError, canary

    if not model.is_dir():
        raise fail(f"{model}: no such model folder")
    with open_store() as store:
        try:
            record = canary(store, role, model, share=share, reason=reason, kind=kind)
        except PromotionError as exc:
            raise fail(str(exc)) from None
    out.print(f"canary: {record.path} serves {share:.0%} of role {role!r}", highlight=False)


@models_app.command("challenge-policy")
def challenge_policy_cmd(
    challenger: Annotated[Path, typer.Argument(help="Policy folder (a local Hugging Face causal LM) that wants to "
                                                    "serve.")],
    prompts: Annotated[Path, typer.Option("--prompts", help="Held-out prompts (JSONL `prompt`, or one per line) "
                                                            "neither policy trained on.")],
    reward: Annotated[list[Path] | None, typer.Option("--reward", help="Held-out evaluator: a reward model or "
                                                                       "ensemble folder neither policy optimized "
                                                                       "(repeat).")] = None,
    evaluator: Annotated[str | None, typer.Option("--evaluator", help="Or a named evaluator (gold, humaneval).")
                         ] = None,
    evaluator_seed: Annotated[int, typer.Option(help="Seed of the named evaluator.")] = 0,
    objective: Annotated[str | None, typer.Option(help="Objective that must rise (default: the only one, else "
                                                       "overall).")] = None,
    role: Annotated[str, typer.Option("--role", help="The role; one champion per role.")] = "policy",
    max_signature_drift: Annotated[float, typer.Option(help="How far (champion SDs) length, repetition, hedging, "
                                                            "flattery and refusals may move.")] = 1.0,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens per answer at most.")] = 48,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples of prompts per interval.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Judge and print; record nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
) -> None:
    """Challenge the role's champion policy: both answer the held-out prompts (greedy), a held-out evaluator scores
    both; promoted only if its gain on the objective is above 0 beyond noise, no objective falls, and no hacking
    signature moved more than --max-signature-drift. Recorded either way; exit 1 if refused."""
    from tether.loop.challenge import PolicyChallengeConfig, challenge_policy
    from tether.loop.promotion import record_challenge
    from tether.policy.generation import load_policy, prompt_format_of, sample_texts
    from tether.policy.rl_cli import build_evaluator, named, read_prompts

    if not (challenger / "config.json").is_file():
        raise fail(f"{challenger}: not a Hugging Face model folder (no config.json)")
    if not reward and evaluator is None:
        raise fail("give a held-out evaluator: --reward FOLDER or --evaluator NAME")
    texts = read_prompts(prompts)
    scorer = build_evaluator(list(reward or []), named(evaluator, evaluator_seed), None, None, True)
    with open_store() as store:
        current = store.champion(role)
        if current is None:
            raise fail(f"role {role!r} has no champion policy", f"tether models promote POLICY --role {role} "
                       "--kind policy --reason ...")
        if Path(current.path) == challenger.resolve():
            raise fail(f"{challenger} already serves role {role!r}")
        answers = []
        for folder in (Path(current.path), challenger):
            console.print(f"answer {len(texts)} prompts with {folder.name}", style="dim", highlight=False)
            model, tokenizer = load_policy(folder)
            answers.append(sample_texts(model, tokenizer, texts, k=1, prompt_format=prompt_format_of(folder),
                                        max_new_tokens=max_new_tokens, do_sample=False, seed=seed)[0])
        try:
            result = challenge_policy(texts, answers[0], answers[1], scorer(texts, answers[0]),
                                      scorer(texts, answers[1]), PolicyChallengeConfig(
                                          objective=objective, max_signature_drift=max_signature_drift,
                                          n_boot=bootstrap, seed=seed))
        except (ValueError, KeyError) as exc:
            raise fail(str(exc)) from None
        record = None if dry_run else record_challenge(store, role, challenger, result, kind="policy")
    if as_json:
        out.print_json(json.dumps(result.to_dict() | {"recorded": record and record.action}))
    else:
        for check in result.checks:
            out.print(("  ok   " if check.passed else "  FAIL ") + check.condition(), highlight=False, markup=False)
        out.print(result.summary(), highlight=False, markup=False)
    if not result.passed:
        raise typer.Exit(1)
