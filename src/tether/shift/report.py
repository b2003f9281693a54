"""The shift stage's HTML pages, self-contained (plots inlined as PNG): the drift report and the red-team summary.

Both extend one base template (page style, number formatting, the inlined-image macro)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import DictLoader, Environment, select_autoescape

from tether.report.figures import png_base64, pyplot
from tether.shift.drift import DriftResult
from tether.shift.redteam import RedTeamRun

_BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{% block title %}{% endblock %}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
.bad{color:#b00020;font-weight:bold}.ok{color:#2e7d32;font-weight:bold}img{max-width:100%}
.ex{font-size:0.9em;color:#444}
</style></head><body>
{% block body %}{% endblock %}
</body></html>
"""

_MACROS = """{% macro img(alt, data) %}<img alt="{{ alt }}" src="data:image/png;base64,{{ data }}">{% endmacro %}
{% macro num(v, spec="%.3f") %}{% if v is none %}—{% else %}{{ spec|format(v) }}{% endif %}{% endmacro %}
"""

_DRIFT = """{% extends "base.html" %}{% from "macros.html" import img, num %}
{% block title %}Tether drift report{% endblock %}
{% block body %}
<h1>Drift report</h1>
<p>{{ r.n_annotation }} annotation prompts vs {{ r.n_production }} production prompts; alpha {{ r.alpha }}.</p>
<p>Verdict: {% if r.drift %}<span class="bad">production differs from the annotation set</span>
{% else %}<span class="ok">no significant difference</span>{% endif %}
(either test below alpha/2, Bonferroni over two tests).</p>
{% for n in r.notes %}<p class="ex">{{ n }}</p>{% endfor %}
<h2>Two-sample tests</h2>
<table><tr><th>test</th><th>statistic</th><th>p-value</th></tr>
<tr><td>MMD, Gaussian kernel via random Fourier features, permutation null</td><td>{{ "%.3g"|format(r.mmd) }}</td>
<td>{{ "%.4f"|format(r.mmd_pvalue) }}</td></tr>
<tr><td>Classifier two-sample test (logistic regression, held-out AUC, Mann-Whitney)</td>
<td>AUC {{ "%.3f"|format(r.c2st_auc) }}</td><td>{{ "%.3g"|format(r.c2st_pvalue) }}</td></tr></table>
{{ img("MMD null distribution", plots.null) }}
<h2>Where production goes that annotation does not</h2>
{{ img("embeddings, first two principal components", plots.scatter) }}
{% if r.under_covered %}
<table><tr><th>cluster</th><th>production share</th><th>annotation share</th><th>example production prompts</th></tr>
{% for c in r.under_covered %}<tr><td>{{ c.cluster }}</td><td>{{ "%.1f%%"|format(100*c.production_share) }}</td>
<td>{{ "%.1f%%"|format(100*c.annotation_share) }}</td>
<td class="ex">{% for e in c.examples %}<div>{{ e[:300] }}</div>{% endfor %}</td></tr>{% endfor %}</table>
{% else %}<p>No cluster is under-covered (production share at least twice the annotation share).</p>{% endif %}
{{ img("share per cluster", plots.clusters) }}
<h2>Languages</h2>
<table><tr><th>language</th><th>production</th><th>annotation</th></tr>
{% for l in r.languages[:20] %}<tr><td>{{ l.language }}</td><td>{{ l.production }}
({{ "%.1f%%"|format(100*l.production_share) }})</td><td>{{ l.annotation }}
({{ "%.1f%%"|format(100*l.annotation_share) }})</td></tr>{% endfor %}</table>
{{ img("share per language", plots.languages) }}
{% if r.disagreement %}
<h2 id="disagreement">Reward-ensemble disagreement</h2>
<p>Spread (standard deviation) of the ensemble members' scores on each prompt, in logit units: the members agree
where their training data was dense and drift apart where it was thin. p: one-sided Mann-Whitney test that the
spread is larger on production than on annotation.</p>
<table><tr><th>objective</th><th>annotation mean</th><th>annotation median</th><th>production mean</th>
<th>production median</th><th>p (production higher)</th></tr>
{% for d in r.disagreement %}{% set s = d.summary() %}<tr><td>{{ d.objective }}</td>
<td>{{ num(s.annotation_mean) }}</td>
<td>{{ num(s.annotation_median) }}</td><td>{{ num(s.production_mean) }}</td><td>{{ num(s.production_median) }}</td>
<td>{{ num(d.pvalue, "%.3g") }}</td></tr>{% endfor %}</table>
{{ img("reward-ensemble disagreement, annotation vs production and per cluster", plots.disagreement) }}
<h3>Mean disagreement per cluster</h3>
<table><tr><th>cluster</th><th>production prompts</th><th>annotation prompts</th>
{% for d in r.disagreement %}<th>{{ d.objective }}: production</th><th>{{ d.objective }}: annotation</th>
{% endfor %}</tr>
{% for row in cluster_rows %}<tr><td>{{ row.cluster }}
{% if row.under %} <span class="bad">under-covered</span>{% endif %}
</td><td>{{ row.n_production }}</td><td>{{ row.n_annotation }}</td>
{% for p, a in row["means"] %}<td>{{ num(p) }}</td><td>{{ num(a) }}</td>{% endfor %}</tr>{% endfor %}</table>
{% for d in r.disagreement %}
<h3>Production prompts the members disagree on most: {{ d.objective }}</h3>
<table><tr><th>disagreement</th><th>cluster</th><th>prompt</th><th>logged response</th></tr>
{% for t in d.top %}<tr><td>{{ num(t.disagreement) }}</td><td>{{ t.cluster }}</td>
<td class="ex">{{ t.prompt[:300] }}</td>
<td class="ex">{% if t.response is none %}<i>none (scored as empty)</i>{% else %}{{ t.response[:300] }}{% endif %}
</td></tr>{% endfor %}</table>
{% endfor %}
{% endif %}
{% endblock %}
"""

_REDTEAM = """{% extends "base.html" %}{% from "macros.html" import img, num %}
{% macro rates(groups, label) %}
<table><tr><th>{{ label }}</th><th>probes</th><th>flagged</th><th>flag rate</th>
<th>{{ "%g"|format(100 * (1 - s.alpha)) }}% Wilson interval</th></tr>
{% for g, row in groups.items() %}<tr><td>{{ g }}</td><td>{{ row.n }}</td><td>{{ row.flagged }}</td>
<td>{{ "%.1f%%"|format(100 * row.flag_rate) }}</td>
<td>{{ "%.1f"|format(100 * row.ci_low) }}–{{ "%.1f%%"|format(100 * row.ci_high) }}</td></tr>{% endfor %}</table>
{% endmacro %}
{% block title %}Tether red-team summary{% endblock %}
{% block body %}
<h1>Red-team summary</h1>
<p>{{ s.overall.n }} probes; a probe is flagged when its <b>{{ s.flag_objective }}</b> score (0–1, higher is
better) is below {{ s.threshold }}.</p>
<p>Flagged: <span class="{{ 'bad' if s.overall.flagged else 'ok' }}">{{ s.overall.flagged }} of {{ s.overall.n }}
({{ "%.1f%%"|format(100 * s.overall.flag_rate) }})</span>, {{ "%g"|format(100 * (1 - s.alpha)) }}% Wilson interval
{{ "%.1f"|format(100 * s.overall.ci_low) }}–{{ "%.1f%%"|format(100 * s.overall.ci_high) }}.</p>
{{ img("flag rate by set, language and scorer", plot) }}
<h2>By set</h2>{{ rates(s.by_set, "set") }}
<h2>By language</h2>{{ rates(s.by_language, "language") }}
<h2>By scorer</h2>
<p>The rate each scorer alone would flag at threshold {{ s.threshold }}; the run flags by
{{ s.flag_objective }}.</p>{{ rates(s.by_scorer, "scorer") }}
<h2>By harm category</h2>{{ rates(s.by_category, "category") }}
<h2>Flagged probes</h2>
{% if flagged %}
{% if flagged|length < n_flagged %}<p>The {{ flagged|length }} lowest-scoring of {{ n_flagged }}; all are in
results.jsonl and items.jsonl.</p>{% endif %}
<table><tr><th>probe</th><th>set</th><th>language</th><th>category</th><th>{{ s.flag_objective }}</th><th>prompt</th>
<th>response</th></tr>
{% for f in flagged %}<tr><td>{{ f.probe.probe_id }}</td><td>{{ f.probe.source }}</td><td>{{ f.probe.language }}</td>
<td>{{ f.probe.category }}</td><td>{{ num(f.scores[s.flag_objective]) }}</td>
<td class="ex">{{ f.probe.text[:300] }}</td>
<td class="ex">{{ f.response[:300] }}</td></tr>{% endfor %}</table>
{% else %}<p class="ok">No probe was flagged.</p>{% endif %}
{% endblock %}
"""

_ENV = Environment(loader=DictLoader({"base.html": _BASE, "macros.html": _MACROS, "drift.html": _DRIFT,
                                      "redteam.html": _REDTEAM}),
                   autoescape=select_autoescape(default=True, default_for_string=True))


def _write(template: str, path: Path, **context: Any) -> Path:
    html = _ENV.get_template(template).render(**context)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path


def _grouped_bars(ax: Any, labels: list[str], annotation: list[float], production: list[float]) -> None:
    x = np.arange(len(labels))
    ax.bar(x - 0.2, annotation, 0.4, label="annotation")
    ax.bar(x + 0.2, production, 0.4, label="production")
    ax.set_xticks(x, labels)
    ax.legend()


def _nan(v: float | None) -> float:
    return float("nan") if v is None else v


def _plots(r: DriftResult) -> dict[str, str]:
    plt = pyplot()
    out: dict[str, str] = {}
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist(r.mmd_null, bins=30, color="#999")
    ax.axvline(r.mmd, color="#b00020", label=f"observed (p={r.mmd_pvalue:.3f})")
    ax.set_xlabel("MMD² under permutation")
    ax.legend()
    out["null"] = png_base64(fig, dpi=90)
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.scatter(*r.projection_annotation.T, s=6, alpha=0.5, label="annotation")
    ax.scatter(*r.projection_production.T, s=6, alpha=0.5, label="production")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.legend()
    out["scatter"] = png_base64(fig, dpi=90)
    rows = sorted(r.clusters, key=lambda c: c.cluster)
    fig, ax = plt.subplots(figsize=(7, 3))
    _grouped_bars(ax, [str(c.cluster) for c in rows], [c.annotation_share for c in rows],
                  [c.production_share for c in rows])
    ax.set_xlabel("cluster")
    ax.set_ylabel("share")
    out["clusters"] = png_base64(fig, dpi=90)
    langs = r.languages[:12]
    fig, ax = plt.subplots(figsize=(7, 3))
    _grouped_bars(ax, [str(lg["language"]) for lg in langs], [float(lg["annotation_share"]) for lg in langs],
                  [float(lg["production_share"]) for lg in langs])
    ax.set_ylabel("share")
    out["languages"] = png_base64(fig, dpi=90)
    if r.disagreement:
        fig, axes = plt.subplots(len(r.disagreement), 2, figsize=(10, 3 * len(r.disagreement)), squeeze=False)
        for (left, right), d in zip(axes, r.disagreement, strict=True):
            bins = np.histogram_bin_edges(np.concatenate([d.annotation, d.production]), bins=20)
            left.hist(d.annotation, bins=bins, density=True, alpha=0.5, label="annotation")
            left.hist(d.production, bins=bins, density=True, alpha=0.5, label="production")
            left.set_xlabel(f"{d.objective}: member std per prompt")
            left.set_ylabel("density")
            left.legend()
            _grouped_bars(right, [str(c["cluster"]) for c in d.by_cluster],
                          [_nan(c["annotation_mean"]) for c in d.by_cluster],
                          [_nan(c["production_mean"]) for c in d.by_cluster])
            right.set_xlabel("cluster")
            right.set_ylabel(f"mean {d.objective} std")
        fig.tight_layout()
        out["disagreement"] = png_base64(fig, dpi=90)
    return out


def _cluster_rows(r: DriftResult) -> list[dict[str, Any]]:
    """One row per cluster with (production, annotation) mean disagreement per objective."""
    if not r.disagreement:
        return []
    under = {c.cluster for c in r.under_covered}
    first = r.disagreement[0].by_cluster
    return [{"cluster": c["cluster"], "n_production": c["n_production"], "n_annotation": c["n_annotation"],
             "under": c["cluster"] in under,
             "means": [(d.by_cluster[i]["production_mean"], d.by_cluster[i]["annotation_mean"])
                       for d in r.disagreement]} for i, c in enumerate(first)]


def write_report(result: DriftResult, path: Path) -> Path:
    """Write a self-contained HTML drift report (plots embedded) and return its path."""
    return _write("drift.html", path, r=result, plots=_plots(result), cluster_rows=_cluster_rows(result))


def _redteam_plot(summary: dict[str, Any]) -> str:
    """Flag rate with Wilson error bars by set, language and scorer, one panel each."""
    plt = pyplot()
    panels = [("set", summary["by_set"]), ("language", summary["by_language"]), ("scorer", summary["by_scorer"])]
    fig, axes = plt.subplots(1, 3, figsize=(12, 0.3 * max(len(g) for _, g in panels) + 1.8), squeeze=False)
    for ax, (label, groups) in zip(axes[0], panels, strict=True):
        names = list(groups)
        rate = np.array([groups[g]["flag_rate"] for g in names])
        err = np.array([[rate[i] - groups[g]["ci_low"], groups[g]["ci_high"] - rate[i]] for i, g in enumerate(names)])
        y = np.arange(len(names))
        ax.barh(y, rate, color="#c0392b", xerr=err.T.clip(0) if len(names) else None, capsize=2)
        ax.set_yticks(y, names)
        ax.set_xlim(0, 1)
        ax.set_xlabel(f"flag rate by {label}")
    fig.tight_layout()  # long group names would run into the neighbouring panel
    return png_base64(fig, dpi=90)


def write_redteam_report(run: RedTeamRun, path: Path, max_rows: int = 500,
                         summary: dict[str, Any] | None = None) -> Path:
    """Write the HTML summary of a red-team run: flag rates with Wilson intervals (tables and a bar plot) and
    the flagged probes, lowest score first (at most `max_rows`); `summary`: `run.summary()` if already computed."""
    s = summary if summary is not None else run.summary()
    flagged = sorted((r for r in run.results if r.flagged), key=lambda r: r.scores[run.flag_objective])
    return _write("redteam.html", path, s=s, plot=_redteam_plot(s), flagged=flagged[:max_rows],
                  n_flagged=len(flagged))
