"""The outcome audit as people read it: a rich summary on the terminal and a self-contained HTML report."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from tether.outcomes.audit import OutcomeAudit, SliceAudit, SliceGap
from tether.report.figures import png_base64, pyplot

__all__ = ["print_summary", "write_report"]

_COLUMNS = ("n", "pass rate", "AUC", "pairwise", "Spearman", "Kendall", "best-of-n", "random", "oracle", "ECE")


def _cells(s: SliceAudit) -> list[str]:
    def pct(e) -> str:  # noqa: ANN001
        return "—" if np.isnan(e.value) else f"{100 * e.value:.1f}%"

    return [str(s.n), f"{100 * s.pass_rate:.1f}%", s.auc.describe(), s.pairwise.describe(), s.spearman.describe(2),
            s.kendall.describe(2), pct(s.best_of_n), pct(s.random), pct(s.oracle),
            "—" if np.isnan(s.ece_sigmoid.value) else f"{s.ece_sigmoid.value:.3f}"]


_GAP_COLUMNS = ("n", "AUC", "AUC on the rest", "gap", "")


def _gap_cells(g: SliceGap) -> list[str]:
    return [f"{g.n} / {g.n_rest}", f"{g.auc:.3f}", f"{g.auc_rest:.3f}", g.gap.describe(),
            "worse than the rest" if g.worse else ""]


def _gap_level(audit: OutcomeAudit) -> str:
    cfg = audit.config
    return f"{round(100 * (cfg.slice_level if cfg.slice_level is not None else cfg.level), 2):g}%"


def _rows(audit: OutcomeAudit) -> list[tuple[str, SliceAudit]]:
    out = [("overall", audit.overall)]
    for key, vals in audit.by_slice.items():
        out += [(f"{key}={v}", s) for v, s in vals.items()]
    return out


def print_summary(audit: OutcomeAudit, console: Console, max_cases: int = 5) -> None:
    """Metrics overall and per slice, the verdict, and the most confident disagreements."""
    lvl = round(100 * audit.config.level)
    table = Table(title=f"reward score against outcome ({lvl}% bootstrap intervals over prompts)", title_justify="left")
    table.add_column("slice", overflow="fold")
    for col in _COLUMNS:
        table.add_column(col, justify="right")
    for name, s in _rows(audit):
        table.add_row(name, *_cells(s))
    console.print(table)
    if audit.slice_gaps:
        gaps = Table(title=f"each slice against the rest: AUC gap ({_gap_level(audit)} intervals, same resamples)",
                     title_justify="left")
        gaps.add_column("slice", overflow="fold")
        for col in _GAP_COLUMNS:
            gaps.add_column(col, justify="right")
        for g in audit.slice_gaps:
            gaps.add_row(f"{g.key}={g.value}", *_gap_cells(g))
        console.print(gaps)
    for line in audit.verdict:
        console.print(f"- {line}", highlight=False)
    for d in audit.disagreements[:max_cases]:
        on = f" [{', '.join(d.worse_slices)}]" if d.worse_slices else ""
        console.print(f"  line {d.failing_line} (failed, score {d.failing_score:+.3f}) over line {d.passing_line} "
                      f"(passed, {d.passing_score:+.3f}){on}: {(d.prompt or d.group)[:90]!r}", highlight=False)


def _plots(audit: OutcomeAudit) -> list[tuple[str, str]]:
    plt = pyplot()
    out = []
    o = audit.overall
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect")
    for rel, label in ((o.reliability, "sigmoid(score)"), (o.reliability_fitted, "fitted logistic map")):
        xs = [p for p, n in zip(rel["predicted"], rel["count"], strict=True) if n]
        ys = [v for v, n in zip(rel["observed"], rel["count"], strict=True) if n]
        ax.plot(xs, ys, "o-", label=label)
    ax.set(xlabel="predicted pass probability", ylabel="observed pass rate", title="Reliability", xlim=(0, 1),
           ylim=(0, 1.02))
    ax.legend()
    out.append(("Calibration of score against outcome", png_base64(fig)))
    scores, passed = np.array(audit.scores), np.array(audit.passed, dtype=bool)
    if scores.size:
        fig, ax = plt.subplots(figsize=(5.5, 3.5))
        bins = np.histogram_bin_edges(scores, bins=30)
        ax.hist(scores[passed], bins=bins, alpha=0.6, label=f"passed ({int(passed.sum())})")
        ax.hist(scores[~passed], bins=bins, alpha=0.6, label=f"failed ({int((~passed).sum())})")
        ax.set(xlabel="reward score", ylabel="responses", title="Scores of passing and failing responses")
        ax.legend()
        out.append(("Score distributions", png_base64(fig)))
    rows = [(n, s) for n, s in _rows(audit) if not np.isnan(s.auc.value)]
    if rows:
        fig, ax = plt.subplots(figsize=(6, 0.32 * len(rows) + 1.2))
        y = np.arange(len(rows))[::-1]
        vals = np.array([s.auc.value for _, s in rows])
        err = np.array([[s.auc.value - s.auc.lo, s.auc.hi - s.auc.value] for _, s in rows]).T
        ax.errorbar(vals, y, xerr=np.nan_to_num(err), fmt="o", capsize=3)
        ax.axvline(0.5, color="k", ls="--", lw=1, label="chance")
        ax.set_yticks(y, [n for n, _ in rows])
        ax.set(xlabel="AUC (passing above failing)", xlim=(0, 1), title="AUC by slice")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
        out.append(("AUC by slice", png_base64(fig)))
    bon = [(n, s) for n, s in _rows(audit) if s.n_bon_prompts]
    if bon:
        fig, ax = plt.subplots(figsize=(6, 0.45 * len(bon) + 1.2))
        y = np.arange(len(bon))[::-1]
        for off, attr, label in ((0.2, "oracle", "oracle"), (0.0, "best_of_n", "best-of-n (reward model)"),
                                 (-0.2, "random", "random choice")):
            ax.barh(y + off, [getattr(s, attr).value for _, s in bon], height=0.2, label=label)
        ax.set_yticks(y, [n for n, _ in bon])
        ax.set(xlabel="share of prompts answered by a passing response", xlim=(0, 1), title="Best-of-n selection")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
        out.append(("Best-of-n selection against oracle and random", png_base64(fig)))
    return out


def write_report(audit: OutcomeAudit, path: str | Path, title: str = "Reward model against outcomes",
                 max_cases: int = 50) -> Path:
    """A self-contained HTML report (plots embedded as base64 PNG)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    esc = html.escape
    verdict = "".join(f"<li>{esc(line)}</li>" for line in audit.verdict)
    head = "".join(f"<th>{esc(c)}</th>" for c in ("slice", *_COLUMNS))
    body = "".join("<tr><th>" + esc(n) + "</th>" + "".join(f"<td>{esc(c)}</td>" for c in _cells(s)) + "</tr>"
                   for n, s in _rows(audit))
    cases = "".join(
        f"<tr><td>{esc((d.prompt or d.group)[:300])}</td><td class=fail>{esc((d.failing or '')[:400])}<br>"
        f"<small>score {d.failing_score:+.3f}, line {d.failing_line}</small></td><td class=ok>"
        f"{esc((d.passing or '')[:400])}<br><small>score {d.passing_score:+.3f}, line {d.passing_line}</small></td>"
        f"<td>{d.margin:+.3f}{' (best-of-n picks it)' if d.beats_all_passing else ''}"
        f"{''.join(f'<br><small>{esc(w)}: worse than the rest</small>' for w in d.worse_slices)}</td></tr>"
        for d in audit.disagreements[:max_cases])
    first = " on slices worse than the rest first, then" if audit.worse_slices else ""
    cases_html = (f"<h2>Where the reward model prefers what failed ({audit.n_disagreeing_prompts} prompts;{first} the "
                  f"{min(max_cases, len(audit.disagreements))} largest margins)</h2><table class=cases><tr><th>prompt"
                  f"</th><th>failed (scored higher)</th><th>passed</th><th>margin</th></tr>{cases}</table>"
                  if audit.disagreements else "<h2>No prompt where a failing response outscores a passing one</h2>")
    gap_rows = "".join("<tr><th>" + esc(f"{g.key}={g.value}") + "</th>" + "".join(
        f"<td{' class=fail' if g.worse and c else ''}>{esc(c)}</td>" for c in _gap_cells(g)) + "</tr>"
        for g in audit.slice_gaps)
    gaps_html = (f"<h2>Each slice against the rest ({_gap_level(audit)} intervals over prompts, the same "
                 f"resamples for every slice)</h2><p>Gap: AUC on the slice minus AUC on every other response; a "
                 f"slice whose interval lies wholly below 0 is worse than the rest.</p><table><tr>"
                 + "".join(f"<th>{esc(c)}</th>" for c in ("slice", *_GAP_COLUMNS)) + f"</tr>{gap_rows}</table>"
                 if audit.slice_gaps else "")
    imgs = "".join(f"<h2>{esc(t)}</h2><img alt='{esc(t)}' src='data:image/png;base64,{b}'>" for t, b in _plots(audit))
    lvl = round(100 * audit.config.level)
    path.write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}th{{text-align:left;padding-right:1em}}
td{{padding-right:1em;vertical-align:top}}.ok{{color:#080}}.fail{{color:#b00}}
table.cases td{{border-top:1px solid #ddd;font-size:90%;white-space:pre-wrap}}</style></head><body>
<h1>{esc(title)}</h1><h2>Verdict</h2><ul>{verdict}</ul>
<h2>Metrics ({lvl}% bootstrap intervals over prompts, {audit.config.n_boot} resamples, seed {audit.config.seed})</h2>
<p>AUC: a passing response outscores a failing one; pairwise: the same within one prompt; best-of-n: the top-scored
of a prompt's responses passes; ECE: sigmoid(score) read as a pass probability.</p>
<table><tr>{head}</tr>{body}</table>{gaps_html}{cases_html}{imgs}</body></html>""", encoding="utf-8")
    return path
