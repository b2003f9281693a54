"""`tether raters ...`, `tether campaign ...` end to end in a project folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from tether.cli import app
from tether.collect.assign import fill_queue, get_task, open_tasks, submit_answer
from tether.collect.security import admin_for_secret, rater_for_token
from tether.config import find_project

runner = CliRunner()
DATA = Path(__file__).parents[1] / "data" / "raters"


def _items(path: Path) -> Path:
    rows = [{"prompt": f"p{i}", "response_a": f"a{i}", "response_b": f"b{i}", "task_type": "qa"} for i in range(6)]
    rows.append({"prompt": "g", "response_a": "right", "response_b": "wrong", "kind": "gold",
                 "expected": {"helpfulness": "a"}})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run(*args: str):  # noqa: ANN201
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def said(result) -> str:  # noqa: ANN001
    """The output as one line: rich wraps long lines at the terminal width."""
    return " ".join(result.output.split())


def test_campaign_lifecycle_from_the_command_line(project_dir: Path):
    out = run("raters", "import", str(DATA / "candidates.csv"), "--base-url", "http://h:1/collect").output
    links = dict(re.findall(r"^(\w+)\thttp://h:1/collect/r/([\w-]+)$", out, re.M))
    assert set(links) == {"ana", "ben", "cruz", "dev", "eli"}
    store = find_project().store()
    assert rater_for_token(store, links["ana"]) == "ana"

    ranked = json.loads(run("raters", "match", str(DATA / "profile.toml"), "--json").output)
    assert [r["rater"] for r in ranked if r["eligible"]] == ["ana", "dev", "ben"]

    (project_dir / "rubric.md").write_text("Prefer the helpful, harmless answer.")
    run("campaign", "create", "pilot1", "--items", str(_items(project_dir / "items.jsonl")), "--rubric",
        "rubric.md", "--objective", "helpfulness", "--objective", "harmlessness", "--overlap", "2", "--pilot", "0",
        "--gold-rate", "0", "--attention-rate", "0", "--enroll", "ana", "--enroll", "ben")
    bad = runner.invoke(app, ["campaign", "create", "pilot1", "--items", "items.jsonl", "--rubric", "rubric.md",
                              "--objective", "helpfulness"])
    assert bad.exit_code == 2 and "already exists" in said(bad)
    bad = runner.invoke(app, ["campaign", "create", "x", "--items", "items.jsonl", "--rubric", "rubric.md",
                              "--overlap", "1"])
    assert bad.exit_code == 2 and "overlap" in said(bad)

    for rater in ("ana", "ben"):
        fill_queue(store, "pilot1", rater)
        for aid, _c, _t in open_tasks(store, rater):
            get_task(store, aid, rater)
            submit_answer(store, aid, rater, {"helpfulness": "first", "harmlessness": "tie"})
    status = json.loads(run("campaign", "status", "pilot1", "--json").output)
    assert status["answered"] == 10 and status["objectives"] == ["helpfulness", "harmlessness"]

    fill_queue(store, "pilot1", "ana")
    still_open = len(open_tasks(store, "ana"))
    assert still_open > 0
    assert f"{still_open} open tasks withdrawn" in said(run("campaign", "pause", "pilot1", "qa"))
    assert open_tasks(store, "ana") == []
    status = json.loads(run("campaign", "status", "pilot1", "--json").output)
    assert status["paused_task_types"] == ["qa"]
    (project_dir / "rubric2.md").write_text("Clearer.")
    assert "resumed: qa" in said(run("campaign", "publish-rubric", "pilot1", "rubric2.md", "--version", "v2"))
    assert json.loads(run("campaign", "status", "pilot1", "--json").output)["paused_task_types"] == []

    run("campaign", "export", "pilot1", "out.jsonl", "--assignments", "log.jsonl")
    exported = [json.loads(line) for line in (project_dir / "out.jsonl").read_text().splitlines()]
    log = [json.loads(line) for line in (project_dir / "log.jsonl").read_text().splitlines()]
    assert len(exported) == 20 and len(log) == 10  # the withdrawn task left no trace
    orders = {(a["rater"], a["pair_id"]): a["shown_first"] for a in log}
    assert all(c["shown_first"] == orders[(c["rater"], c["pair_id"])] for c in exported)

    secret = run("campaign", "admin-key", "lead").output.strip().splitlines()[-1]
    assert admin_for_secret(store, secret) == "lead"
    table = run("raters", "qualify", "pilot1").output
    assert "ana" in table and "qualified" in table
    store.close()


def test_bad_item_file_names_file_line_and_key(project_dir: Path):
    (project_dir / "rubric.md").write_text("r")
    items = project_dir / "items.jsonl"
    items.write_text('{"prompt": "p", "response_a": "a", "response_b": "b"}\n'
                     '{"prompt": "p", "response_a": "a", "response_b": "c", "kind": "gold"}\n')
    result = runner.invoke(app, ["campaign", "create", "c", "--items", str(items), "--rubric", "rubric.md"])
    assert result.exit_code == 2
    text = result.output.replace("\n", "")  # rich wraps long paths at the terminal width
    assert "items.jsonl:2" in text and "needs 'expected'" in text
