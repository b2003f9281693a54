"""The audit as people read it: a rich summary on the terminal and a self-contained HTML report."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from tether.audit.audit import AuditResult
from tether.report.figures import png_base64, pyplot

# What curation does with a blocked task type's pairs, and the measurement behind it (benchmarks/RESULTS.md).
BLOCKED_IN_TRAINING = (
    "In reward training: blocked task types stay out of scaling, but their pairs are worth keeping. "
    "`tether curate --include-blocked` keeps them at weight alpha/threshold (with `--weights posterior`, "
    "times how sure each item's posterior is); in the simulated world, where raters who cannot read Spanish "
    "block the Spanish task types, reward models trained without those pairs lost 2.7 points of gold "
    "accuracy overall and 14.9 on those task types (fine-tuned, 3 seeds). Re-annotating them with matched "
    "raters is the real fix.")


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _print_kinds(d: dict[str, Any], console: Console) -> None:
    """Agreement among humans, among AI raters and all together, and each AI rater against the human majority."""
    kinds = d["agreement"]["by_rater_kind"]
    shown = [f"{kind} {_fmt(e['value'])} ({e['n_items']} items)" for kind, e in kinds.items()]
    console.print(f"AI raters: {', '.join(d['ai_raters'])}. Krippendorff's alpha between raters: "
                  f"{'; '.join(shown)}. The 0.4 rule ran on "
                  f"{'human raters only' if d['rule_raters'] == 'human' else 'all raters'} (rule_raters = "
                  f"{d['rule_raters']!r}).", highlight=False)
    for name in d["ai_raters"]:
        m = d["raters"][name]["human_majority"]
        console.print(f"  {name}: agrees with the human majority on {_fmt(m['rate'])} of {m['n_items']} judgments "
                      f"(alpha {_fmt(m['alpha'])})", highlight=False)


def print_summary(result: AuditResult, console: Console, max_rows: int = 25) -> None:
    """Agreement per task type with the verdict, position bias per rater, rater reliability."""
    d = result.to_dict()
    console.print(f"[bold]{d['n_judgments']}[/] judgments of [bold]{d['n_items']}[/] items by "
                  f"[bold]{d['n_raters']}[/] raters")
    table = Table(title="agreement by task type (Krippendorff's alpha, nominal, every judgment; the 0.4 rule compares "
                        "judgments of different raters: 'all' = all raters, 'qualified' = raters qualified on held-out "
                        "items)", title_justify="left")
    table.add_column("task type", min_width=12, overflow="fold")
    for col in ("items", "alpha", "95% CI", "Fleiss", "AC1", "all", "qualified", "verdict"):
        table.add_column(col, justify="left" if col == "verdict" else "right")
    styles = {"ambiguous": "bold red", "insufficient": "yellow", "unreliable-raters": "magenta",
              "self-consistency": "yellow"}
    for task_type, verdict in d["task_types"].items():
        a = d["agreement"]["by_task_type"][task_type]
        alpha = a["krippendorff_alpha_nominal"]
        table.add_row(task_type, str(a["n_items"]), _fmt(alpha["value"], 2),
                      f"{_fmt(alpha['ci_low'], 2)}–{_fmt(alpha['ci_high'], 2)}", _fmt(a["fleiss_kappa"]["value"], 2),
                      _fmt(a["gwet_ac1"]["value"], 2), _fmt(verdict["alpha_all"], 2),
                      _fmt(verdict["alpha_qualified"], 2),
                      f"[{styles.get(verdict['status'], 'green')}]{verdict['status']}[/]")
    console.print(table)
    for task_type in d["blocked_task_types"]:
        v = d["task_types"][task_type]
        console.print(f"[bold red]ambiguous rubric:[/] [bold]{task_type}[/]: {v['message']}", highlight=False)
        for ex in v["disputed"][:3]:
            votes = ", ".join(f"{k} {n}" for k, n in ex["votes"].items())
            console.print(f"  disputed ({votes}): {ex['prompt'][:100]!r}", highlight=False)
    for task_type, v in d["task_types"].items():
        if v["status"] in ("unreliable-raters", "self-consistency"):
            console.print(f"[{styles[v['status']]}]{v['status']}:[/] [bold]{task_type}[/]: {v['message']}",
                          highlight=False)
    pos = d["position"]["overall"]
    if pos["n"]:
        console.print(f"first-position rate {_fmt(pos['rate'])} (95% CI {_fmt(pos['wilson_low'])} to "
                      f"{_fmt(pos['wilson_high'])}, p = {pos['p_value']:.3g}, {pos['ties']} ties excluded)")
    if d["ai_raters"]:
        _print_kinds(d, console)
    table = Table(title="raters (rel. = reliability, 1st = first-position rate, swap = swap consistency, "
                        "fav = favoured position, verb. = verbosity preference, maj. = agreement with the human "
                        "majority)", title_justify="left")
    table.add_column("rater", min_width=12, overflow="fold")
    for col in ("kind", "n", "rel.", "1st", "p", "swap", "fav 1st", "fav 2nd", "verb.", "maj.", "spam", "flag"):
        table.add_column(col, justify="left" if col in ("kind", "flag") else "right")
    rows = sorted(d["raters"].items(), key=lambda kv: (kv[1]["reliability"] is None, kv[1]["reliability"] or 0))
    for name, r in rows[:max_rows]:
        p = d["position"]["by_rater"].get(name, {})
        table.add_row(name, r["kind"], str(r["n_judgments"]), _fmt(r["reliability"], 2), _fmt(p.get("rate"), 2),
                      "—" if p.get("p_value") is None else f"{p['p_value']:.1g}",
                      _fmt(p.get("swap_consistency"), 2), _fmt(p.get("favoured_first"), 2),
                      _fmt(p.get("favoured_second"), 2), _fmt(r["verbosity_preference"], 2),
                      _fmt(r["human_majority"]["rate"], 2), "yes" if r["spammer"] else "",
                      "[bold red]display order[/]" if r["flags"] else "")
    if len(rows) > max_rows:
        table.add_row(f"... {len(rows) - max_rows} more (least reliable shown)", *[""] * 12)
    console.print(table)
    flagged = [(name, r) for name, r in d["raters"].items() if r["flags"]]
    for name, r in flagged[:max_rows]:
        console.print(f"[bold red]flagged:[/] {r['kind']} rater [bold]{name}[/] {'; '.join(r['flags'])}",
                      highlight=False)
    if len(flagged) > max_rows:
        console.print(f"... {len(flagged) - max_rows} more raters flagged (see the JSON or HTML report)")
    if d["blocked_task_types"]:
        console.print(f"[bold red]blocked for scaling:[/] {', '.join(d['blocked_task_types'])}")
        console.print(BLOCKED_IN_TRAINING, markup=False, highlight=False)
    else:
        console.print("[green]no task type blocked[/]")


# -- HTML ----------------------------------------------------------------------------------------------


def _plots(d: dict[str, Any], threshold: float) -> dict[str, str]:
    plt = pyplot()

    out: dict[str, str] = {}
    tasks = list(d["agreement"]["by_task_type"])
    if tasks:
        vals = [d["agreement"]["by_task_type"][t]["krippendorff_alpha_nominal"] for t in tasks]
        v = np.array([np.nan if x["value"] is None else x["value"] for x in vals])
        lo = np.array([np.nan if x["ci_low"] is None else x["ci_low"] for x in vals])
        hi = np.array([np.nan if x["ci_high"] is None else x["ci_high"] for x in vals])
        fig, ax = plt.subplots(figsize=(7, 0.35 * len(tasks) + 1.2))
        y = np.arange(len(tasks))
        colors = ["#c0392b" if t in d["blocked_task_types"] else "#2c7fb8" for t in tasks]
        ax.barh(y, np.nan_to_num(v), color=colors)
        err = np.vstack([np.nan_to_num(v - lo), np.nan_to_num(hi - v)])
        ax.errorbar(np.nan_to_num(v), y, xerr=np.clip(err, 0, None), fmt="none", ecolor="black", capsize=2)
        rule = np.array([np.nan if d["task_types"][t]["alpha"] is None else d["task_types"][t]["alpha"] for t in tasks])
        ax.scatter(rule, y, marker="D", color="black", zorder=3, label="alpha the rule used")
        ax.axvline(threshold, color="black", linestyle="--", label=f"{threshold} rule")
        ax.set_yticks(y, tasks)
        ax.set_xlabel("Krippendorff's alpha (nominal), all raters, 95% bootstrap CI (red: blocked)")
        ax.legend(loc="lower right")
        out["agreement"] = "data:image/png;base64," + png_base64(fig)
    raters = [(n, p) for n, p in d["position"]["by_rater"].items() if p.get("rate") is not None]
    raters = sorted(raters, key=lambda kv: kv[1]["rate"])[-40:]
    if raters:
        fig, ax = plt.subplots(figsize=(7, 0.3 * len(raters) + 1.2))
        y = np.arange(len(raters))
        rate = np.array([p["rate"] for _, p in raters])
        lo = np.array([p["wilson_low"] for _, p in raters])
        hi = np.array([p["wilson_high"] for _, p in raters])
        ax.errorbar(rate, y, xerr=np.vstack([rate - lo, hi - rate]), fmt="o", capsize=2)
        ax.axvline(0.5, color="black", linestyle="--")
        ax.set_yticks(y, [n for n, _ in raters])
        ax.set_xlabel("first-position rate (ties excluded), 95% Wilson interval")
        out["position"] = "data:image/png;base64," + png_base64(fig)
    rel = [(n, r["reliability"]) for n, r in d["raters"].items() if r["reliability"] is not None]
    rel = sorted(rel, key=lambda kv: kv[1])[:40]
    if rel:
        fig, ax = plt.subplots(figsize=(7, 0.3 * len(rel) + 1.2))
        ax.barh(np.arange(len(rel)), [v for _, v in rel], color="#41ab5d")
        ax.set_yticks(np.arange(len(rel)), [n for n, _ in rel])
        ax.set_xlim(0, 1)
        ax.set_xlabel("reliability (chance-corrected Dawid–Skene accuracy)")
        out["reliability"] = "data:image/png;base64," + png_base64(fig)
    return out


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(result: AuditResult) -> str:
    """The audit as one self-contained HTML page (plots embedded as base64 PNGs)."""
    d = result.to_dict()
    plots = _plots(d, result.config.block_threshold)
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>Tether annotation audit</title><style>",
             "body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
             "font-size:13px}th{background:#f3f3f3}.bad{color:#b00;font-weight:bold}.ex{background:#fafafa;"
             "border-left:3px solid #c0392b;padding:.5em;margin:.5em 0;white-space:pre-wrap;font-size:13px}",
             "</style></head><body><h1>Annotation audit</h1>",
             f"<p>{d['n_judgments']} judgments of {d['n_items']} items by {d['n_raters']} raters. "
             f"Primary agreement metric: Krippendorff's alpha (nominal). The 0.4 rule compares judgments of "
             f"different raters (a rater's repeated judgment is self-consistency, not agreement). A task type "
             f"whose alpha between all raters is below {d['block_threshold']} is blocked as an ambiguous rubric "
             f"unless the raters qualified on items held out from that alpha (cross-fitting, and gold) agree and "
             f"the raters left out show signs of carelessness of their own (position preference, flipping with "
             f"the display order, gold accuracy): then the verdict is 'unreliable-raters', naming them. Careful "
             f"raters who disagree keep the rubric blocked. One rater judging each item twice gives "
             f"'self-consistency', never a block.</p>"]
    if d["blocked_task_types"]:
        parts.append(f"<p class='bad'>Blocked task types: {html.escape(', '.join(d['blocked_task_types']))}</p>")
        parts.append(f"<p>{html.escape(BLOCKED_IN_TRAINING)}</p>")
    else:
        parts.append("<p>No task type is blocked.</p>")
    for section in (_agreement_section, _kinds_section, _position_section, _reliability_section):
        parts.extend(section(d, plots))
    parts.append("</body></html>")
    return "".join(parts)


def _agreement_section(d: dict[str, Any], plots: dict[str, str]) -> list[str]:
    """Agreement per task type, the blocked rubrics' disputed examples, Cohen's kappa per pair."""
    parts = ["<h2>Agreement by task type</h2>"]
    if "agreement" in plots:
        parts.append(f"<img alt='agreement by task type' src='{plots['agreement']}'>")
    rows = []
    for t, a in d["agreement"]["by_task_type"].items():
        v = d["task_types"][t]
        rows.append([t, a["n_items"], a["krippendorff_alpha_nominal"]["value"],
                     a["krippendorff_alpha_nominal"]["ci_low"], a["krippendorff_alpha_nominal"]["ci_high"],
                     a["krippendorff_alpha_ordinal"]["value"], a["fleiss_kappa"]["value"], a["gwet_ac1"]["value"],
                     a["cohens_kappa"]["value"], v["alpha_all"], v["alpha_qualified"], v["alpha"], v["basis"],
                     v["status"]])
    parts.append(_table(["task type", "items", "alpha", "CI low", "CI high", "alpha (ordinal)", "Fleiss",
                         "AC1", "mean Cohen", "rule: all raters", "rule: qualified", "rule alpha", "rule basis",
                         "verdict"], rows))
    for t in d["blocked_task_types"]:
        v = d["task_types"][t]
        parts.append(f"<h3 class='bad'>Ambiguous rubric: {html.escape(t)}</h3><p>{html.escape(v['message'])}</p>")
        parts.extend(_excluded(v))
        for ex in v["disputed"]:
            votes = ", ".join(f"{k}: {n}" for k, n in ex["votes"].items())
            parts.append(f"<div class='ex'><b>{html.escape(ex['pair_id'])}</b> ({html.escape(votes)})\n"
                         f"<b>prompt</b> {html.escape(ex['prompt'][:600])}\n<b>a</b> "
                         f"{html.escape(ex['response_a'][:400])}\n<b>b</b> {html.escape(ex['response_b'][:400])}"
                         "</div>")
    for t, v in d["task_types"].items():
        if v["status"] in ("unreliable-raters", "self-consistency"):
            title = "Unreliable raters" if v["status"] == "unreliable-raters" else "Self-consistency only"
            parts.append(f"<h3>{title}: {html.escape(t)}</h3><p>{html.escape(v['message'])}</p>")
            parts.extend(_excluded(v))
    pairs = d["agreement"]["overall"]["cohens_kappa"]["pairs"]
    if pairs:
        parts.append("<h2>Cohen's kappa per rater pair (all task types)</h2>")
        parts.append(_table(["rater", "rater", "shared items", "kappa", "CI low", "CI high"],
                            [[p["rater_a"], p["rater_b"], p["n_items"], p["value"], p["ci_low"], p["ci_high"]]
                             for p in pairs[:200]]))
    return parts


def _kinds_section(d: dict[str, Any], _plots: dict[str, str]) -> list[str]:
    """Human and AI raters: agreement within each kind and together, each rater against the human majority,
    and the display-order flags (one test for every rater)."""
    rule = "human raters only" if d["rule_raters"] == "human" else "all raters, AI raters included"
    parts = ["<h2>Human and AI raters</h2><p>AI raters: "
             f"{html.escape(', '.join(d['ai_raters']) or 'none')} (interface llm-judge, kind 'ai' in the store, "
             f"or named in the audit config). The 0.4 rule ran on {rule}. Krippendorff's alpha (nominal) between "
             "different raters of each kind:</p>"]
    parts.append(_table(["raters", "alpha", "CI low", "CI high", "items"],
                        [[k, e["value"], e["ci_low"], e["ci_high"], e["n_items"]]
                         for k, e in d["agreement"]["by_rater_kind"].items()]))
    parts.append(_table(["rater", "kind", "judgments", "agrees with human majority", "alpha vs human majority",
                         "compared", "flags"],
                        [[n, r["kind"], r["n_judgments"], r["human_majority"]["rate"], r["human_majority"]["alpha"],
                          r["human_majority"]["n_items"], "; ".join(r["flags"]) or "—"]
                         for n, r in d["raters"].items()]))
    return parts


def _excluded(v: dict[str, Any]) -> list[str]:
    """The raters a verdict left out of its qualified alpha, with the evidence about each."""
    if not v.get("excluded_raters"):
        return []
    return [_table(["rater left out", "judgments", "held-out reliability", "signs of carelessness", "signs of care"],
                   [[e["rater"], e["n_judgments"], e["held_out_reliability"], "; ".join(e["careless"]) or "—",
                     "; ".join(e["careful"]) or "—"] for e in v["excluded_raters"]])]


def _position_section(d: dict[str, Any], plots: dict[str, str]) -> list[str]:
    """First-position rates overall, per rater (with swap consistency) and per interface / campaign / batch."""
    pos = d["position"]
    parts = ["<h2>Position bias</h2><p>First-position rate: share of non-tie judgments that picked the "
             "response shown first (0.5 = no bias), exact binomial test, Wilson interval.</p>"]
    if "position" in plots:
        parts.append(f"<img alt='position bias per rater' src='{plots['position']}'>")
    rows = [["overall", pos["overall"]["n"], pos["overall"]["rate"], pos["overall"]["wilson_low"],
             pos["overall"]["wilson_high"], pos["overall"]["p_value"], None, None, None]]
    for name, p in pos["by_rater"].items():
        rows.append([name, p.get("n"), p.get("rate"), p.get("wilson_low"), p.get("wilson_high"), p.get("p_value"),
                     p.get("swap_consistency"), p.get("favoured_first"), p.get("favoured_second")])
    parts.append(_table(["rater", "non-tie", "rate", "low", "high", "p", "swap consistency", "favoured first",
                         "favoured second"], rows))
    for kind in ("interface", "campaign", "batch"):
        groups = pos.get(f"by_{kind}", {})
        if groups:
            parts.append(f"<h3>by {kind}</h3>")
            parts.append(_table([kind, "non-tie", "rate", "low", "high", "p"],
                                [[k, v["n"], v["rate"], v["wilson_low"], v["wilson_high"], v["p_value"]]
                                 for k, v in groups.items()]))
    return parts


def _reliability_section(d: dict[str, Any], plots: dict[str, str]) -> list[str]:
    """Per-rater reliability and the label models' numbers behind it."""
    parts = ["<h2>Rater reliability</h2><p>Reliability: chance-corrected Dawid–Skene accuracy (0 = no better "
             "than chance, 1 = always right), shrunk toward gold accuracy where gold exists; MACE spammers "
             "get 0.</p>"]
    if "reliability" in plots:
        parts.append(f"<img alt='rater reliability' src='{plots['reliability']}'>")
    parts.append(_table(["rater", "judgments", "reliability", "DS accuracy", "one-coin skill", "MACE competence",
                         "consensus agreement", "gold n", "gold accuracy", "verbosity preference"],
                        [[n, r["n_judgments"], r["reliability"], r["ds_accuracy"], r["one_coin_skill"],
                          r["mace_competence"], r["consensus_agreement"], r["gold_n"], r["gold_accuracy"],
                          r["verbosity_preference"]] for n, r in d["raters"].items()]))
    return parts


def write_html(result: AuditResult, path: Path) -> Path:
    """Write the HTML report (folders created as needed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result), encoding="utf-8")
    return path
