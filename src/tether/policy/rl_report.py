"""HTML reports of the policy stage's online side: an RL run (loss, rewards, KL, lengths, entropy, samples) and a
policy evaluation (`tether policy eval`: scores per objective, samples). Self-contained: plots embedded as PNG."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tether.report.figures import png_base64

_STYLE = ("body{font-family:sans-serif;max-width:960px;margin:2em auto}th{text-align:left;padding-right:2em}"
          "td{vertical-align:top;padding:2px 8px}table.s td{border-top:1px solid #ddd;font-size:90%}"
          "pre{white-space:pre-wrap;margin:0}")


def _page(title: str, body: str) -> str:
    esc = html.escape
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{esc(title)}</title><style>{_STYLE}</style>'
            f"</head><body><h1>{esc(title)}</h1>{body}</body></html>")


def _img(title: str, fig: Any) -> str:
    t = html.escape(title)
    return f"<h2>{t}</h2><img alt='{t}' src='data:image/png;base64,{png_base64(fig)}'>"


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] \
        if path.is_file() else []


def _panel(rows: list[dict], keys: Sequence[str], ylabel: str) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3))
    for key in keys:
        pts = [(r["step"], r[key]) for r in rows if key in r and r[key] is not None and np.isfinite(r[key])]
        if pts:
            ax.plot(*zip(*pts, strict=True), label=key, lw=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if len(keys) > 1:
        ax.legend(fontsize=8)
    return fig


def _samples_table(samples: list[dict], limit: int = 40) -> str:
    esc = html.escape
    shown = samples[-limit:]
    rows = "".join(
        f"<tr><td>{s.get('step', '')}</td><td><pre>{esc(s['prompt'])}</pre></td><td><pre>{esc(s['completion'])}"
        f"</pre></td><td>{s['reward']:+.3f}</td><td>"
        + esc(", ".join(f"{o} {v:.3f}" for o, v in s.get("scores", {}).items())) + "</td></tr>"
        for s in shown)
    return (f"<h2>Samples (last {len(shown)} of {len(samples)})</h2><table class=s><tr><th>step</th><th>prompt</th>"
            f"<th>completion</th><th>reward</th><th>scores</th></tr>{rows}</table>")


def write_rl_report(run_dir: str | Path, path: str | Path, title: str = "Online RL run") -> Path:
    """The report of a run folder (its metrics.jsonl and samples.jsonl): loss, rewards, KL, lengths, entropy."""
    run_dir, path = Path(run_dir), Path(path)
    rows = _read_jsonl(run_dir / "metrics.jsonl")
    samples = _read_jsonl(run_dir / "samples.jsonl")
    meta_path = run_dir / "tether_rl.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    esc = html.escape
    last = rows[-1] if rows else {}
    facts = [("steps", last.get("step", 0)), ("parent policy", meta.get("parent", "")),
             ("stopped early", meta.get("stopped") or "no")]
    facts += [(k, f"{v:.4g}") for k, v in last.items() if k != "step" and isinstance(v, float)]
    table = "".join(f"<tr><th>{esc(str(k))}</th><td>{esc(str(v))}</td></tr>" for k, v in facts)
    rewards = [k for k in (rows[0] if rows else {}) if k.startswith("reward/")]
    panels = [("Loss", ["loss", "policy_loss", "value_loss"], "loss"),
              ("Reward (weighted objectives, shaped by any constraints) and per objective",
               ["reward", "reward_main", *rewards], "mean score"),
              ("KL to the reference (nats per completion) and its coefficient", ["kl", "kl_k3", "sqrt_kl", "kl_coef"],
               "KL"),
              ("Completion length (tokens)", ["length", "length_max"], "tokens"),
              ("Entropy (nats per token)", ["entropy"], "nats")]
    sigs = sorted({k for r in rows for k in r if k.startswith("sig/")})
    panels.append(("Reward-hacking signatures of the training completions (length: words; hedging, flattery: per 100 "
                   "words; repetition, refusal: shares)", sigs, "value"))
    imgs = "".join(_img(t, _panel(rows, keys, y)) for t, keys, y in panels if any(k in r for r in rows for k in keys))
    guard = _monitor_section(rows, meta.get("monitor")) + _constraints_section(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_page(title, f"<table>{table}</table>{guard}{imgs}{_samples_table(samples)}"), encoding="utf-8")
    return path


def _constraints_section(rows: list[dict]) -> str:
    """Per constraint: its batch-mean cost against the threshold, and its PID multiplier."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({k.split("/")[1] for r in rows for k in r if k.startswith("constraint/") and k.endswith("/lambda")})
    if not names:
        return ""
    fig, axes = plt.subplots(len(names), 2, figsize=(9, 2.6 * len(names)), squeeze=False)
    for (left, right), name in zip(axes, names, strict=True):
        pre = f"constraint/{name}/"
        steps = [r["step"] for r in rows if pre + "cost" in r]
        left.plot(steps, [r[pre + "cost"] for r in rows if pre + "cost" in r], lw=1.2, label="batch mean")
        left.plot(steps, [r[pre + "threshold"] for r in rows if pre + "cost" in r], "--", c="k", lw=1,
                  label="threshold")
        left.set_title(f"{name}", fontsize=9)
        left.legend(fontsize=7)
        right.plot(steps, [r[pre + "lambda"] for r in rows if pre + "cost" in r], c="C3", lw=1.2)
        right.set_title(f"{name}: multiplier (PID)", fontsize=9)
        for ax in (left, right):
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
    fig.tight_layout()
    viol = {n: np.mean([r[f"constraint/{n}/violated"] for r in rows if f"constraint/{n}/violated" in r])
            for n in names}
    table = "".join(f"<tr><th>{html.escape(n)}</th><td>{v:.0%} of steps over the threshold</td></tr>"
                    for n, v in viol.items())
    return _img("Constraints: cost against threshold, and the Lagrange multiplier", fig) + f"<table>{table}</table>"


def _num(x: float | None) -> str:
    return "&infin;" if x is None or not np.isfinite(x) else f"{x:.3g}"


def _monitor_section(rows: list[dict], summary: dict | None) -> str:
    """The over-optimisation monitor: proxy, held-out (and gold) against sqrt(KL) with the Gao fit of the held-out
    gain, the alarm statistic, the events (KL raised, signatures flagged, alarm, rollback) and the fit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tether.policy.gao_fit import curve

    checks = [r for r in rows if "monitor/heldout" in r]
    if not checks:
        return ""
    esc = html.escape
    d = np.array([r["monitor/sqrt_kl"] for r in checks])
    fig, ax = plt.subplots(figsize=(8, 3.5))
    right = ax.twinx()  # the proxy on its own scale: a reward model's z-scores dwarf a gold or judge score
    for key, label, axis, color in (("proxy", "proxy (training evaluator; right axis)", right, "C0"),
                                    ("heldout", "held-out evaluator", ax, "C1"),
                                    ("gold", "gold (truth, not used to decide)", ax, "C2")):
        if all(f"monitor/{key}" in r for r in checks):
            ys = np.array([r[f"monitor/{key}"] for r in checks])
            axis.plot(d, ys - ys[0], marker="o", ms=3, lw=1.2, color=color, label=f"{label}, gain")
    right.set_ylabel("proxy gain")
    last = checks[-1]
    if "monitor/gao/alpha" in last:
        grid = np.linspace(0, max(d.max(), 1e-3) * 1.2, 200)
        ax.plot(grid, curve("rl", grid, last["monitor/gao/alpha"], last["monitor/gao/beta"]), "k--", lw=1,
                label="Gao RL fit of the held-out gain")
        t = last.get("monitor/gao/turnover")
        if t is not None and np.isfinite(t) and t < grid[-1]:
            ax.axvline(t, color="grey", ls=":", label=f"predicted turnover sqrt(KL) {t:.2f}")
    alarms = [r["monitor/sqrt_kl"] for r in checks if r.get("monitor/alarm")]
    if alarms:
        ax.axvline(alarms[0], color="red", lw=1, label="alarm")
    best = [r["monitor/sqrt_kl"] for r in checks if r.get("monitor/is_best")]
    if best:
        ax.axvline(best[-1], color="green", lw=1, label="best check (rollback target)")
    ax.set_xlabel("sqrt(KL) to the reference (nats per completion)")
    ax.set_ylabel("gain over the first check")
    ax.grid(alpha=0.3)
    handles = [h for a in (ax, right) for h in a.get_legend_handles_labels()[0]]
    ax.legend(handles, [h.get_label() for h in handles], fontsize=7)
    stat = _panel(checks, ["monitor/cusum", "monitor/cusum_threshold"], "CUSUM")
    summary = summary or {}
    events = "".join(f"<tr><td>{e['step']}</td><td>{esc(e['event'])}</td><td>{esc(e['why'])}</td></tr>"
                     for e in summary.get("events", []))
    fit = summary.get("fit") or {}
    fit_text = (f"<p>Gao RL fit of the held-out gain, d(&alpha; &minus; &beta; log d): &alpha; = "
                f"{fit['gao/alpha']:.4g} &plusmn; {1.96 * fit['gao/alpha_se']:.2g}, &beta; = {fit['gao/beta']:.4g} "
                f"&plusmn; {1.96 * fit['gao/beta_se']:.2g} (95%); predicted turnover at sqrt(KL) "
                f"{_num(fit['gao/turnover'])} (95% interval {_num(fit['gao/turnover_lo'])}&ndash;"
                f"{_num(fit['gao/turnover_hi'])}; &infin;: no turnover in more than 2.5% of the bootstrap "
                "draws).</p>") if "gao/alpha" in fit else \
        "<p>Too few checks for a Gao fit.</p>"
    best_text = (f"<p>Best check by held-out score: step {summary['best']['step']} (held-out "
                 f"{summary['best']['heldout']:.4f}, sqrt(KL) {summary['best']['sqrt_kl']:.3f}). Alarm: one-sided "
                 f"CUSUM, threshold {summary.get('threshold', float('nan')):.2f} for a false-alarm rate of "
                 f"{summary.get('level')} over {summary.get('horizon')} checks.</p>") if summary.get("best") else ""
    return ("<h2>Over-optimisation monitor</h2>" + best_text + fit_text + _attribution_html(summary.get("attribution"))
            + (f"<table class=s><tr><th>step</th><th>event</th><th>why</th></tr>{events}</table>" if events else
               "<p>No events: no KL raise, no flagged signature, no alarm.</p>")
            + _img("Proxy, held-out and gold gains against sqrt(KL), with the Gao fit", fig)
            + _img("Alarm statistic per check", stat) + _objectives_img(checks))


def _objectives_img(checks: list[dict]) -> str:
    """Per-objective dashboard: each held-out objective's mean per check (where a regression shows first)."""
    keys = sorted({k for r in checks for k in r if k.startswith("monitor/heldout/")})
    if not keys:
        return ""
    return _img("Held-out score per objective, per check", _panel(checks, keys, "held-out score"))


def _attribution_html(att: dict | None) -> str:
    """Which objective (and slice) degraded at the last check (the alarm's, if any): against the best check and
    against the start."""
    if not att:
        return "<p>Which objective degraded: only one check, nothing to compare.</p>"
    from tether.policy.attribution import blame

    parts = [f"<h3>Which objective degraded</h3><p><b>{html.escape(blame(att))}</b>. Paired changes on the same "
             f"held-out prompts at the last check (the alarm's, if any); blamed when z &le; "
             f"&minus;{att['since_start']['z']:g}.</p>"]
    for key, title in (("since_best", "Since the best check"), ("since_start", "Since the start (the reference)")):
        if att.get(key):
            parts.append(_attribution_table(att[key], title))
    return "".join(parts)


def _attribution_table(att: dict, title: str) -> str:
    esc = html.escape
    rows = "".join(f"<tr><td>{esc(r['objective'])}</td><td>{r['weight']:g}</td><td>{r['best']:.4f}</td>"
                   f"<td>{r['now']:.4f}</td><td>{r['change']:+.4f} &plusmn; {1.96 * r['se']:.4f}</td>"
                   f"<td>{r['z']:.1f}</td><td>{r['contribution']:+.4f}</td></tr>" for r in att["objectives"])
    worst = "".join(f"<tr><td>{esc(str(r['slice']))}</td><td>{esc(r['objective'])}</td><td>{r['n']}</td>"
                    f"<td>{r['change']:+.4f}</td><td>{r['z']:.1f}</td></tr>" for r in att["slices"][:6])
    return (f"<p>{title}:</p><table class=s><tr><th>objective</th><th>weight</th><th>then</th><th>now</th>"
            f"<th>change (95%)</th><th>z</th><th>weighted change</th></tr>{rows}</table>"
            + (f"<p>By slice, most degraded first:</p><table class=s><tr><th>slice</th><th>objective</th><th>n</th>"
               f"<th>change</th><th>z</th></tr>"
               f"{worst}</table>" if worst else ""))


@dataclass
class EvalSummary:
    """A policy's scores on a prompt set: per objective mean, std and 95% interval; lengths; a few samples."""

    policy: str
    evaluator: str
    n: int
    means: dict[str, float]
    stds: dict[str, float]
    ci: dict[str, tuple[float, float]]
    mean_words: float
    truncated: int
    samples: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"policy": self.policy, "evaluator": self.evaluator, "n": self.n, "means": self.means,
                "stds": self.stds, "ci95": {o: list(v) for o, v in self.ci.items()}, "mean_words": self.mean_words,
                "truncated": self.truncated}


def summarize(policy: str, evaluator: str, prompts: Sequence[str], texts: Sequence[str],
              scores: dict[str, np.ndarray], truncated: int = 0, n_samples: int = 20) -> EvalSummary:
    """Mean, std and a normal 95% interval of the mean per objective, and the first `n_samples` samples."""
    n = len(texts)
    means = {o: float(np.mean(s)) for o, s in scores.items()}
    stds = {o: float(np.std(s, ddof=1)) if n > 1 else 0.0 for o, s in scores.items()}
    ci = {o: (means[o] - 1.96 * stds[o] / n**0.5, means[o] + 1.96 * stds[o] / n**0.5) for o in scores}
    samples = [{"prompt": p, "completion": t, "reward": float(next(iter(scores.values()))[i]) if scores else 0.0,
                "scores": {o: float(s[i]) for o, s in scores.items()}}
               for i, (p, t) in enumerate(zip(prompts[:n_samples], texts[:n_samples], strict=False))]
    words = float(np.mean([len(t.split()) for t in texts])) if texts else 0.0
    return EvalSummary(policy, evaluator, n, means, stds, ci, words, truncated, samples)


def write_eval_report(summary: EvalSummary, path: str | Path, scores: dict[str, np.ndarray] | None = None,
                      title: str | None = None) -> Path:
    """The report of `tether policy eval`: a table per objective, score histograms, samples."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    esc = html.escape
    rows = "".join(f"<tr><th>{esc(o)}</th><td>{summary.means[o]:.4f}</td><td>{summary.stds[o]:.4f}</td>"
                   f"<td>[{summary.ci[o][0]:.4f}, {summary.ci[o][1]:.4f}]</td></tr>" for o in summary.means)
    head = (f"<p>policy <code>{esc(summary.policy)}</code>, evaluator {esc(summary.evaluator)}, {summary.n} completions"
            f", {summary.mean_words:.1f} words on average, {summary.truncated} prompts cut to fit the context.</p>"
            f"<table><tr><th>objective</th><th>mean</th><th>std</th><th>95% interval of the mean</th></tr>{rows}"
            "</table>")
    imgs = ""
    if scores:
        fig, ax = plt.subplots(figsize=(8, 3))
        for o, s in scores.items():
            ax.hist(np.asarray(s, dtype=float), bins=30, alpha=0.5, label=o)
        ax.set_xlabel("score")
        ax.set_ylabel("completions")
        ax.legend(fontsize=8)
        imgs = _img("Scores per objective", fig)
    samples = [{**s, "step": ""} for s in summary.samples]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_page(title or f"Policy evaluation: {Path(summary.policy).name}",
                          head + imgs + _samples_table(samples)), encoding="utf-8")
    return path
