"""`tether outcomes run`: generated code through the sandbox, one outcome per sample."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tether.cli_support import config_options, fail
from tether.outcomes.config import SANDBOX_OPTIONS, SandboxConfig

outcomes_app = typer.Typer(help="What actually happened: outcomes of generations (code run against its tests).",
                           no_args_is_help=True)


@outcomes_app.command("run")
@config_options(SandboxConfig, "outcomes", SANDBOX_OPTIONS)
def run_cmd(
    samples: Annotated[Path, typer.Argument(help="JSONL of samples: HumanEval records (task_id, prompt, completion, "
                                                 "test, entry_point; or task_id + completion with the bundled "
                                                 "HumanEval problems), CodeT records (prompt + samples) or MBPP "
                                                 "records (task_id, code or completion, test_list, test_setup_code).",
                                            exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option("-o", "--out", help="Outcomes JSONL; samples already in it are skipped "
                                                          "(resume).")],
    limit: Annotated[int | None, typer.Option(help="Run only the first N samples of the file.", min=1)] = None,
    truncate: Annotated[bool, typer.Option(help="Cut HumanEval/CodeT completions at the Codex stop sequences "
                                               "(\\nclass, \\ndef, \\n#, \\nif, \\nprint), as CodeT and the "
                                               "Codex paper do with raw model output.")] = False,
    ks: Annotated[str, typer.Option("--k", help="pass@k to report, comma-separated.")] = "1,10,100",
    store: Annotated[bool, typer.Option("--store", help="Also store the outcomes in the project's database "
                                                        "(joined by the samples' trace_id where they have one; "
                                                        "storing again is a no-op).")] = False,
    project: Annotated[str | None, typer.Option(help="Events tenant to store under \\[default: the project's "
                                                     "name in tether.toml].")] = None,
    source: Annotated[str | None, typer.Option(help="Source name of stored outcomes \\[default: "
                                                    "sandbox:<samples file name>].")] = None,
    *,
    config: SandboxConfig,
) -> None:
    """Run each sample's code against its tests in the sandbox; write passed / failed / timeout / error / killed
    with the reason and seconds; print pass@k (unbiased estimator) over the whole output file."""
    from tether.console import console, step_progress
    from tether.console import out as stdout
    from tether.io import InputError
    from tether.outcomes.passk import counts_by_task, mean_pass_at_k
    from tether.outcomes.run import read_outcomes, run_samples
    from tether.outcomes.sandbox import Sandbox

    try:
        k_values = sorted({int(k) for k in ks.split(",") if k.strip()})
    except ValueError:
        raise fail(f"--k: expected comma-separated integers, got {ks!r}") from None
    sandbox = Sandbox(config)
    console.print(f"sandbox: {sandbox.isolation}", style="dim", highlight=False)
    try:
        res = run_samples(samples, out, sandbox, limit=limit, truncate=truncate,
                          progress=lambda total: step_progress("running samples", total))
    except InputError as exc:
        raise fail(str(exc), "fix the line and run again") from None
    except OSError as exc:
        raise fail(str(exc)) from None
    rate = res.run / res.seconds if res.seconds else 0.0
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(res.statuses.items())) or "none"
    stdout.print(f"ran {res.run} samples ({res.skipped} already in {out}) in {res.seconds:.1f}s "
                 f"({rate:.1f} samples/s): {statuses}", highlight=False)
    rows = read_outcomes(out)
    passk = mean_pass_at_k(counts_by_task(rows), k_values)
    if passk:
        stdout.print("  ".join(f"pass@{k} {v:.1%}" for k, v in passk.items()) + f" over {len(rows)} outcomes",
                     highlight=False)
    if store:
        from tether.cli_support import events_tenant, open_store
        from tether.outcomes.run import outcomes_of_rows

        tenant = events_tenant(project)
        db = open_store()
        try:
            written = db.add_outcomes(outcomes_of_rows(rows, source or f"sandbox:{samples.name}"), project=tenant)
        finally:
            db.close()
        stdout.print(f"stored {written.stored} outcomes in project {tenant!r} ({written.duplicates} already "
                     "stored)", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `tether outcomes ...`: `run` here, `audit`, `pairs` and `grade` from audit_cli; and the HumanEval tests
    as the evaluator `humaneval` of `tether policy rl / eval` (a policy reward or a held-out evaluator)."""
    from tether.outcomes.audit_cli import register as register_audit
    from tether.policy.evaluators import register_evaluator

    def humaneval(seed: int):  # noqa: ANN202  (the sandbox is imported only when the evaluator is asked for)
        from tether.outcomes.evaluators import humaneval_evaluator

        return humaneval_evaluator(seed)

    register_audit(outcomes_app)
    register_evaluator("humaneval", humaneval)
    app.add_typer(outcomes_app, name="outcomes")
