"""Canary and assignment: a challenger gets its share of units, sticky per unit, until the next decision ends it;
`GET /v1/assignment` tells the application which version to use (and to log back)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tether.deploy.keys import create_key
from tether.loop.promotion import PromotionError, arms, assign, canary, promote
from tether.store import Store


def folders(tmp_path: Path, *names: str) -> list[Path]:
    out = []
    for n in names:
        (tmp_path / n).mkdir()
        out.append(tmp_path / n)
    return out


def test_canary_share_is_sticky_and_ends_with_the_next_decision(store: Store, tmp_path: Path) -> None:
    a, b, c = folders(tmp_path, "pol-a", "pol-b", "pol-c")
    with pytest.raises(PromotionError, match="no champion"):
        canary(store, "policy", b, share=0.2, reason="try b")
    promote(store, "policy", a, reason="first policy", kind="policy")
    with pytest.raises(PromotionError, match="between 0 and 1"):
        canary(store, "policy", b, share=1.0, reason="all of it")
    canary(store, "policy", b, share=0.2, reason="try b")
    history = store.promotions("policy")
    got = {u: assign(history, "policy", u)[0] for u in (f"user-{i}" for i in range(2000))}
    share = sum(arm == "challenger" for arm in got.values()) / len(got)
    assert 0.17 < share < 0.23
    assert all(assign(history, "policy", u)[0] == arm for u, arm in list(got.items())[:200])  # sticky
    assert assign(history, "policy", "user-1")[1].path in (str(a.resolve()), str(b.resolve()))
    promote(store, "policy", c, reason="c wins", kind="policy")  # any later decision ends the canary
    champion, running = arms(store.promotions("policy"))
    assert champion.path == str(c.resolve()) and running is None
    assert {assign(store.promotions("policy"), "policy", u)[0] for u in got} == {"champion"}


def test_assignment_endpoint(tmp_path: Path) -> None:
    from tether.server import create_app

    url = f"sqlite:///{tmp_path / 'tether.db'}"
    store = Store(url)
    key = create_key(store, "shop")
    a, b = folders(tmp_path, "pol-a", "pol-b")
    with TestClient(create_app(url)) as client:
        headers = {"Authorization": f"Bearer {key}"}
        assert client.get("/v1/assignment?role=policy&unit=u1").status_code == 401
        res = client.get("/v1/assignment?role=policy&unit=u1", headers=headers)
        assert res.status_code == 404 and "no champion" in res.text
        promote(store, "policy", a, reason="first", kind="policy")
        canary(store, "policy", b, share=0.5, reason="half")
        arms_seen = {}
        for i in range(40):
            body = client.get(f"/v1/assignment?role=policy&unit=u{i}", headers=headers).json()
            arms_seen[body["arm"]] = body["path"]
            assert body == client.get(f"/v1/assignment?role=policy&unit=u{i}", headers=headers).json()
        assert arms_seen == {"champion": str(a.resolve()), "challenger": str(b.resolve())}
    store.close()
