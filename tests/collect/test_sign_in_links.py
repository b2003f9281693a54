"""Sign-in links and the home page point where `tether serve` really serves the rater app (under /collect)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from collect_helpers import follow_sign_in_link
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tether.cli import app
from tether.config import find_project
from tether.raters.cli import COLLECT_PATH, sign_in_link
from tether.server import COLLECT_PREFIX, create_app

DATA = Path(__file__).parents[1] / "data" / "raters"


def test_links_from_a_bare_host_open_the_served_app(project_dir: Path):
    assert COLLECT_PATH == COLLECT_PREFIX
    result = CliRunner().invoke(app, ["raters", "import", str(DATA / "candidates.csv"), "--base-url",
                                      "https://label.example.org"])
    assert result.exit_code == 0, result.output
    links = dict(re.findall(r"^(\w+)\t(\S+)$", result.stdout, re.M))
    assert links["ana"].startswith("https://label.example.org/collect/r/")
    relink = CliRunner().invoke(app, ["raters", "link", "ben", "--base-url", "https://label.example.org/"])
    assert relink.exit_code == 0 and "\thttps://label.example.org/collect/r/" in relink.stdout
    with TestClient(create_app(find_project())) as client:
        r = follow_sign_in_link(client, urlsplit(links["ana"]).path)  # the link's path on `tether serve`
        assert r.status_code == 200 and r.url.path == "/collect/rater"


def test_a_base_url_that_names_the_mount_is_kept():
    assert sign_in_link("http://h:1/collect", "T") == sign_in_link("http://h:1", "T") == "http://h:1/collect/r/T"
    assert sign_in_link("https://x.org/labels/collect/", "T") == "https://x.org/labels/collect/r/T"


def test_home_page_names_the_real_login_path(project_dir: Path):
    with TestClient(create_app(find_project())) as client:
        home = client.get("/collect/")
        assert home.status_code == 200 and "/collect/admin/login" in home.text
        assert client.get("/collect/admin/login").status_code == 200
