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


@shift_app.command("sample")
def sample(
    annotation: Annotated[Path, typer.Option(help="Prompts already annotated: JSONL or .txt.")],
    budget: Annotated[int, typer.Option(help="How many prompts to send to annotation.")],
    out_file: Annotated[Path, typer.Option("--out", help="JSONL of chosen prompts with reasons.")],
    production: Annotated[Path | None, typer.Option(help="Production prompts file (default: this project's "
                                                         "stored events, with their feedback).")] = None,
    text_key: Annotated[str | None, typer.Option(help="JSON key holding the prompt (default: guessed).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Pick production prompts for annotation: novel, under-covered, disliked; de-duplicated, PII-checked."""
    from tether.cli import fail, open_store
    from tether.deploy.ingest import Ingestor
    from tether.deploy.keys import DEFAULT_PROJECT
    from tether.shift.data import read_prompts
    from tether.shift.embed import Encoder
    from tether.shift.sampling import AnnotationSampler, Candidate, candidates_from_events

    store = open_store()
    try:
        project = DEFAULT_PROJECT
        redactor = Ingestor(store).redactor(project)
        if production is None:
            cands = candidates_from_events(store.iter_events(project=project))
        else:
            cands = [Candidate(r.text) for r in read_prompts(production, text_key)]
        annotated = [r.text for r in read_prompts(annotation, text_key)]
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    if not cands:
        raise fail("no production prompts to choose from", "log generations first, or pass --production FILE")
    enc = Encoder()
    sampler = AnnotationSampler(budget, redactor=redactor, seed=seed).fit(
        enc.encode(annotated), enc.encode([c.text for c in cands]), cands)
    with out_file.open("w", encoding="utf-8") as fh:
        for p in sampler.picks_:
            fh.write(json.dumps({"prompt": p.text, "trace_id": p.trace_id, "score": round(p.score, 4),
                                 "reasons": p.reasons}, ensure_ascii=False) + "\n")
    out.print(f"chose {len(sampler.picks_)} of {len(cands)} production prompts -> {out_file}")


def register(app: typer.Typer) -> None:
    """Add `tether shift ...`."""
    app.add_typer(shift_app, name="shift")
