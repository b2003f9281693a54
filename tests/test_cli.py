"""The CLI's own behaviour: init, the embedded default outside a project, stats, errors."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tether.cli import app

runner = CliRunner()

LINE = {"prompt": "p", "response_a": "x", "response_b": "y", "shown_first": "a", "choice": "b", "rater": "r1"}


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_init_creates_config_and_database(tmp_path: Path):
    result = runner.invoke(app, ["init", str(tmp_path / "p"), "--name", "demo"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p" / "tether.toml").read_text().startswith('[project]\nname = "demo"')
    assert (tmp_path / "p" / ".tether" / "tether.db").is_file()
    again = runner.invoke(app, ["init", str(tmp_path / "p")])
    assert again.exit_code == 2 and "already exists" in again.output


def test_outside_a_project_nothing_is_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Only `tether init` makes a project: other commands say there is none, how to make one, and create nothing."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TETHER_DATABASE_URL", raising=False)
    _write(tmp_path / "c.jsonl", [LINE])
    for args in (["stats"], ["import", "comparisons", "c.jsonl"], ["models", "list"], ["keys", "list"],
                 ["deploy", "feedback"], ["reward", "train", "rm", "--pairs", "c.jsonl"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "not in a Tether project" in result.output and "tether init" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.jsonl"]
    # TETHER_DATABASE_URL is the way to work on a database without a project folder
    monkeypatch.setenv("TETHER_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    assert runner.invoke(app, ["import", "comparisons", "c.jsonl"]).exit_code == 0
    assert not (tmp_path / ".tether").exists()


def test_stats_json_counts(project_dir: Path):
    rows = [dict(LINE, rater=f"r{i % 3}", task_type=f"t{i % 2}", response_a=f"x{i}", campaign="c1")
            for i in range(12)]
    _write(project_dir / "c.jsonl", rows)
    assert runner.invoke(app, ["import", "comparisons", "c.jsonl"]).exit_code == 0
    result = runner.invoke(app, ["stats", "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["comparisons"] == 12
    assert stats["by_rater"]["r0"]["comparisons"] == 4
    assert stats["by_task_type"]["t1"]["pairs"] == 6
    assert stats["by_campaign"]["c1"]["comparisons"] == 12


def test_unknown_kind_names_the_known_ones(project_dir: Path):
    _write(project_dir / "c.jsonl", [LINE])
    result = runner.invoke(app, ["import", "nosuch", "c.jsonl"])
    assert result.exit_code == 2
    assert "unknown kind 'nosuch'" in result.output and "comparisons" in result.output


def test_missing_file_is_a_clear_error(project_dir: Path):
    result = runner.invoke(app, ["import", "comparisons", "nope.jsonl"])
    assert result.exit_code == 2 and "nope.jsonl: no such file" in result.output


def test_bad_config_names_file_and_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "tether.toml").write_text('[store]\nurl = 5\n')
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["stats"])
    assert result.exit_code == 2
    assert "tether.toml" in result.output and "store.url" in result.output
