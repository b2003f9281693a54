"""The alignment-drift dashboard: every panel from stored data, escaped, behind the admin credential; and in
Chromium (marked `browser`) with a screenshot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.collect.collect_helpers import setup_campaign

from tether.audit.audit import run_audit
from tether.audit.runs import audit_run
from tether.collect.security import create_admin_credential
from tether.loop.dashboard import dashboard_data, render_html
from tether.records import Comparison, Event, EventType, Promotion
from tether.store import Store

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def populate(store: Store) -> None:
    """Six weekly ticks with scores and trigger values, feedback, a promotion and a refusal, an audited campaign."""
    events = []
    for day in range(42):
        for i in range(5):
            trace = f"d{day}-{i}"
            ts = T0 + timedelta(days=day, hours=i)
            events.append(Event(event_id=f"{trace}-g", type=EventType.GENERATION, trace_id=trace, timestamp=ts,
                                model="m1", prompt=f"question {day} {i}", response="answer"))
            if i < day // 10:  # negative feedback creeps up
                events.append(Event(event_id=f"{trace}-f", type=EventType.FEEDBACK, trace_id=trace, name="thumbs",
                                    value=-1, timestamp=ts + timedelta(minutes=5)))
    store.add_events(events, project="shop")
    for week in range(6):
        fired = week == 5
        store.add_tick("reward", "labelling" if fired else "idle", campaign="loop-reward-6" if fired else None,
                       triggers=[{"name": "drift", "fired": fired, "value": 0.5 / (week + 1) ** 3, "threshold": 0.01,
                                  "detail": f"MMD p={0.5 / (week + 1) ** 3:.4f} <script>alert(1)</script>"},
                                 {"name": "negative_feedback", "fired": False, "value": 0.01 * week,
                                  "threshold": 0.05, "detail": "x"}],
                       actions=["nothing due"],
                       result={"scores": {"n": 35, "objective": "overall", "p10": -1 + .1 * week, "p25": -.5,
                                          "p50": .1 * week, "p75": .5, "p90": 1},
                               "window_end": (T0 + timedelta(weeks=week + 1)).isoformat()})
    store.add_promotion(Promotion(role="reward", action="promote", path="/m/rm-1", model="rm-1", version="v1",
                                  reason="first model"))
    store.add_promotion(Promotion(role="reward", action="refuse", path="/m/rm-2", model="rm-2", version="v1",
                                  reason="challenger refused: slice task_type=chat accuracy drop",
                                  checks=[{"name": "slice task_type=chat accuracy drop", "passed": False}]))
    setup_campaign(store, raters=3, task_types={"qa": 4}, name="c1")
    judgments = [Comparison(prompt=f"p{i}", response_a="x", response_b="y", shown_first="ab"[(i + r) % 2],
                            choice="a" if r else ("b", "tie")[i % 2],
                            rater=f"r{r}", campaign="c1", task_type="qa") for i in range(8) for r in range(3)]
    store.add_comparisons(judgments)
    store.add_audit_run(audit_run(run_audit(judgments), judgments))


def test_every_panel_is_built_from_stored_data(store: Store) -> None:
    populate(store)
    data = dashboard_data(store, role="reward", project="shop")
    assert data["champion"]["model"] == "rm-1"
    assert any("drift" in a for a in data["alarms"]) and any("batch loop-reward-6" in a for a in data["alarms"])
    assert any("rm-2 refused" in a for a in data["alarms"])
    assert [r["p50"] for r in data["scores"]] == pytest.approx([0.1 * w for w in range(6)])
    assert len(data["triggers"]) == 6 and data["triggers"][-1]["drift"] == pytest.approx(0.5 / 216)
    assert len(data["feedback"]) == 42 and data["feedback"][-1]["negative_share"] == pytest.approx(4 / 5)
    assert data["campaigns"][0]["campaign"] == "c1" and data["campaigns"][0]["judgments"] == 24
    assert [h["action"] for h in data["history"]] == ["promote", "refuse"]
    html = render_html(data)
    assert html.count("data:image/png;base64,") == 3
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    for title in ("Open alarms", "Reward scores over time", "Feedback rates", "Drift, feedback and outcome tests",
                  "Agreement and position bias per campaign", "Retraining and promotion history"):
        assert f"<h2>{title}</h2>" in html


def test_the_served_page_needs_the_admin_credential(tmp_path: Path) -> None:
    from tether.server import create_app

    url = f"sqlite:///{tmp_path / 'tether.db'}"
    store = Store(url)
    populate(store)
    admin = create_admin_credential(store, "lead")
    with TestClient(create_app(url)) as client:
        assert client.get("/collect/admin/loop").status_code == 401
        assert client.get("/collect/admin/loop", headers={"Authorization": "Bearer nope"}).status_code == 401
        res = client.get("/collect/admin/loop?project=shop", headers={"Authorization": f"Bearer {admin}"})
        assert res.status_code == 200 and "Reward scores over time" in res.text
        assert "default-src 'none'" in res.headers["content-security-policy"]
        data = client.get("/collect/admin/loop?project=shop&format=json",
                          headers={"Authorization": f"Bearer {admin}"}).json()
        assert data["champion"]["model"] == "rm-1"
    store.close()


@pytest.mark.browser
def test_dashboard_in_chromium_after_admin_sign_in(tmp_path: Path) -> None:
    from tests.serving import ARTIFACTS, chromium, serve_in_thread

    from tether.server import create_app

    url = f"sqlite:///{tmp_path / 'tether.db'}"
    store = Store(url)
    populate(store)
    admin = create_admin_credential(store, "lead")
    with serve_in_thread(create_app(url)) as port, chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/collect/admin/login")
        page.locator("input[name=credential]").fill(admin)
        with page.expect_navigation():
            page.locator("button[type=submit], input[type=submit]").first.click()
        page.goto(f"http://127.0.0.1:{port}/collect/admin/loop?project=shop")
        assert page.locator("h2").count() == 7
        images = page.locator("img")
        assert images.count() == 3
        assert all(images.nth(i).evaluate("i => i.complete && i.naturalWidth > 0") for i in range(3))
        page.screenshot(path=str(ARTIFACTS / "loop_dashboard.png"), full_page=True)
    store.close()


def test_a_single_instant_gets_a_two_day_axis_not_years():
    import matplotlib.dates as mdates

    from tether.loop.dashboard import _date_axis
    from tether.report.figures import pyplot

    fig, ax = pyplot().subplots()
    when = [datetime(2026, 5, 1, 12, tzinfo=UTC)]
    ax.plot(when, [0.5], marker="o")
    _date_axis(ax, when)
    lo, hi = (mdates.num2date(v) for v in ax.get_xlim())
    assert (hi - lo).days == 2 and lo < when[0] < hi
