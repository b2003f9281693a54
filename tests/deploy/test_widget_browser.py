"""The feedback widget embedded in a page of another origin, clicked in headless Chromium: a redacted feedback event
is stored. Needs Playwright and Debian's Chromium (see tests/collect/test_browser.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from tests.serving import ARTIFACTS, chromium, serve_in_thread

from tether.deploy.keys import create_key
from tether.store import Store

pytestmark = pytest.mark.browser


def shop_page(page: dict[str, str]) -> Starlette:
    """The application's page: its answer, and the widget snippet as the README gives it (filled in per request)."""

    def index(request) -> HTMLResponse:  # noqa: ANN001
        return HTMLResponse(f"""<!doctype html><html><head><meta charset="utf-8"><title>Shop help</title></head>
<body><h1>Shop help</h1><p class="answer">Hold the reset button for 10 seconds.</p>
<div data-tether-feedback data-trace="{page['trace']}" data-token="{page['token']}"></div>
<script src="{page['tether']}/v1/widget.js" data-key="{page['key']}" defer></script></body></html>""")

    return Starlette(routes=[Route("/", index)])


def test_widget_click_stores_redacted_feedback(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from tether.server import create_app

    url = f"sqlite:///{tmp_path / 'tether.db'}"
    store = Store(url)
    secret = create_key(store, "shop")
    with TestClient(create_app(url)) as client:  # the application logs its answer and gets the trace's token
        res = client.post("/v1/events?feedback_tokens=true", headers={"Authorization": f"Bearer {secret}"},
                          json=[{"event_id": "g1", "type": "generation", "trace_id": "tr-1", "model": "m1",
                                 "timestamp": "2026-12-01T10:00:00Z", "prompt": "My router keeps dropping",
                                 "response": "Hold the reset button for 10 seconds."}])
    page_data = {"trace": "tr-1", "token": res.json()["feedback_tokens"]["tr-1"]}
    with serve_in_thread(create_app(url)) as tether_port, serve_in_thread(shop_page(page_data)) as shop_port:
        page_data["tether"] = f"http://127.0.0.1:{tether_port}"
        page_data["key"] = create_key(store, "shop", publishable=True, origins=[f"http://127.0.0.1:{shop_port}"])
        with chromium() as browser:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{shop_port}/")
            page.get_by_role("button", name="Not helpful").click()
            page.get_by_label("What should it have said? (optional)").fill(
                "Call me on +1 415 555 0100, the reset did nothing")
            page.screenshot(path=str(ARTIFACTS / "feedback_widget_form.png"), full_page=True)
            page.get_by_role("button", name="Send").click()
            page.get_by_text("Thanks for your feedback.").wait_for(timeout=10_000)
            page.screenshot(path=str(ARTIFACTS / "feedback_widget.png"), full_page=True)
    events = {e.type.value: e for e in store.iter_events(project="shop") if e.trace_id == "tr-1"}
    assert events["feedback"].value == -1 and events["feedback"].attributes["source"] == "widget"
    assert "415 555 0100" not in events["correction"].corrected_response
    assert "reset did nothing" in events["correction"].corrected_response
    store.close()
