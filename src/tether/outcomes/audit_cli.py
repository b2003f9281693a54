"""`tether outcomes audit / pairs / grade`: thin commands over the outcome audit, outcome pairs and graders."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from tether.cli_support import fail, open_store
from tether.console import console, out, step_progress

OutcomesOpt = Annotated[Path | None, typer.Option(
    "--outcomes", help="Outcomes JSONL joined to the responses by trace_id, task_id + sample, or prompt + response "
                       "(e.g. `tether outcomes run` output); without it the responses file holds the outcomes itself.")]
ThresholdOpt = Annotated[float, typer.Option("--threshold", help="An outcome value at or above this passes.")]
NameOpt = Annotated[str | None, typer.Option("--outcome-name", help="Only --outcomes lines with this `name` (e.g. "
                                                                     "tests_passed in exported outcome events).")]


def _read(path: Path, outcomes: Path | None, *, need_score: bool, outcome_name: str | None = None):  # noqa: ANN202
    """Rows of IN (joined with --outcomes); bad input exits with the file, line and key named."""
    from tether.io import InputError
    from tether.outcomes.scored import join_outcomes, read_scored

    try:
        rows = read_scored(path, need_score=need_score, need_outcome=outcomes is None)
        if outcomes is None:
            return rows
        found = read_scored(outcomes, need_score=False, side="outcomes", outcome_name=outcome_name)
        rows, missing = join_outcomes(rows, found, outcomes_file=str(outcomes))
    except InputError as exc:
        more = [str(b) for b in exc.bad_lines[1:5]]
        if exc.n_bad > len(exc.bad_lines[:5]):
            more.append(f"... {exc.n_bad} bad lines in all")
        raise fail(str(exc), "fix the line and run again", details=more) from None
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    if missing:
        console.print(f"{missing} responses in {path} have no outcome in {outcomes}: left out", highlight=False)
    if not rows:
        raise fail(f"no response in {path} has an outcome in {outcomes}",
                   "check that both files carry the same trace_id, task_id + sample, or prompt + response")
    return rows


def audit_cmd(
    scores: Annotated[Path, typer.Argument(help="JSONL of responses: prompt + response (or trace_id), score, and "
                                                "passed / outcome (or give --outcomes).")],
    outcomes: OutcomesOpt = None,
    outcome_name: NameOpt = None,
    model: Annotated[Path | None, typer.Option("--model", help="Reward model or ensemble folder: score the "
                                                               "responses with it instead of reading `score`.")] = None,
    objective: Annotated[str | None, typer.Option(help="Head of --model to score with (default: its only head, "
                                                       "else overall).")] = None,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report here.")] = None,
    cases: Annotated[Path | None, typer.Option(help="Write every disagreement case (JSONL, with scores and "
                                                    "lines) here.")] = None,
    items: Annotated[Path | None, typer.Option(help="Write the disagreement cases as campaign items here "
                                                    "(`tether campaign create --items`).")] = None,
    campaign: Annotated[str | None, typer.Option(help="Also open the cases as this new campaign (needs "
                                                      "--rubric).")] = None,
    rubric: Annotated[Path | None, typer.Option(help="Rubric text file for --campaign.")] = None,
    overlap: Annotated[int, typer.Option(help="Raters per pair in --campaign.")] = 3,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples of prompts per interval.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap and the calibration folds.")] = 0,
    threshold: ThresholdOpt = 0.5,
    max_cases: Annotated[int, typer.Option(help="Disagreement cases kept (those on slices worse than the rest, "
                                                "then largest margins first).")] = 200,
    slice_level: Annotated[float | None, typer.Option(help="Coverage of the slice-against-rest AUC gap intervals "
                                                           "(default 0.95; stricter for many slices, e.g. "
                                                           "1 - 0.05 / k).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
) -> None:
    """Audit a reward model against outcomes: AUC, rank correlation, calibration, best-of-n, by slice, with the
    cases where it prefers what failed."""
    from tether.outcomes.audit import AuditConfig, audit_outcomes, n_slices
    from tether.outcomes.pairs import campaign_items
    from tether.outcomes.report import print_summary, write_report

    if campaign is not None and rubric is None:
        raise fail("--campaign needs --rubric FILE (what raters are asked)")
    if bootstrap < 0 or max_cases < 0:
        raise fail("--bootstrap and --max-cases must be >= 0")
    if slice_level is not None and not 0 < slice_level < 1:
        raise fail(f"--slice-level must lie between 0 and 1 (got {slice_level})")
    rows = _read(scores, outcomes, need_score=model is None, outcome_name=outcome_name)
    if model is not None:
        rows = _score(rows, model, objective)
    cfg = AuditConfig(n_boot=bootstrap, seed=seed, pass_threshold=threshold, max_cases=max_cases,
                      slice_level=slice_level)
    try:
        with step_progress("audit", n_slices(rows)) as advance:
            result = audit_outcomes(rows, cfg, on_progress=advance)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if as_json:
        out.print_json(json.dumps(_finite(result.to_dict())))
    else:
        print_summary(result, out)
    if report is not None:
        write_report(result, report)
        out.print(f"report: {report}", highlight=False)
    if cases is not None:
        _write_jsonl(cases, (asdict(d) for d in result.disagreements))
        out.print(f"{len(result.disagreements)} disagreement cases -> {cases}", highlight=False)
    lines = campaign_items(result.disagreements)
    if items is not None:
        _write_jsonl(items, lines)
        out.print(f"{len(lines)} campaign items -> {items} (tether campaign create NAME --items {items} ...)",
                  highlight=False)
    if campaign is not None:
        _open_campaign(campaign, lines, rubric, overlap)  # type: ignore[arg-type]


def _finite(obj):  # noqa: ANN001, ANN202
    """NaN (an undefined metric) as null: JSON has no NaN."""
    if isinstance(obj, float):
        return None if obj != obj else obj
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _score(rows: list, model: Path, objective: str | None) -> list:
    from tether.outcomes.pairs import score_rows
    from tether.reward import load

    try:
        rm = load(model)
        with step_progress(f"score with {model.name}", len(rows)) as advance:
            return score_rows(rows, rm, objective, on_progress=advance)
    except (FileNotFoundError, ValueError, KeyError, OSError) as exc:
        raise fail(str(exc)) from None


def _write_jsonl(path: Path, rows) -> None:  # noqa: ANN001
    from tether.io.jsonl import write_jsonl

    write_jsonl(path, rows)


def _open_campaign(name: str, lines: list[dict], rubric: Path, overlap: int) -> None:
    """Open the disagreement cases as a campaign in the project store (raters judge which response is better)."""
    from tether.collect.campaign import CampaignItem, CampaignSettings, create_campaign

    if not lines:
        raise fail("no disagreement case to send to annotation")
    with open_store() as store:
        try:
            settings = CampaignSettings(name=name, overlap=overlap)
            create_campaign(store, settings, [CampaignItem.model_validate(x) for x in lines],
                            rubric.read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError) as exc:
            raise fail(str(exc)) from None
    out.print(f"opened campaign {name!r} with {len(lines)} items", highlight=False)


def pairs_cmd(
    source: Annotated[Path, typer.Argument(help="JSONL of responses: prompt, response, and passed / outcome (or "
                                                "give --outcomes); several responses per prompt.")],
    out_file: Annotated[Path, typer.Option("-o", "--out", help="Preference pairs JSONL (v1; `tether reward train "
                                                                "--pairs`).")],
    outcomes: OutcomesOpt = None,
    outcome_name: NameOpt = None,
    weight: Annotated[float, typer.Option(help="Weight of each pair (times the outcome gap when graded).")] = 1.0,
    objective: Annotated[str, typer.Option(help="Objective (reward head) the pairs train.")] = "overall",
    max_per_prompt: Annotated[int, typer.Option(help="Pairs kept per prompt, sampled (0: all).")] = 4,
    seed: Annotated[int, typer.Option(help="Seed of the per-prompt sample.")] = 0,
    threshold: ThresholdOpt = 0.5,
    match: Annotated[str, typer.Option(help="all: every passing x failing combination; closest: each failing "
                                            "response with its most alike passing one (word-level), so a pair "
                                            "differs in little but the outcome.")] = "all",
    min_similarity: Annotated[float, typer.Option(help="With --match closest: drop pairs whose texts are less "
                                                       "alike than this (0-1).")] = 0.0,
) -> None:
    """Build preference pairs from outcomes: a passing (chosen) and a failing (rejected) response to one prompt."""
    from tether.io.jsonl import write_jsonl
    from tether.io.v1 import pairs_to_v1
    from tether.outcomes.pairs import MATCHES, PairConfig, outcome_pairs

    if max_per_prompt < 0:
        raise fail("--max-per-prompt must be >= 0 (0: all)")
    if match not in MATCHES:
        raise fail(f"--match must be one of {', '.join(MATCHES)}, got {match!r}")
    if not 0.0 <= min_similarity <= 1.0 or (min_similarity > 0 and match != "closest"):
        raise fail(f"--min-similarity must be in [0, 1] and needs --match closest, got {min_similarity}")
    rows = _read(source, outcomes, need_score=False, outcome_name=outcome_name)
    cfg = PairConfig(weight=weight, objective=objective, pass_threshold=threshold,
                     max_per_prompt=max_per_prompt or None, seed=seed, match=match, min_similarity=min_similarity)
    try:
        pairs = outcome_pairs(rows, cfg)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if not pairs:
        floor = f" at --min-similarity {min_similarity}" if min_similarity > 0 else ""
        raise fail(f"{source}: no prompt has both a passing and a failing response{floor}: no pair to build")
    n = write_jsonl(out_file, pairs_to_v1(pairs))
    n_prompts = len({p.provenance["group"] for p in pairs})
    out.print(f"{n} outcome pairs from {n_prompts} prompts -> {out_file}", highlight=False)


def grade_cmd(
    source: Annotated[Path, typer.Argument(help="JSONL of responses with a reference answer (GSM8K style).")],
    out_file: Annotated[Path, typer.Option("-o", "--out", help="The lines with passed / answer / reference / "
                                                                "reason added (JSONL).")],
    response_key: Annotated[str, typer.Option(help="Key of the response text.")] = "response",
    reference_key: Annotated[str, typer.Option(help="Key of the reference: a number, or a solution ending in "
                                                    "'#### N'.")] = "answer",
    rel_tol: Annotated[float, typer.Option(help="Relative tolerance of the number comparison.")] = 1e-6,
    abs_tol: Annotated[float, typer.Option(help="Absolute tolerance of the number comparison.")] = 1e-6,
) -> None:
    """Grade numeric final answers (GSM8K '#### N', 'The answer is N', or the last number) against references."""
    from tether.io.errors import BadLine
    from tether.io.jsonl import iter_jsonl, write_jsonl
    from tether.outcomes.grading import grade_numeric

    if not source.exists():
        raise fail(f"{source}: no such file")
    graded, n_pass = [], 0
    try:
        for lineno, obj, _ in iter_jsonl(source):
            if isinstance(obj, BadLine):
                raise ValueError(str(obj))
            for key in (response_key, reference_key):
                if key not in obj:
                    raise ValueError(f"{source}:{lineno}: missing key {key!r}")
            response, reference = obj[response_key], obj[reference_key]
            if not isinstance(response, str):
                raise ValueError(f"{source}:{lineno}: key {response_key!r}: expected text")
            if isinstance(reference, bool) or not isinstance(reference, str | int | float):
                raise ValueError(f"{source}:{lineno}: key {reference_key!r}: expected a number or text")
            try:
                g = grade_numeric(response, reference, rel_tol=rel_tol, abs_tol=abs_tol)
            except ValueError as exc:
                raise ValueError(f"{source}:{lineno}: key {reference_key!r}: {exc}") from None
            n_pass += g.passed
            graded.append({**obj, "passed": g.passed, "answer": g.answer, "reference": g.reference,
                           "reason": g.reason})
    except (ValueError, OSError) as exc:
        raise fail(str(exc), "fix the line and run again") from None
    if not graded:
        raise fail(f"{source}: no lines to grade")
    write_jsonl(out_file, graded)
    out.print(f"{n_pass} of {len(graded)} responses correct ({100 * n_pass / len(graded):.1f}%) -> {out_file}",
              highlight=False)


def register(app: typer.Typer) -> None:
    """Add `audit`, `pairs` and `grade` to the `tether outcomes` app."""
    app.command("audit")(audit_cmd)
    app.command("pairs")(pairs_cmd)
    app.command("grade")(grade_cmd)
