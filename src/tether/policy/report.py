"""A policy training run as people read it: a self-contained HTML report (plots embedded as base64 PNG) with the
loss, implicit rewards and margins, reward accuracy, chosen / rejected log-prob curves, likelihood displacement and
sample answers before and after training."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tether.report.figures import png_base64

CURVES = (  # title, metrics keys (one line each), y label
    ("Loss", ("loss",), "loss"),
    ("Implicit rewards and margin", ("chosen_reward", "rejected_reward", "margin"), "beta x log-ratio"),
    ("Reward accuracy", ("accuracy",), "share of pairs with chosen reward > rejected (ties left out)"),
    ("Log-probs of the answers", ("logp_chosen", "logp_rejected"), "nats per answer"),
    ("Log-ratios to the reference", ("logratio_chosen", "logratio_rejected"), "nats per answer (both < 0: "
                                                                              "displacement)"),
)


def read_metrics(out_dir: str | Path) -> list[dict[str, Any]]:
    """The rows of a run's metrics.jsonl."""
    path = Path(out_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _smooth(values: Sequence[float], k: int) -> list[float]:
    out, acc = [], []
    for v in values:
        acc.append(v)
        acc = acc[-k:]
        out.append(sum(acc) / len(acc))
    return out


def _plots(rows: list[dict[str, Any]], displacement: dict | None) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = max(1, len(rows) // 25)  # a moving average over ~4% of the run; the raw values are faint behind it
    out = []
    for title, keys, ylabel in CURVES:
        present = [key for key in keys if any(key in r for r in rows)]
        if not present:
            continue
        fig, ax = plt.subplots(figsize=(7, 3.2))
        for key in present:
            pts = [(r["step"], r[key]) for r in rows if key in r]
            steps, values = zip(*pts, strict=True)
            line, = ax.plot(steps, _smooth(values, k), label=key)
            if k > 1:
                ax.plot(steps, values, color=line.get_color(), alpha=0.25, linewidth=0.8)
        if displacement is not None and title.startswith("Log-ratios"):
            ax.axvline(displacement["step"], color="#c0392b", linestyle="--", label="displacement flagged")
        if title.startswith("Log-ratios"):
            ax.axhline(0.0, color="black", linewidth=0.6)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(ylabel)
        ax.legend(loc="best", fontsize=8)
        out.append((title, png_base64(fig)))
    return out


def write_report(out_dir: str | Path, path: str | Path | None = None, *, title: str | None = None,
                 samples: Sequence[dict] | None = None) -> Path:
    """The HTML report of the run saved in `out_dir` (its metrics.jsonl and tether_policy.json), to `path`
    (default `<out_dir>/report.html`). `samples`: [{prompt, before, after}] answers to show."""
    out_dir = Path(out_dir)
    path = Path(path) if path else out_dir / "report.html"
    meta_file = out_dir / "tether_policy.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
    result, cfg = meta.get("result", {}), meta.get("train_config", {})
    rows = read_metrics(out_dir)
    esc = html.escape
    stage = str(meta.get("stage", "policy")).upper()
    facts = [("reference (parent)", meta.get("parent") or "-"), ("objective", result.get("objective", "-")),
             ("loss", cfg.get("loss", "-")), ("beta", cfg.get("beta", "-")),
             ("pairs (ties)", f"{result.get('n_pairs', '-')} ({result.get('n_ties', '-')})"),
             ("steps", result.get("steps", "-")), ("seconds", f"{result.get('seconds', 0):.1f}"),
             ("final loss", f"{result.get('final_loss', float('nan')):.4f}"),
             ("final reward accuracy", f"{result.get('final_accuracy', float('nan')):.3f}"),
             ("reference log-probs", "read from the cache" if result.get("ref_from_cache") else "computed")]
    table = "".join(f"<tr><th>{esc(str(k))}</th><td>{esc(str(v))}</td></tr>" for k, v in facts)
    disp = result.get("displacement")
    warn = (f"<p class=fail>Warning: {esc(disp['message'])}</p>" if disp else
            "<p class=ok>No likelihood displacement flagged (chosen and rejected log-probs did not both fall).</p>")
    imgs = "".join(f"<h2>{esc(t)}</h2><img alt='{esc(t)}' src='data:image/png;base64,{b}'>"
                   for t, b in _plots(rows, disp))
    sample_rows = "".join(f"<tr><td>{esc(s['prompt'])}</td><td>{esc(s['before'])}</td><td>{esc(s['after'])}</td></tr>"
                          for s in samples or [])
    sample_html = ("<h2>Samples (greedy)</h2><table class=s><tr><th>prompt</th><th>before</th><th>after</th></tr>"
                   f"{sample_rows}</table>") if sample_rows else ""
    name = title or f"{stage} run: {out_dir.name}"
    path.write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>{esc(name)}</title>
<style>body{{font-family:sans-serif;max-width:900px;margin:2em auto}}th{{text-align:left;padding-right:2em}}
.ok{{color:#080}}.fail{{color:#b00;font-weight:bold}}table.s td{{vertical-align:top;border-top:1px solid #ccc;
padding:4px}}</style></head><body><h1>{esc(name)}</h1><table>{table}</table>{warn}{imgs}{sample_html}
</body></html>""", encoding="utf-8")
    return path
