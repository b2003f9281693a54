"""The rating-scale part of `tether audit`: console table, HTML section, and the stored audit run of a set that
mixes comparisons and ratings (one run, one 0.4 rule verdict per task type, both kinds' numbers)."""

from __future__ import annotations

import html
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tether.audit.audit import AuditResult
from tether.audit.config import AuditConfig
from tether.audit.report import _fmt, _table, render_html
from tether.audit.runs import audit_run
from tether.records import AuditRun, Comparison, Rating

STYLES = {"ambiguous": "bold red", "insufficient": "yellow", "ok": "green"}


def _alpha(group: dict[str, Any], metric: str) -> dict[str, Any]:
    return group.get(f"krippendorff_alpha_{metric}") or {"value": None, "ci_low": None, "ci_high": None}


def print_ratings_summary(d: dict[str, Any], console: Console) -> None:
    """Interval and ordinal alpha per task type with the 0.4 rule's verdict (on interval alpha)."""
    console.print(f"[bold]{d['n_ratings']}[/] ratings by [bold]{d['n_raters']}[/] raters")
    table = Table(title="rating agreement by task type (Krippendorff's alpha; the 0.4 rule on interval alpha)",
                  title_justify="left")
    table.add_column("task type", min_width=12, overflow="fold")
    for col in ("scale", "items", "rated 2+", "interval", "95% CI", "ordinal", "verdict"):
        table.add_column(col, justify="left" if col == "verdict" else "right")
    for task_type, verdict in d["task_types"].items():
        g = d["agreement"]["by_task_type"][task_type]
        interval, ordinal = _alpha(g, "interval"), _alpha(g, "ordinal")
        table.add_row(task_type, f"{g['scale'][0]}–{g['scale'][1]}", str(g["n_items"]), str(g["n_items_pairable"]),
                      _fmt(interval["value"], 2), f"{_fmt(interval['ci_low'], 2)}–{_fmt(interval['ci_high'], 2)}",
                      _fmt(ordinal["value"], 2), f"[{STYLES[verdict['status']]}]{verdict['status']}[/]")
    console.print(table)
    for task_type in d["blocked_task_types"]:
        console.print(f"[bold red]ambiguous rubric:[/] [bold]{task_type}[/]: {d['task_types'][task_type]['message']}",
                      highlight=False)


def ratings_section(d: dict[str, Any]) -> str:
    """The ratings' agreement and raters as an HTML section."""
    rows = []
    for task_type, verdict in d["task_types"].items():
        g = d["agreement"]["by_task_type"][task_type]
        interval, ordinal = _alpha(g, "interval"), _alpha(g, "ordinal")
        rows.append([task_type, f"{g['scale'][0]}–{g['scale'][1]}", g["n_items"], g["n_items_pairable"],
                     interval["value"], interval["ci_low"], interval["ci_high"], ordinal["value"], verdict["status"]])
    raters = [[name, r["n_ratings"], r["mean_score"], r["n_shared"], r["mean_abs_difference"]]
              for name, r in d["raters"].items()]
    return ("<h2 id='ratings'>Ratings (Likert)</h2><p>Krippendorff's alpha per task type, interval and ordinal; the "
            f"0.4 rule (threshold {html.escape(str(d['block_threshold']))}) is judged on interval alpha.</p>"
            + _table(["task type", "scale", "items", "rated 2+", "interval alpha", "CI low", "CI high",
                      "ordinal alpha", "verdict"], rows)
            + _table(["rater", "ratings", "mean score", "shared", "mean |difference| from others"], raters))


def write_mixed_html(result: AuditResult | None, ratings: dict[str, Any] | None, path: Path) -> Path:
    """The HTML report: the comparisons' audit (when there are comparisons) with the ratings' section."""
    page = render_html(result) if result is not None else (
        "<!doctype html><html><head><meta charset='utf-8'><title>Tether annotation audit</title></head>"
        "<body style='font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto'><h1>Annotation audit</h1>"
        "</body></html>")
    if ratings is not None:
        cut = page.rindex("</body>")
        page = page[:cut] + ratings_section(ratings) + page[cut:]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def mixed_numbers(result: AuditResult | None, ratings: dict[str, Any] | None) -> dict[str, Any]:
    """`tether audit --json`: the comparisons' numbers (if any) with the ratings' under `ratings`, and one list
    of blocked task types."""
    out = result.to_dict() if result is not None else {}
    if ratings is not None:
        out["ratings"] = ratings
        out["blocked_task_types"] = sorted({*out.get("blocked_task_types", []), *ratings["blocked_task_types"]})
    return out


def mixed_audit_run(result: AuditResult | None, comparisons: Iterable[Comparison], ratings_audit: dict[str, Any] | None,
                    ratings: Iterable[Rating], config: AuditConfig, source: str = "store") -> AuditRun:
    """One stored run for comparisons and ratings: campaigns read the blocked task types of either kind."""
    comparisons = list(comparisons)
    base = audit_run(result, comparisons, source) if result is not None else AuditRun(
        source=source, config=config.model_dump(mode="json", exclude={"gold"}))
    if ratings_audit is None:
        return base
    verdicts = dict(base.verdicts)
    for task_type, verdict in ratings_audit["task_types"].items():
        # a task type judged both ways (different campaigns) keeps the pairwise verdict and adds the rating one
        verdicts[task_type] = {**verdicts[task_type], "rating": verdict} if task_type in verdicts else verdict
    return base.model_copy(update={
        "campaigns": sorted({*base.campaigns, *(r.campaign for r in ratings if r.campaign)}),
        "blocked_task_types": sorted({*base.blocked_task_types, *ratings_audit["blocked_task_types"]}),
        "verdicts": verdicts,
        "result": mixed_numbers(result, ratings_audit),
    })
