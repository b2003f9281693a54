"""The over-optimisation study's one HTML report: per seed, the best-of-n curves with Gao's fit, the unguarded run's
proxy / held-out / gold against sqrt(KL) with each stop rule's point, and the tables; across seeds, the summary."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from tether.report.figures import png_base64, pyplot

_STYLE = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto}td,th{padding:2px 10px;text-align:left}"
          "table{border-collapse:collapse}tr{border-top:1px solid #ddd}img{max-width:100%;height:auto}")
RULE_NAMES = {"heldout": "held-out reward model (the guarded arm: gold hidden)",
              "heldout_1se": "held-out reward model, rollback by the one-SE rule (gold hidden)",
              "gold": "gold as the evaluator", "human": "simulated human sample per check"}
RULE_COLORS = {"heldout": "tab:orange", "heldout_1se": "tab:brown", "gold": "tab:green", "human": "tab:purple"}


def _num(x: Any, fmt: str = "{:+.4f}") -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "—"
    return fmt.format(x)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _img(fig: Any, alt: str) -> str:
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{png_base64(fig)}'>"


def bon_figure(bon: dict[str, Any]) -> Any:
    """Gold (and the oracle's), proxy and held-out of the proxy's best-of-n pick against sqrt(KL); Gao's fit."""
    plt = pyplot()
    c, d = bon["curves"], np.array(bon["sqrt_kl"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax1.plot(d, np.array(c["gold"]) - c["gold"][0], "o-", label="gold gain (proxy's pick)")
    ax1.plot(d, np.array(c["oracle_gold"]) - c["gold"][0], "s--", color="grey", label="gold gain (gold's pick)")
    fit = bon["fit"]
    if "alpha" in fit:
        grid = np.linspace(0, d.max(), 50)
        ax1.plot(grid, grid * (fit["alpha"] - fit["beta"] * grid), ":", color="tab:blue", label="Gao best-of-n fit")
    ax1.set_xlabel("sqrt(KL), KL = log n - (n-1)/n")
    ax1.set_ylabel("gold gain over n = 1")
    ax1.legend(fontsize=8)
    for key, color in (("proxy", "tab:red"), ("heldout", "tab:orange")):
        ax2.plot(d, np.array(c[key]) - c[key][0], "o-", color=color, label=f"{key} RM (z)")
    ax2.set_xlabel("sqrt(KL)")
    ax2.set_ylabel("reward-model gain over n = 1")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def rl_figure(rl: dict[str, Any]) -> Any:
    """Proxy, held-out and gold (gains over the start policy) against sqrt(KL); each stop rule's kept check."""
    plt = pyplot()
    c = rl["curve"]
    d = np.array(c["sqrt_kl"])
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    panels = (("proxy_gain", "proxy RM gain (z)", "tab:red"), ("heldout_gain", "held-out RM gain (z)", "tab:orange"),
              ("gold_gain", "gold gain", "tab:blue"))
    for ax, (key, label, color) in zip(axes, panels, strict=True):
        ax.plot(d, c[key], "o-", color=color, markersize=3)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("sqrt(KL) to the start policy")
        ax.set_ylabel(label)
    for name, rule in rl["stop_rules"].items():
        axes[2].axvline(rule["kept_sqrt_kl"], color=RULE_COLORS[name], ls="--", lw=1,
                        label=f"kept by {name} (step {rule['kept_step']})")
    fit = rl["fits"].get("heldout_at_stop", {})
    if "alpha" in fit:
        from tether.policy.gao_fit import curve

        grid = np.linspace(1e-3, d.max(), 60)
        axes[1].plot(grid, curve("rl", grid, fit["alpha"], fit["beta"]), ":", color="k", label="Gao RL fit at stop")
        axes[1].legend(fontsize=7)
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    return fig


def seed_section(m: dict[str, Any]) -> str:
    """One seed: labels, best-of-n, the unguarded run, the stop rules, the turnover."""
    bon, rl = m["best_of_n"], m["rl"]
    labels = _table(["reward model", "training pairs", "raters' agreement with gold", "accuracy vs gold on the "
                     "other pool's pairs"],
                    [[pool, str(v["pairs"]), _num(v["rater_gold_agreement"], "{:.3f}"),
                      _num(v["rm_gold_accuracy_other_pool"], "{:.3f}")] for pool, v in m["labels"].items()])
    c = bon["curves"]
    bon_rows = [[str(n), _num(kl, "{:.3f}"), _num(g, "{:.4f}"), _num(o, "{:.4f}"), _num(p, "{:+.3f}")]
                for n, kl, g, o, p in zip(c["n"], c["kl"], c["gold"], c["oracle_gold"], c["proxy"], strict=True)]
    fit = bon["fit"]
    fit_text = (f"Gao best-of-n fit of the gold gain: alpha {_num(fit.get('alpha'))} ± "
                f"{_num(fit.get('alpha_se'), '{:.4f}')}, beta {_num(fit.get('beta'))} ± "
                f"{_num(fit.get('beta_se'), '{:.4f}')}, turnover sqrt(KL) "
                f"{_num(fit.get('turnover'), '{:.3f}')} [{_num(fit.get('turnover_lo'), '{:.3f}')}, "
                f"{_num(fit.get('turnover_hi'), '{:.3f}')}]" if "alpha" in fit else f"Gao fit: {fit.get('error')}")
    corr = bon["corr_proxy_gold"]
    rules = _table(["stop rule", "alarm at step", "kept check (step)", "sqrt(KL) kept", "gold gain kept",
                    "share of the unguarded best gain"],
                   [[RULE_NAMES[k], str(r["alarm_step"]) if r["alarm_step"] is not None else "none (ran to the end)",
                     str(r["kept_step"]), _num(r["kept_sqrt_kl"], "{:.3f}"), _num(r["gold_gain"]),
                     _num(r["share_of_best_gain"], "{:.0%}")] for k, r in rl["stop_rules"].items()])
    t = rl["turnover"]
    best = rl["best_gold"]
    return "".join([
        f"<h2>Seed {m['seed']}</h2><h3>Reward models on the start policy's own samples</h3>", labels,
        f"<h3>Best-of-n with the proxy ({bon['prompts']} prompts x {bon['samples_per_prompt']} samples)</h3>",
        f"<p>Proxy-gold correlation over samples {_num(corr['overall'], '{:+.3f}')} (within prompts "
        f"{_num(corr['within_prompts'], '{:+.3f}')}); held-out-gold "
        f"{_num(bon['corr_heldout_gold']['overall'], '{:+.3f}')}."
        f" {html.escape(fit_text)}.</p>", _img(bon_figure(bon), "best-of-n curves"),
        _table(["n", "KL", "gold (proxy's pick)", "gold (gold's pick)", "proxy (z)"], bon_rows),
        f"<h3>Unguarded RL against the proxy (no KL, no stop; {rl['steps']} steps)</h3>",
        f"<p>Gold gain: best {_num(best['gain'])} at step {best['step']} (sqrt(KL) {best['sqrt_kl']:.3f}), final "
        f"{_num(rl['final_gold_gain'])} (drop from the best {_num(rl['drop_from_best'])}); proxy gain at the end "
        f"{_num(rl['final_proxy_gain'], '{:+.3f}')}. Gao RL fit of the held-out gain up to the stop: predicted "
        f"turnover sqrt(KL) {_num(t['predicted'], '{:.3f}')} [{_num(t['predicted_lo'], '{:.3f}')}, "
        f"{_num(t['predicted_hi'], '{:.3f}')}]; actual (gold's best check) {t['actual']:.3f}.</p>",
        _img(rl_figure(rl), "proxy, held-out and gold against sqrt(KL)"), "<h3>Stop rules on this run</h3>", rules,
        ensemble_section(rl.get("ensemble_diagnostics")), gold_reward_section(m.get("rl_gold_reward"))])


def ensemble_section(diags: list[dict[str, Any]] | None) -> str:
    """Per check of an ensemble proxy's run: does the members' spread mark the answers the proxy overrates?"""
    if not diags:
        return ""
    rows = [[str(d["step"]), _num(d["sqrt_kl"], "{:.2f}"), _num(d["gold_gain"]), _num(d["proxy_gain"], "{:+.2f}"),
             _num(d["member_std"], "{:.3f}"), _num(d["error"], "{:+.3f}"), _num(d["error_after_penalty"], "{:+.3f}"),
             _num(d["corr_std_error"], "{:+.2f}"), _num(d["member_error_corr"], "{:+.2f}"),
             _num(d["shared_error_share"], "{:.2f}"), _num(d["overrated_share"], "{:.0%}"),
             _num(d["overrated_low_std_share"], "{:.0%}")] for d in diags]
    return "".join([
        "<h3>Ensemble proxy: does the members' spread mark what they overrate?</h3>",
        "<p>Per check, on the held-out answers: error = the members' mean z minus gold's z (gold in z units of the "
        "start policy's answers; &gt; 0: overrated); the penalty is lam times the spread. Overrated: error &gt; 1 z; "
        "low spread: below the start policy's median spread.</p>",
        _table(["step", "sqrt(KL)", "gold gain", "proxy gain (z)", "member spread (std)", "error (z)",
                "error after the penalty", "r(spread, error)", "r(members' errors)", "shared error share",
                "overrated", "overrated with low spread"], rows)])


def gold_reward_section(rl: dict[str, Any] | None) -> str:
    """The same run with gold as the reward: every alarm is false."""
    if rl is None:
        return ""
    rows = [[RULE_NAMES[k], str(r["alarm_step"]) if r["alarm_step"] is not None else "none",
             str(r["kept_step"]), _num(r["gold_gain"])] for k, r in rl["stop_rules"].items()]
    return "".join([
        f"<h3>The same RL with gold as the reward ({rl['steps']} steps): false alarms</h3>",
        f"<p>Gold gain: best {_num(rl['best_gold']['gain'])} at step {rl['best_gold']['step']}, final "
        f"{_num(rl['final_gold_gain'])}. Every alarm below is a false one.</p>",
        _img(rl_figure(rl), "gold as the reward: gold and held-out against sqrt(KL)"),
        _table(["stop rule", "alarm at step (false)", "kept check (step)", "gold gain kept"], rows)])


def summary_section(s: dict[str, Any]) -> str:
    rows = [[RULE_NAMES[k], ", ".join(_num(x, "{:.0%}") for x in v["shares"]), _num(v["mean_share"], "{:.0%}"),
             f"{v['alarms']} of {len(s['seeds'])}"] for k, v in s["stop_rules"].items()]
    return "".join([
        f"<h2>Across seeds ({', '.join(map(str, s['seeds']))})</h2>",
        f"<p>Unguarded final gold gain per seed: {', '.join(_num(x) for x in s['final_gold_gains'])} (seed-to-seed "
        f"SD {_num(s['final_gain_spread_sd'], '{:.4f}')}); drop from the best check: "
        f"{', '.join(_num(x) for x in s['drops_from_best'])}.</p>",
        _table(["stop rule", "share of the unguarded best gain per seed", "mean", "alarms"], rows),
        (f"<p>With gold as the reward, false alarms over {len(s['gold_reward_alarm_steps']['heldout'])} seeds: "
         + ", ".join(f"{RULE_NAMES[k]} {v}" for k, v in s["gold_reward_false_alarms"].items()) + ".</p>"
         if s.get("gold_reward_alarm_steps", {}).get("heldout") else "")])


def write_overopt_report(seeds: list[dict[str, Any]], summary: dict[str, Any], path: Path) -> Path:
    """The whole study as one self-contained HTML page."""
    body = summary_section(summary) + "".join(seed_section(m) for m in seeds)
    title = "Over-optimisation in the simulated world: unguarded vs guarded"
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{_STYLE}"
                    f"</style></head><body><h1>{title}</h1>{body}</body></html>", encoding="utf-8")
    return path
