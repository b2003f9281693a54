"""`tether shift drift`: does production still look like what was annotated?"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from tether.console import out

shift_app = typer.Typer(help="Distribution shift between annotation data and production.", no_args_is_help=True)


@shift_app.command("drift")
def drift(
    annotation: Annotated[Path, typer.Option(help="Annotation prompts: JSONL (prompt/text/input key) or .txt.")],
    production: Annotated[Path, typer.Option(help="Production prompts: JSONL (e.g. exported events) or .txt.")],
    report: Annotated[Path, typer.Option(help="HTML report to write.")] = Path("drift_report.html"),
    text_key: Annotated[str | None, typer.Option(help="JSON key holding the prompt (default: guessed).")] = None,
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    clusters: Annotated[int, typer.Option(help="k-means clusters for coverage.")] = 8,
    limit: Annotated[int | None, typer.Option(help="Read at most this many prompts per side.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (features, permutations, splits, k-means).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Two-sample tests (MMD, classifier) and coverage by cluster and language; exit 1 when drift is found."""
    from tether.cli import fail
    from tether.shift.data import read_prompts
    from tether.shift.drift import detect_drift
    from tether.shift.report import write_report

    try:
        a = read_prompts(annotation, text_key, limit)
        p = read_prompts(production, text_key, limit)
        result = detect_drift(a, p, alpha=alpha, n_clusters=clusters, seed=seed)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        raise fail(str(exc)) from None
    write_report(result, report)
    if as_json:
        sys.stdout.write(json.dumps(result.summary(), indent=2) + "\n")
    else:
        verdict = "[bold red]drift[/]" if result.drift else "[green]no significant drift[/]"
        out.print(f"{verdict}: MMD p={result.mmd_pvalue:.4f}, classifier AUC {result.c2st_auc:.3f} "
                  f"p={result.c2st_pvalue:.3g} ({result.n_annotation} vs {result.n_production} prompts)")
        for c in result.under_covered:
            out.print(f"  under-covered cluster {c.cluster}: {100 * c.production_share:.1f}% of production, "
                      f"{100 * c.annotation_share:.1f}% of annotation; e.g. {c.examples[0][:80]!r}", highlight=False)
        out.print(f"report: {report}")
    if result.drift:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `tether shift ...`."""
    app.add_typer(shift_app, name="shift")
