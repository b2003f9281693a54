"""The HTML drift report: verdict, the two tests, coverage by cluster and language, plots inlined as PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from jinja2 import Environment, select_autoescape

from tether.report.figures import png_base64
from tether.shift.drift import DriftResult

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tether drift report</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
.bad{color:#b00020;font-weight:bold}.ok{color:#2e7d32;font-weight:bold}img{max-width:100%}
.ex{font-size:0.9em;color:#444}
</style></head><body>
<h1>Drift report</h1>
<p>{{ r.n_annotation }} annotation prompts vs {{ r.n_production }} production prompts; alpha {{ r.alpha }}.</p>
<p>Verdict: {% if r.drift %}<span class="bad">production differs from the annotation set</span>
{% else %}<span class="ok">no significant difference</span>{% endif %}
(either test below alpha/2, Bonferroni over two tests).</p>
<h2>Two-sample tests</h2>
<table><tr><th>test</th><th>statistic</th><th>p-value</th></tr>
<tr><td>MMD, Gaussian kernel via random Fourier features, permutation null</td><td>{{ "%.3g"|format(r.mmd) }}</td>
<td>{{ "%.4f"|format(r.mmd_pvalue) }}</td></tr>
<tr><td>Classifier two-sample test (logistic regression, held-out AUC, Mann-Whitney)</td>
<td>AUC {{ "%.3f"|format(r.c2st_auc) }}</td><td>{{ "%.3g"|format(r.c2st_pvalue) }}</td></tr></table>
<img alt="MMD null distribution" src="data:image/png;base64,{{ plots.null }}">
<h2>Where production goes that annotation does not</h2>
<img alt="embeddings, first two principal components" src="data:image/png;base64,{{ plots.scatter }}">
{% if r.under_covered %}
<table><tr><th>cluster</th><th>production share</th><th>annotation share</th><th>example production prompts</th></tr>
{% for c in r.under_covered %}<tr><td>{{ c.cluster }}</td><td>{{ "%.1f%%"|format(100*c.production_share) }}</td>
<td>{{ "%.1f%%"|format(100*c.annotation_share) }}</td>
<td class="ex">{% for e in c.examples %}<div>{{ e[:300] }}</div>{% endfor %}</td></tr>{% endfor %}</table>
{% else %}<p>No cluster is under-covered (production share at least twice the annotation share).</p>{% endif %}
<img alt="share per cluster" src="data:image/png;base64,{{ plots.clusters }}">
<h2>Languages</h2>
<table><tr><th>language</th><th>production</th><th>annotation</th></tr>
{% for l in r.languages[:20] %}<tr><td>{{ l.language }}</td><td>{{ l.production }}
({{ "%.1f%%"|format(100*l.production_share) }})</td><td>{{ l.annotation }}
({{ "%.1f%%"|format(100*l.annotation_share) }})</td></tr>{% endfor %}</table>
<img alt="share per language" src="data:image/png;base64,{{ plots.languages }}">
</body></html>
"""


def _plots(r: DriftResult) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.bar(x - 0.2, [c.annotation_share for c in rows], 0.4, label="annotation")
    ax.bar(x + 0.2, [c.production_share for c in rows], 0.4, label="production")
    ax.set_xticks(x, [str(c.cluster) for c in rows])
    ax.set_xlabel("cluster")
    ax.set_ylabel("share")
    ax.legend()
    out["clusters"] = png_base64(fig, dpi=90)
    langs = r.languages[:12]
    x = np.arange(len(langs))
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.bar(x - 0.2, [float(lg["annotation_share"]) for lg in langs], 0.4, label="annotation")
    ax.bar(x + 0.2, [float(lg["production_share"]) for lg in langs], 0.4, label="production")
    ax.set_xticks(x, [str(lg["language"]) for lg in langs])
    ax.set_ylabel("share")
    ax.legend()
    out["languages"] = png_base64(fig, dpi=90)
    return out


def write_report(result: DriftResult, path: Path) -> Path:
    """Write a self-contained HTML report (plots embedded) and return its path."""
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    html = env.from_string(_TEMPLATE).render(r=result, plots=_plots(result))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
