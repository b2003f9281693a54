"""The demo's own report: the seven guards against a naive pipeline first, then each stage's time and figures.

Written as `demo.html` (self-contained, plots embedded) and `demo.json` beside the stage reports. `guards` in the
JSON is the list of seven objects the README documents (`failure_mode`, `name`, `metric`, `higher_is_better`,
`naive`, `tether`); `guards_detail` carries what each arm did and the supporting figures.
"""

from __future__ import annotations

import html
import json
import textwrap
from pathlib import Path
from typing import Any

from tether.demo.guards.row import GuardRow
from tether.report.figures import png_base64, pyplot

_STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.35em .6em;vertical-align:top}
th{background:#f3f3f3;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.better{color:#075;font-weight:bold}.worse{color:#b00;font-weight:bold}.arm{font-size:.85em;color:#444}
img{max-width:100%}"""


def _guards_figure(rows: list[GuardRow]) -> str:
    """One panel per guard: the naive pipeline's bar beside Tether's, on the row's own gold metric."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(rows), figsize=(1.9 * len(rows), 2.6), squeeze=False)
    for ax, row in zip(axes[0], rows, strict=True):
        values = [row.naive, row.tether]
        ax.bar([0, 1], values, color=["#999", "#075" if row.tether_better else "#b00"])
        ax.set_xticks([0, 1], ["naive", "Tether"])
        ax.set_title(textwrap.fill(f"{row.failure_mode}. {row.name}", 22), fontsize=8)
        ax.set_ylabel("higher is better" if row.higher_is_better else "lower is better", fontsize=7)
        ax.tick_params(labelsize=7)
        for x, v in zip([0, 1], values, strict=True):
            ax.annotate(f"{v:.3f}", (x, v), ha="center", va="bottom", fontsize=7)
    fig.tight_layout()
    return png_base64(fig)


def _guards_table(rows: list[GuardRow]) -> str:
    esc = html.escape
    body = []
    for r in rows:
        verdict = ("<span class=better>Tether better</span>" if r.tether_better
                   else "<span class=worse>NOT better: goal not reached</span>")
        body.append(
            f"<tr><td class=num>{r.failure_mode}</td><td>{esc(r.name)}</td>"
            f"<td>{esc(r.metric)} ({'higher' if r.higher_is_better else 'lower'} is better)</td>"
            f"<td class=num>{r.naive:.3f}</td><td class=num>{r.tether:.3f}</td><td>{verdict}</td>"
            f"<td class=arm><b>naive:</b> {esc(r.naive_arm)}<br><b>Tether:</b> {esc(r.tether_arm)}</td>"
            f"<td class=num>{r.seconds:.1f}</td></tr>")
    return ("<table><tr><th>#</th><th>failure mode</th><th>gold metric</th><th>naive</th><th>Tether</th>"
            "<th>verdict</th><th>what each pipeline did</th><th>s</th></tr>" + "".join(body) + "</table>")


def _stage_table(timings: dict[str, float]) -> str:
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td class=num>{v:.1f}</td></tr>" for k, v in timings.items())
    total = sum(timings.values())
    return f"<table><tr><th>stage</th><th>seconds</th></tr>{rows}<tr><th>total</th><th>{total:.1f}</th></tr></table>"


def _links(reports_dir: Path) -> str:
    names = sorted(p.name for p in reports_dir.glob("*.html") if p.name != "demo.html")
    items = "".join(f"<li><a href='{html.escape(n)}'>{html.escape(n)}</a></li>" for n in names)
    return f"<ul>{items}</ul>"


def write_demo_report(reports_dir: Path, guards: list[GuardRow], timings: dict[str, float],
                      stages: dict[str, Any]) -> tuple[Path, Path]:
    """`demo.html` and `demo.json` in `reports_dir`; returns both paths."""
    detail = [r.to_dict() for r in guards]
    payload = {"guards": [r.to_json() for r in guards], "guards_detail": detail,
               "stage_seconds": timings, "total_seconds": sum(timings.values()), "stages": stages}
    json_path = reports_dir / "demo.json"
    json_path.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    n_better = sum(r.tether_better for r in guards)
    figure = f"<img alt='naive vs Tether per guard' src='data:image/png;base64,{_guards_figure(guards)}'>" \
        if guards else ""
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Tether demo</title><style>{_STYLE}</style>"
            f"</head><body><h1>Tether demo</h1>"
            f"<h2>The seven failure modes: a naive pipeline against Tether, on the simulated world's gold</h2>"
            f"<p>Tether better on {n_better} of {len(guards)} guards. Both arms of a row share the world seed, "
            f"prompts, raters and label budget; every number was computed by this run.</p>"
            f"{_guards_table(guards)}{figure}"
            f"<h2>Time per stage</h2>{_stage_table(timings)}"
            f"<h2>Stage reports</h2>{_links(reports_dir)}</body></html>")
    html_path = reports_dir / "demo.html"
    html_path.write_text(page, encoding="utf-8")
    return html_path, json_path
