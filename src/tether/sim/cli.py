"""`tether sim ...`: run what-if studies on the simulated world (campaigns, production traffic, a policy)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from tether.cli_support import fail, require_project

sim_app = typer.Typer(name="sim", help="A simulated world with a known truth (docs/world.md).",
                      no_args_is_help=True)

_TASKS_HELP = "Comma-separated task types (default: the world's mix): "



def _parse_time(value: str, option: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"{option}: not an ISO 8601 date or time: {value!r}") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _task_list(tasks: str | None) -> list[str] | None:
    from tether.sim.tasks import TASKS

    if not tasks:
        return None
    names = [t.strip() for t in tasks.split(",") if t.strip()]
    unknown = [t for t in names if t not in TASKS]
    if unknown:
        raise fail(f"--tasks: unknown task type(s) {', '.join(unknown)}; known: {', '.join(sorted(TASKS))}")
    return names


def _biases(text: str | None) -> dict[str, float]:
    """`code_output=0.15,interest=0.1` as a dict; a malformed entry is a ValueError naming it."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, sep, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ValueError(f"expected TASK_TYPE=BIAS, got {part!r}")
    return out


@sim_app.command()
def campaign(
    pairs: Annotated[int, typer.Option(help="Candidate pairs to annotate.", min=1)] = 200,
    raters: Annotated[int, typer.Option(help="Size of the simulated rater pool.", min=1)] = 30,
    overlap: Annotated[int, typer.Option(help="Distinct raters per pair.", min=1)] = 3,
    objective: Annotated[str, typer.Option(help="quality, safety, honesty or overall.")] = "overall",
    name: Annotated[str, typer.Option("--name", help="Campaign name stored on every comparison.")] = "sim-campaign",
    tasks: Annotated[str | None, typer.Option(help=_TASKS_HELP + "code_output, interest, capital, ...")] = None,
    seed: Annotated[int, typer.Option(help="World seed (same seed, same campaign).")] = 0,
    position_bias: Annotated[float, typer.Option(help="Chance to pick the first shown when unsure.",
                                                 min=0.0, max=1.0)] = 0.6,
    spam_fraction: Annotated[float, typer.Option(help="Share of spammers in the pool.", min=0.0, max=1.0)] = 0.05,
    counterbalance: Annotated[bool, typer.Option(help="Alternate display order across a pair's raters.")] = True,
    confident_wrong: Annotated[str | None, typer.Option(
        help="Planted slice: TASK_TYPE=BIAS[,...] — on those task types every rater prefers a confident wrong "
             "answer (e.g. code_output=0.15); off by default.")] = None,
    truth: Annotated[Path | None, typer.Option("--truth", help="Write gold labels per pair_id (JSONL).")] = None,
    rater_truth: Annotated[Path | None, typer.Option("--rater-truth",
                                                     help="Write the raters' hidden traits (JSONL).")] = None,
    start: Annotated[str, typer.Option(help="Time of the first judgment (ISO 8601, UTC); fixed so that "
                                            "re-running the same seed stores nothing new.")] = "2026-01-05T09:00:00",
) -> None:
    """Simulate an annotation campaign and store its comparisons and raters in the project."""
    from tether.console import out, step_progress
    from tether.io.jsonl import write_jsonl
    from tether.sim import CampaignConfig, TraitDistribution, World
    from tether.sim.gold import OBJECTIVES

    if objective not in OBJECTIVES:
        raise fail(f"--objective: expected one of {', '.join(OBJECTIVES)}, got {objective!r}")
    if overlap > raters:
        raise fail(f"--overlap {overlap} needs at least that many raters (--raters {raters})")
    begin = _parse_time(start, "--start")
    project = require_project()  # before simulating: the result is stored
    world = World(seed=seed)
    try:
        traits = TraitDistribution(**{**world.config.raters.traits.model_dump(), "position_bias": position_bias,
                                      "spam_fraction": spam_fraction,
                                      "confident_wrong": _biases(confident_wrong)})
    except ValueError as exc:
        raise fail(f"--confident-wrong: {exc}") from None
    pool = world.rater_pool(raters, traits=traits)
    try:
        items = world.candidate_pairs(pairs, tasks=_task_list(tasks))
    except ValueError as exc:
        raise fail(str(exc)) from None
    cfg = CampaignConfig(name=name, pairs=pairs, overlap=overlap, objective=objective,
                         counterbalance=counterbalance, start=begin)
    with step_progress(f"campaign {name}", len(items)) as advance:
        run = world.simulate_campaign(items, pool, cfg, on_pair=advance)
    store = project.store()
    try:
        store.upsert_raters(r.to_record() for r in pool)
        result = store.add_comparisons(run.comparisons)
    finally:
        store.close()
    if truth is not None:
        write_jsonl(truth, run.truth_rows())
    if rater_truth is not None:
        write_jsonl(rater_truth, (r.truth() for r in pool))
    out.print(f"campaign [bold]{name}[/]: {len(items)} pairs x {overlap} raters = {len(run.comparisons)} "
              f"comparisons ({result.stored} stored, {result.duplicates} already stored) by {len(pool)} raters")
    if truth is not None:
        out.print(f"gold labels: {truth}")
    if rater_truth is not None:
        out.print(f"hidden rater traits: {rater_truth}")


@sim_app.command()
def traffic(
    out_file: Annotated[Path, typer.Argument(help="Events file to write (JSONL, .gz compresses).")],
    days: Annotated[int, typer.Option(help="Length of the time range in days.", min=1)] = 180,
    per_day: Annotated[float, typer.Option("--per-day", help="Requests per day.", min=0.001)] = 20.0,
    start: Annotated[str, typer.Option(help="Start of the range (ISO 8601 date or time, UTC).")] = "2026-01-01",
    users: Annotated[int, typer.Option(help="Number of simulated users.", min=1)] = 200,
    new_domain_after: Annotated[float, typer.Option(
        help="Fraction of the range before the never-annotated travel domain appears.", min=0.0, max=1.0)] = 0.5,
    seed: Annotated[int, typer.Option(help="World seed.")] = 0,
) -> None:
    """Write a production stream (v1 events) whose domain mix drifts and gains an unseen domain."""
    from tether.console import out, step_progress
    from tether.io.jsonl import write_jsonl
    from tether.io.v1 import event_to_v1
    from tether.sim import World

    begin = _parse_time(start, "--start")
    world = World(seed=seed)
    cfg = world.config.production.model_copy(update={
        "start": begin, "days": days, "requests_per_day": per_day, "users": users,
        "new_domain_after": {"travel": new_domain_after}})
    counts: dict[str, int] = {}

    def rows():  # noqa: ANN202
        with step_progress("production events", None) as advance:
            for e in world.production_stream(cfg):
                counts[e.type.value] = counts.get(e.type.value, 0) + 1
                advance(1)
                yield event_to_v1(e)

    n = write_jsonl(out_file, rows())
    detail = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    out.print(f"wrote {n} events to {out_file} ({detail}) over {days} days from {begin.date()}")


@sim_app.command()
def policy(
    out_dir: Annotated[Path, typer.Argument(help="Folder for the Hugging Face checkpoint.")],
    seconds: Annotated[float, typer.Option(help="Training time budget in seconds.", min=0.1)] = 45.0,
    steps: Annotated[int, typer.Option(help="At most this many optimizer steps.", min=1)] = 100000,
    threads: Annotated[int, typer.Option(help="CPU threads for torch.", min=1)] = 2,
    seed: Annotated[int, typer.Option(help="World and training seed.")] = 0,
    evaluate: Annotated[int, typer.Option(help="Score this many held-out prompts with the gold reward (0: skip).",
                                          min=0)] = 100,
) -> None:
    """Train the small GPT-2 policy on the world's reference answers (SFT) and save it."""
    from tether.console import out
    from tether.sim import PolicyConfig, World
    from tether.sim.policy import evaluate_policy, train_policy

    world = World(seed=seed)
    result = train_policy(world, out_dir, PolicyConfig(max_seconds=seconds, max_steps=steps, threads=threads,
                                                        seed=seed))
    out.print(f"trained {result.n_params:,} parameters for {result.steps} steps in {result.seconds:.1f}s "
              f"(loss {result.final_loss:.3f}); saved to {result.path}")
    if evaluate:
        s = evaluate_policy(world, out_dir, n=evaluate)
        out.print("gold on held-out prompts: " + ", ".join(f"{k} {v:.3f}" for k, v in s.items()))


@sim_app.command()
def overopt(
    out_dir: Annotated[Path, typer.Argument(help="Folder for the report (report.html), the metrics (metrics.json) "
                                                 "and each seed's models and runs.")],
    seeds: Annotated[int, typer.Option(help="Seeds (0, 1, ...): each its own SFT policy, raters' labels, reward "
                                            "models and runs.", min=1)] = 1,
    first_seed: Annotated[int, typer.Option(help="The first seed (seeds run from it upwards).", min=0)] = 0,
    policy: Annotated[Path | None, typer.Option(help="Start policy folder (a `tether sim policy`), instead of "
                                                     "training one per seed.")] = None,
    sft_steps: Annotated[int, typer.Option(help="SFT steps of the start policy.", min=1)] = 120,
    label_prompts: Annotated[int, typer.Option(help="Prompts per reward model; two sampled answers of the start "
                                                    "policy each, judged once.", min=1)] = 2000,
    raters: Annotated[int, typer.Option(help="Raters per pool (proxy, held-out and human pools are disjoint).",
                                        min=1)] = 20,
    rm_epochs: Annotated[float, typer.Option(help="Reward-model epochs.", min=0.01)] = 2.0,
    rm_lr: Annotated[float, typer.Option(help="Reward-model learning rate.", min=0.0)] = 1e-3,
    bon_prompts: Annotated[int, typer.Option(help="Best-of-n: prompts.", min=1)] = 60,
    bon_n: Annotated[int, typer.Option(help="Best-of-n: samples per prompt (n up to this).", min=2)] = 32,
    steps: Annotated[int, typer.Option(help="Steps of the unguarded RL run.", min=2)] = 80,
    every: Annotated[int, typer.Option(help="Monitor check every N steps.", min=1)] = 5,
    held: Annotated[int, typer.Option(help="Held-out prompts per check.", min=2)] = 100,
    prompts_per_step: Annotated[int, typer.Option(help="RL prompts per step.", min=1)] = 8,
    k: Annotated[int, typer.Option(help="RL completions per prompt.", min=2)] = 8,
    lr: Annotated[float, typer.Option(help="RL learning rate.", min=0.0)] = 1e-3,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens per answer at most.", min=1)] = 48,
    human_pairs: Annotated[int, typer.Option(help="Simulated human judgments per check (the human stop rule).",
                                             min=1)] = 50,
    alarm_level: Annotated[float, typer.Option(help="False-alarm level of the monitor's sequential alarm.",
                                               min=0.0001, max=0.5)] = 0.05,
    threads: Annotated[int, typer.Option(help="CPU threads for torch.", min=1)] = 1,
    start: Annotated[str, typer.Option(help="Start policy's SFT data: 'reference' (the world's reference answers) "
                                            "or 'styled' (the styled writer's answers: wrong facts, padding, "
                                            "hedging, flattery, disfluency).")] = "reference",
    rm: Annotated[str, typer.Option(help="Reward models: 'causal' (a head on the start policy's body) or 'ngram' "
                                         "(the n-gram probe).")] = "causal",
    gold_arm: Annotated[bool, typer.Option(help="Also run the same RL with gold itself as the reward: every "
                                                "alarm there is a false one.")] = False,
    proxy_members: Annotated[int, typer.Option(help="The proxy as an ensemble of this many n-gram probes "
                                                    "(bootstrap resamples; --rm ngram), sharing one probe's "
                                                    "optimizer iterations.", min=1)] = 1,
    aggregation: Annotated[str, typer.Option(help="Ensemble aggregation: mean, min, mean_std (mean - lam * std) "
                                                  "or mean_var.")] = "mean_std",
    lam: Annotated[float, typer.Option(help="Ensemble aggregation's lambda.", min=0.0)] = 1.0,
    heldout_rm: Annotated[str, typer.Option(help="The held-out reward model's kind: 'same' (as --rm), 'causal' or "
                                                 "'ngram' (another family than the proxy's: other blind spots).")
                          ] = "same",
    proxy_gate: Annotated[float, typer.Option(help="The monitor counts a check only when the proxy rose by more "
                                                   "than this many standard errors of the change (0: any rise).",
                                              min=0.0)] = 0.0,
    proxy_causal_members: Annotated[int, typer.Option(help="Add this many causal reward models (on the start "
                                                           "policy's body, the proxy pool's labels) to the n-gram "
                                                           "proxy's members in one ensemble (--rm ngram; 0: none).",
                                                      min=0)] = 0,
    heldout_labels: Annotated[int, typer.Option(help="Prompts labelled for the held-out reward model (0: as "
                                                     "--label-prompts).", min=0)] = 0,
) -> None:
    """Over-optimisation study: a proxy reward model trained on raters' labels of the start policy's own samples,
    best-of-n and an unguarded RL run against it, and the monitor's stop rules (held-out reward model, gold, a
    small human sample) judged by the gold reward. Writes one HTML report and metrics.json."""
    import json

    from tether.console import out
    from tether.sim.overopt import OveroptConfig, json_default, run_seed, summarize
    from tether.sim.overopt_report import write_overopt_report

    if policy is not None and not (policy / "config.json").is_file():
        raise fail(f"--policy {policy}: not a policy folder (no config.json); make one with `tether sim policy`")
    base = dict(sft_steps=sft_steps, label_prompts=label_prompts, raters=raters, rm_epochs=rm_epochs, rm_lr=rm_lr,
                bon_prompts=bon_prompts, bon_n=bon_n, rl_steps=steps, every=every, held=held,
                prompts_per_step=prompts_per_step, k=k, lr=lr, max_new_tokens=max_new_tokens,
                human_pairs=human_pairs, alarm_level=alarm_level, threads=threads, start=start, rm=rm,
                gold_arm=gold_arm, proxy_members=proxy_members, aggregation=aggregation, lam=lam,
                heldout_rm=heldout_rm, proxy_gate=proxy_gate, proxy_causal_members=proxy_causal_members,
                heldout_labels=heldout_labels)
    try:
        configs = [OveroptConfig(seed=s, **base).check() for s in range(first_seed, first_seed + seeds)]
    except ValueError as exc:
        raise fail(str(exc)) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    results = [run_seed(c, out_dir / f"seed-{c.seed}", policy=policy, progress=out.print) for c in configs]
    summary = summarize(results)
    (out_dir / "metrics.json").write_text(json.dumps({"summary": summary, "seeds": results}, indent=2,
                                                     default=json_default), encoding="utf-8")
    report = write_overopt_report(results, summary, out_dir / "report.html")
    for r in results:
        rl = r["rl"]
        guarded = rl["stop_rules"]["heldout"]
        out.print(f"seed {r['seed']}: unguarded gold gain best {rl['best_gold']['gain']:+.4f} (step "
                  f"{rl['best_gold']['step']}), final {rl['final_gold_gain']:+.4f}; guarded (held-out RM) stops at "
                  f"{guarded['alarm_step']}, keeps step {guarded['kept_step']}: gain {guarded['gold_gain']:+.4f}")
        diags = rl.get("ensemble_diagnostics", [])
        for d in diags[:1] + diags[-1:]:  # the start policy and the end of the run
            out.print(f"seed {r['seed']}: ensemble proxy at step {d['step']}: member spread {d['member_std']:.3f}, "
                      f"error vs gold {d['error']:+.3f} z, spread-error r {d['corr_std_error']:+.3f}, members' "
                      f"error r {d['member_error_corr']:+.3f}")
        if "rl_gold_reward" in r:
            null = r["rl_gold_reward"]["stop_rules"]
            out.print(f"seed {r['seed']}: gold as the reward: alarms at step " + ", ".join(
                f"{k} {v['alarm_step']}" for k, v in null.items()) + " (every one false)")
    out.print(f"report: {report}; metrics: {out_dir / 'metrics.json'}")


def register(app: typer.Typer) -> None:
    """Add the `sim` sub-app to the `tether` command, and the world's gold as `tether shift redteam --gold` and as
    the evaluator `gold` of `tether policy rl/eval`."""
    from tether.policy.evaluators import register_evaluator
    from tether.shift.redteam import register_scorers
    from tether.sim.evaluators import gold_evaluator
    from tether.sim.scorers import gold_scorers

    app.add_typer(sim_app, name="sim")
    register_scorers("gold", gold_scorers)
    register_evaluator("gold", gold_evaluator)
