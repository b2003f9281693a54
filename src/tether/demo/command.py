"""`tether demo`: run the stages and print what each one found."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from tether.console import out
from tether.demo.settings import REWARD_MEMBERS, REWARD_STEPS

if TYPE_CHECKING:
    from tether.demo.stages import DemoResult


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


def _print_reward(r: dict[str, Any]) -> None:
    out.rule("4. reward model on the curated simulated pairs (guards 3 and 4)")
    k = len(r["members"])
    what = f"a {k}-member bootstrap ensemble" if k > 1 else "a reward model"
    if r["reused"]:
        out.print(f"  reused {what} already trained on the same {r['train_pairs']} curated pairs with the same "
                  f"settings ({r['model']}; delete it to retrain)", highlight=False)
    else:
        out.print(f"  trained {what} (MiniLM + head, {r['steps']} steps each) on {r['train_pairs']} curated pairs "
                  f"({r['train_set']}) in {r['train_seconds']:.0f}s -> {r['model']}", highlight=False)
    tasks = ", ".join(f"{t} {a:.2f}" for t, a in sorted(r["by_task_type"].items()))
    out.print(f"  accuracy against gold on {r['test_pairs']} fresh pairs: [bold]{r['accuracy']:.3f}[/] ({tasks})",
              highlight=False)
    out.print(f"  calibration: ECE {r['ece_raw']:.3f} raw, {r['ece']:.3f} after the {r['calibration']} map, "
              f"fitted on {r['calibration_pairs']} other gold pairs (a temperature alone: T {r['temperature']:.2f})",
              highlight=False)
    rho = ", ".join(f"{o} {v:+.3f}" for o, v in r["length_correlation"].items())
    matched = "n/a" if r["matched_accuracy"] is None else f"{r['matched_accuracy']:.3f} (n={r['n_matched']})"
    out.print(f"  length: score-length Spearman {rho}; length-matched accuracy {matched}; picks the longer "
              f"response {r['longer_preferred_model']:.2f} of the time, gold {r['longer_preferred_labels']:.2f}",
              highlight=False)
    passed = ", ".join(r["gate_ok"]) or "none"
    if r["gate_failed"]:
        out.print(f"  [bold red]gate FAILED[/] on {'; '.join(r['gate_failed'])}; passed: {passed}", highlight=False)
    else:
        out.print(f"  [green]gate passed[/]: {passed}", highlight=False)
    if r["policy_blocked"]:
        out.print("  policy optimisation against this model is blocked until it passes (tether.reward.require_gate)")
    else:
        out.print("  policy optimisation may use this model (tether.reward.require_gate passes)")
    out.print(f"  report {r['report']}", highlight=False)


def _print_production(p: dict[str, Any]) -> None:
    out.rule("5. production: redacted logging, drift, sampling into annotation (guard 5)")
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
    for o, s in (d.get("disagreement") or {}).items():
        out.print(f"  reward-ensemble disagreement ({o}, std of member scores): {s['production_mean']:.3f} on "
                  f"production vs {s['annotation_mean']:.3f} on annotation (one-sided p="
                  f"{s['pvalue_production_higher']:.2g}); widest on {s['top'][0]['prompt'][:60]!r}", highlight=False)
    why = ", ".join(f"{k} {v}" for k, v in sorted(p["sample_reasons"].items()))
    out.print(f"  sampled {p['sampled']} of the window's {p['candidates']} production prompts into annotation "
              f"({why})", highlight=False)
    for o, s in (p.get("sample_disagreement") or {}).items():
        out.print(f"    their reward disagreement ({o}): {s['picked_mean']:.3f} vs {s['window_mean']:.3f} "
                  "over the window", highlight=False)


def _print_loop(lp: dict[str, Any]) -> None:
    out.rule("6. the loop: champion / challenger, triggers, the next batch (guard 7)")
    if lp["decision"] is not None:
        verdict = "[green]promoted[/]" if lp["decision"] == "promote" else "[bold red]refused[/]"
        out.print(f"  the reward model challenged for role 'reward': {verdict} — {lp['decision_reason']}",
                  highlight=False)
    out.print(f"  champion: {lp['champion'] or 'none (nothing passed its challenge yet)'}", highlight=False)
    t = lp["tick"]
    for trig in t["triggers"]:
        state = "[bold]FIRED[/]" if trig["fired"] else "quiet"
        out.print(f"    {state} {trig['name']}: {trig['detail']}", highlight=False)
    for action in t["actions"]:
        out.print(f"  {action}", highlight=False)
    out.print(f"  tick {t['tick']}: {t['state']}; dashboard {lp['dashboard']} (also tether loop status)",
              highlight=False)


def _print_guards(result: DemoResult) -> None:
    from rich.table import Table

    out.rule("7. the seven guards against a naive pipeline (gold of the simulated world)")
    table = Table(show_lines=False)
    for col, just in (("#", "right"), ("failure mode", "left"), ("gold metric", "left"), ("naive", "right"),
                      ("Tether", "right"), ("", "left"), ("s", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in result.guards:
        arrow = "↑" if r.higher_is_better else "↓"
        verdict = "[green]better[/]" if r.tether_better else "[bold red]NOT better[/]"
        table.add_row(str(r.failure_mode), escape(r.name), f"{arrow} {escape(r.metric)}", f"{r.naive:.3f}",
                      f"{r.tether:.3f}", verdict, f"{r.seconds:.1f}")
    out.print(table)
    times = ", ".join(f"{k.split('. ', 1)[-1]} {v:.0f} s" for k, v in result.timings.items())
    out.print(f"  time per stage: {times}; total {sum(result.timings.values()):.0f} s", highlight=False)
    out.print(f"  report {result.report} (first table: these rows), JSON {result.report_json}", highlight=False)


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        path: Annotated[Path, typer.Argument(help="Project folder for the demo.")] = Path("tether-demo"),
        data_dir: Annotated[Path | None, typer.Option(help="Bundled data folder (default: ./data).")] = None,
        bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for agreement intervals.")] = 100,
        seed: Annotated[int, typer.Option(help="Seed of the simulated world.")] = 1,
        reward_steps: Annotated[int, typer.Option(min=1, help="Training steps per reward-model member.")
                                ] = REWARD_STEPS,
        reward_members: Annotated[int, typer.Option(min=1, help="Reward ensemble size (1: a single model).")
                                  ] = REWARD_MEMBERS,
    ) -> None:
        """Run the main job on the embedded default: import, audit, curate, simulated proof, reward, production."""
        import warnings

        from tether.audit.models.bradley_terry import IdentificationWarning
        from tether.demo.stages import run_demo

        with warnings.catch_warnings():  # the audit reports say which effects the data cannot identify
            warnings.simplefilter("ignore", IdentificationWarning)
            result = run_demo(path, data_dir=data_dir, n_bootstrap=bootstrap, seed=seed,
                              reward_steps=reward_steps, reward_members=reward_members)
        _print(result)
        _print_reward(result.reward)
        _print_production(result.production)
        _print_loop(result.loop)
        _print_guards(result)
