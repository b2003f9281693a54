"""Sign-in links: a GET signs nobody in, links expire and can be revoked, the access log never shows one, sign-out
ends the session on the server, and a task left unanswered goes back to the pool."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from collect_helpers import follow_sign_in_link, setup_campaign
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from tether.cli import app as cli
from tether.collect.assign import TaskNotFound, fill_queue, open_tasks, submit_answer
from tether.collect.security import create_raters_with_tokens, issue_rater_token, rater_for_token
from tether.collect.web import create_app
from tether.config import find_project
from tether.records import Rater
from tether.store import Store
from tether.store.collect_models import AssignmentRow, RaterTokenRow, WebSessionRow


@pytest.fixture
def signed(store_url: str):  # noqa: ANN201
    store = Store(store_url)
    setup_campaign(store, raters=0, task_types={"qa": 2}, overlap=2, pilot_items=0, queue_size=2)
    tokens = create_raters_with_tokens(store, [Rater(id="alice"), Rater(id="bob")])
    with TestClient(create_app(store_url)) as client:
        yield store, tokens, client
    store.close()


def _sessions(store: Store) -> int:
    with store.connect() as conn:
        return conn.execute(select(func.count()).select_from(WebSessionRow)).scalar_one()


def test_opening_a_link_shows_a_form_and_creates_no_session(signed):
    store, tokens, client = signed
    page = client.get(f"/r/{tokens['alice']}", follow_redirects=False)
    assert page.status_code == 200 and 'method="post"' in page.text
    assert _sessions(store) == 0 and "tether_rater" not in client.cookies
    assert client.get("/rater").status_code == 401
    # a cross-site form cannot sign the victim in: it does not know the double-submit token
    forged = client.post("/r", data={"token": tokens["alice"], "csrf_token": "x" * 43}, follow_redirects=False)
    assert forged.status_code == 403 and _sessions(store) == 0
    assert follow_sign_in_link(client, f"/r/{tokens['alice']}").url.path == "/rater"
    assert _sessions(store) == 1


def test_an_expired_link_is_refused(signed):
    store, tokens, client = signed
    with store.write_transaction() as conn:
        conn.execute(update(RaterTokenRow).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert rater_for_token(store, tokens["alice"]) is None
    assert client.get(f"/r/{tokens['alice']}").status_code == 404
    client.cookies.set("tether_link_csrf", "c")
    assert client.post("/r", data={"token": tokens["alice"], "csrf_token": "c"}).status_code == 404
    assert _sessions(store) == 0


def test_links_expire_after_30_days_by_default_and_as_asked(signed):
    store, _tokens, _client = signed
    short = issue_rater_token(store, "bob", lifetime=timedelta(hours=2))
    with store.connect() as conn:
        rows = conn.execute(select(RaterTokenRow.created_at, RaterTokenRow.expires_at)).all()
    lifetimes = sorted(round((e - c).total_seconds()) for c, e in rows)
    assert lifetimes == [2 * 3600, 30 * 86400, 30 * 86400]
    assert rater_for_token(store, short) == "bob"
    with pytest.raises(ValueError, match="positive"):
        issue_rater_token(store, "bob", lifetime=timedelta(0))


def test_sign_out_ends_the_session_on_the_server(signed):
    store, tokens, client = signed
    queue = follow_sign_in_link(client, f"/r/{tokens['alice']}")
    cookie = client.cookies["tether_rater"]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', queue.text).group(1)
    assert client.post("/rater/sign-out", data={"csrf_token": csrf}).status_code == 200
    client.cookies.set("tether_rater", cookie)  # a copy of the cookie kept from before
    assert client.get("/rater").status_code == 401


def test_raters_revoke_refuses_the_link_and_ends_live_sessions(project_dir: Path):
    store = find_project().store()
    token = create_raters_with_tokens(store, [Rater(id="ana")])["ana"]
    with TestClient(create_app(find_project().database_url)) as client:
        follow_sign_in_link(client, f"/r/{token}")
        assert client.get("/rater").status_code == 200
        result = CliRunner().invoke(cli, ["raters", "revoke", "ana"])
        assert result.exit_code == 0 and "revoked 1" in result.output
        assert client.get("/rater").status_code == 401
        assert client.get(f"/r/{token}").status_code == 404
    unknown = CliRunner().invoke(cli, ["raters", "revoke", "nobody"])
    assert unknown.exit_code != 0 and "unknown rater 'nobody'" in unknown.output
    store.close()


def test_link_expiry_from_tether_toml_and_the_command_line(project_dir: Path):
    (project_dir / "tether.toml").write_text((project_dir / "tether.toml").read_text()
                                             + "\n[campaign]\nlink_expiry_days = 2\nassignment_expiry_hours = 3\n")
    store = find_project().store()
    store.upsert_raters([Rater(id="ana")])
    assert CliRunner().invoke(cli, ["raters", "link", "ana"]).exit_code == 0
    assert CliRunner().invoke(cli, ["raters", "link", "ana", "--expires-days", "0.5"]).exit_code == 0
    bad = CliRunner().invoke(cli, ["raters", "link", "ana", "--expires-days", "-1"])
    assert bad.exit_code != 0 and "--expires-days" in bad.output
    with store.connect() as conn:
        rows = conn.execute(select(RaterTokenRow.created_at, RaterTokenRow.expires_at)).all()
    assert sorted(round((e - c).total_seconds()) for c, e in rows) == [43200, 2 * 86400]
    store.close()


def _backdate(store: Store, rater: str, hours: float) -> None:
    with store.write_transaction() as conn:
        conn.execute(update(AssignmentRow).where(AssignmentRow.rater_id == rater)
                     .values(issued_at=datetime.now(UTC) - timedelta(hours=hours)))


def test_an_unanswered_assignment_expires_and_goes_to_another_rater(store_url: str):
    store = Store(store_url)
    setup_campaign(store, raters=3, task_types={"qa": 1}, overlap=2, pilot_items=0, queue_size=1)
    fill_queue(store, "c1", "r0")
    fill_queue(store, "c1", "r1")
    assert fill_queue(store, "c1", "r2") == []  # both places taken
    (stale, *_), = open_tasks(store, "r0")
    _backdate(store, "r0", 23)
    assert fill_queue(store, "c1", "r2") == []  # not yet: 24 hours by default
    _backdate(store, "r0", 25)
    assert len(fill_queue(store, "c1", "r2")) == 1
    assert open_tasks(store, "r0") == [] and len(open_tasks(store, "r2")) == 1
    with pytest.raises(TaskNotFound):
        submit_answer(store, stale, "r0", {"overall": "first"})
    store.close()


def test_a_full_queue_of_expired_tasks_is_refilled(store_url: str):
    store = Store(store_url)
    setup_campaign(store, raters=1, task_types={"qa": 3}, overlap=2, pilot_items=0, queue_size=1,
                   assignment_expiry_hours=1)
    first = fill_queue(store, "c1", "r0")
    assert fill_queue(store, "c1", "r0") == []
    _backdate(store, "r0", 2)
    again = fill_queue(store, "c1", "r0")
    assert len(again) == 1 and again != first and [t[0] for t in open_tasks(store, "r0")] == again
    store.close()


def test_the_access_log_never_shows_a_sign_in_token(tmp_path: Path, capsys: pytest.CaptureFixture):
    import uvicorn

    from tether.server import server_config

    url = f"sqlite:///{tmp_path / 'tether.db'}"
    store = Store(url)
    token = create_raters_with_tokens(store, [Rater(id="ana")])["ana"]
    store.close()
    config = server_config(url, host="127.0.0.1", port=0)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    # uvicorn's access logger does not propagate: read what its handler wrote
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
        assert http.get(f"/collect/r/{token}").status_code == 200
        assert http.get(f"/collect/r/{token}?x=1").status_code == 200
    server.should_exit = True
    thread.join(timeout=10)
    logged = capsys.readouterr()
    lines = [line for line in logged.out.splitlines() if '"GET /collect/r/' in line]
    assert len(lines) == 2 and all("/collect/r/*** " in line or "/collect/r/***?x=1 " in line for line in lines)
    assert token not in logged.out + logged.err
