"""The alignment-drift dashboard: one page, every panel from stored data — open alarms, the champion's reward scores
over time, feedback rates, the triggers' tests over time (drift, feedback, outcomes), agreement and position bias per
campaign, and the retraining and promotion history.

    data = dashboard_data(store, role="reward", project="shop")
    html = render_html(data)          # self-contained: figures are inline PNGs, every text escaped

Served by `tether serve` at /collect/admin/loop (admin credential) and written by `tether loop dashboard -o FILE`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

from tether.store.bulk import aware

__all__ = ["dashboard_data", "render_html"]


def _campaigns(store: Any) -> list[dict[str, Any]]:
    """Per campaign, its newest audit: agreement (the primary metric), position bias, blocked task types."""
    from tether.store.collect_repo import campaign_names

    rows = []
    for name in campaign_names(store):
        run = store.latest_audit_run(name)
        if run is None:
            rows.append({"campaign": name, "audit_run": None})
            continue
        numbers = run.result
        metric = numbers.get("primary_metric", "krippendorff_alpha")
        overall = numbers.get("agreement", {}).get("overall", {}).get(metric) or {}
        position = numbers.get("position", {}).get("overall", {})
        rows.append({"campaign": name, "audit_run": run.id, "audited": run.created_at.isoformat(),
                     "judgments": run.n_comparisons, "metric": metric, "agreement": overall.get("value"),
                     "first_position_rate": position.get("rate"), "position_p": position.get("p_value"),
                     "blocked": run.blocked_task_types,
                     "task_types": {t: v.get(metric, v.get("alpha")) for t, v in run.verdicts.items()}})
    return rows


def _feedback(store: Any, project: str) -> list[dict[str, Any]]:
    from tether.deploy.feedback import feedback_rates

    out = []
    for r in feedback_rates(store.iter_events(project=project), by="day"):
        out.append({"day": r.key, "generations": r.generations, "thumbs_down": r.thumbs_down,
                    "thumbs_up": r.thumbs_up, "corrections": r.corrections,
                    "negative_share": (r.thumbs_down + r.corrections) / r.generations if r.generations else None})
    return out


def _evaluated_at(tick: dict[str, Any]) -> str:
    """The time a tick judged (`tether loop tick --now` in a replay), else when it ran."""
    return (tick["result"] or {}).get("window_end") or aware(tick["started_at"]).isoformat(timespec="seconds")


def _minute(ts: datetime) -> str:
    return aware(ts).strftime("%Y-%m-%d %H:%M")


def dashboard_data(store: Any, *, role: str, project: str) -> dict[str, Any]:
    """Everything the dashboard shows, as plain JSON-ready data."""
    ticks = list(reversed(store.ticks(role)))  # oldest first
    history = store.promotions(role)
    champion = store.champion(role)
    latest = ticks[-1] if ticks else None
    pending = next((t for t in reversed(ticks) if t["campaign"] is not None), None)
    alarms = []
    if latest is not None:
        alarms += [f"trigger {t['name']}: {t['detail']}" for t in latest["triggers"] or [] if t["fired"]]
    if pending is not None and pending["state"] in ("labelling", "waiting", "retraining", "failed"):
        progress = pending["result"] or {}
        detail = f" ({progress['judged']}/{progress['items']} pairs judged)" if "judged" in progress else ""
        alarms.append(f"batch {pending['campaign']} is {pending['state']}{detail}")
    last_refusal = next((p for p in reversed(history) if p.action == "refuse"), None)
    if last_refusal is not None and (champion is None or last_refusal.created_at > champion.created_at):
        failed = [c["name"] for c in last_refusal.checks if not c.get("passed", True)]
        alarms.append(f"challenger {last_refusal.model or last_refusal.path} refused (failed: {', '.join(failed)})")
    campaigns = _campaigns(store)
    for c in campaigns:
        if c.get("blocked"):
            alarms.append(f"campaign {c['campaign']}: task types paused by the audit: {', '.join(c['blocked'])}")
    return {
        "role": role, "project": project, "generated": _minute(datetime.now(UTC)),
        "champion": None if champion is None else {"path": champion.path, "model": champion.model,
                                                   "version": champion.version,
                                                   "since": _minute(champion.created_at)},
        "alarms": alarms,
        "scores": [{"at": _evaluated_at(t), **t["result"]["scores"]} for t in ticks
                   if (t["result"] or {}).get("scores")],
        "triggers": [{"at": _evaluated_at(t), **{x["name"]: x["value"] for x in t["triggers"]}}
                     for t in ticks if t["triggers"]],
        "feedback": _feedback(store, project),
        "campaigns": campaigns,
        "history": [{"at": _minute(p.created_at), "action": p.action,
                     "model": f"{p.model} {p.version}" if p.model else p.path, "reason": p.reason,
                     "failed": [c["name"] for c in p.checks if not c.get("passed", True)]} for p in history],
        "ticks": [{"id": t["id"], "at": _minute(t["started_at"]), "state": t["state"],
                   "campaign": t["campaign"], "actions": t["actions"] or []} for t in ticks[-20:]],
    }


def _dates(values: list[str]) -> list[datetime]:
    return [datetime.fromisoformat(v) for v in values]


def _date_axis(ax: Any, dates: list[datetime]) -> None:
    """A day either side of a single instant: matplotlib's own default for one date spans years of empty axis."""
    if dates and min(dates) == max(dates):
        from datetime import timedelta

        import matplotlib.dates as mdates

        ax.set_xlim(dates[0] - timedelta(days=1), dates[0] + timedelta(days=1))
        ax.xaxis.set_major_locator(mdates.HourLocator(byhour=[0, 12]))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))


def _scores_png(rows: list[dict[str, Any]]) -> str:
    from tether.report.figures import png_base64, pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    at = _dates([r["at"] for r in rows])
    ax.fill_between(at, [r["p10"] for r in rows], [r["p90"] for r in rows], alpha=0.2, label="10-90%")
    ax.fill_between(at, [r["p25"] for r in rows], [r["p75"] for r in rows], alpha=0.35, label="25-75%")
    ax.plot(at, [r["p50"] for r in rows], marker="o", label="median")
    ax.set_ylabel(f"champion score ({rows[-1]['objective']})")
    _date_axis(ax, at)
    ax.legend(loc="best", fontsize=8)
    fig.autofmt_xdate()
    return png_base64(fig)


def _feedback_png(rows: list[dict[str, Any]]) -> str:
    from tether.report.figures import png_base64, pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    days = [datetime.fromisoformat(r["day"]) for r in rows]
    ax.plot(days, [r["negative_share"] for r in rows], marker="o", label="thumbs down or corrected")
    ax.plot(days, [r["thumbs_up"] / r["generations"] if r["generations"] else None for r in rows], marker=".",
            label="thumbs up")
    ax.set_ylabel("share of generations")
    _date_axis(ax, days)
    ax.legend(loc="best", fontsize=8)
    fig.autofmt_xdate()
    return png_base64(fig)


TRIGGER_PLOTS = (("drift", "drift p-value (log)", True), ("negative_feedback", "negative-feedback rise", False),
                 ("outcome_auc", "outcome AUC drop", False))


def _triggers_png(rows: list[dict[str, Any]]) -> str:
    from tether.report.figures import png_base64, pyplot

    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(11, 3))
    at = _dates([r["at"] for r in rows])
    for ax, (name, label, log) in zip(axes, TRIGGER_PLOTS, strict=True):
        points = [(t, r[name]) for t, r in zip(at, rows, strict=True) if r.get(name) is not None]
        if points:
            ax.plot([t for t, _ in points], [max(v, 1e-6) if log else v for _, v in points], marker="o")
            _date_axis(ax, [t for t, _ in points])
        else:
            ax.text(0.5, 0.5, "not measured yet\n(too little data)", ha="center", va="center",
                    transform=ax.transAxes)
        if log:  # plain tick labels: reports do not parse math text (labels are user data)
            from matplotlib.ticker import FuncFormatter, NullFormatter

            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(label, fontsize=9)
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    return png_base64(fig)


def _img(b64: str, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{b64}">'


def _table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.3f}"
        return escape(str(v))

    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _panel(title: str, body: str, empty: str | None = None) -> str:
    content = body or f'<p class="empty">{escape(empty or "")}</p>'
    return f"<section><h2>{escape(title)}</h2>{content}</section>"


STYLE = ("body{font-family:sans-serif;max-width:1150px;margin:1.5em auto;padding:0 1em;color:#222}"
         "table{border-collapse:collapse;margin:.5em 0}th,td{text-align:left;padding:.2em .9em .2em 0;"
         "border-bottom:1px solid #ddd;font-size:.92em}section{margin:1.6em 0}.alarm{color:#a40000}"
         ".empty{color:#777}img{max-width:100%}")


def render_html(data: dict[str, Any], *, csp_nonce: str | None = None) -> str:
    """The dashboard page; every value from `data` is escaped, figures are inline PNGs."""
    champ = data["champion"]
    head = (f"role <b>{escape(data['role'])}</b>, events tenant <b>{escape(data['project'])}</b>; champion: "
            + (escape(f"{champ['model'] or champ['path']} {champ['version'] or ''} since {champ['since']}")
               if champ else "none yet") + f"; generated {escape(data['generated'])}")
    alarms = "".join(f'<li class="alarm">{escape(a)}</li>' for a in data["alarms"])
    panels = [
        _panel("Open alarms", f"<ul>{alarms}</ul>" if alarms else "", "none: no trigger fired, nothing pending"),
        _panel("Reward scores over time", _img(_scores_png(data["scores"]), "champion score quantiles per tick")
               if data["scores"] else "", "no scores yet: ticks score the window's answers once a champion serves"),
        _panel("Feedback rates", _img(_feedback_png(data["feedback"]), "feedback rates per day")
               + _table(["day", "generations", "thumbs up", "thumbs down", "corrections", "negative share"],
                        [[r["day"], r["generations"], r["thumbs_up"], r["thumbs_down"], r["corrections"],
                          r["negative_share"]] for r in data["feedback"][-14:]])
               if data["feedback"] else "", "no generations logged for this tenant"),
        _panel("Drift, feedback and outcome tests", _img(_triggers_png(data["triggers"]), "trigger values per tick")
               if data["triggers"] else "", "no tick has evaluated the triggers yet (tether loop tick)"),
        _panel("Agreement and position bias per campaign", _table(
            ["campaign", "audit run", "judgments", "agreement", "first-position rate", "position p", "paused"],
            [[c["campaign"], c["audit_run"], c.get("judgments"), c.get("agreement"), c.get("first_position_rate"),
              c.get("position_p"), ", ".join(c.get("blocked") or []) or None] for c in data["campaigns"]])
               if data["campaigns"] else "", "no campaigns"),
        _panel("Retraining and promotion history", _table(
            ["when", "decision", "model", "failed checks", "reason"],
            [[h["at"], h["action"], h["model"], ", ".join(h["failed"]) or None, h["reason"]]
             for h in reversed(data["history"])]) if data["history"] else "", "no model has been promoted yet"),
        _panel("Recent ticks", _table(["tick", "when", "state", "batch", "what it did"],
                                      [[t["id"], t["at"], t["state"], t["campaign"], "; ".join(t["actions"])]
                                       for t in reversed(data["ticks"])]) if data["ticks"] else "",
               "no ticks yet"),
    ]
    nonce = f' nonce="{escape(csp_nonce)}"' if csp_nonce else ""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tether loop: '
            f'{escape(data["role"])}</title><style{nonce}>{STYLE}</style></head><body><h1>Alignment drift: the loop'
            f'</h1><p>{head}</p>{"".join(panels)}</body></html>')
