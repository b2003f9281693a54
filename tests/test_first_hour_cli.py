"""The first hour of a new user, command-line side: version, help, output when piped, user text printed as it is,
`init` that leaves nothing behind."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tether.cli import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and re.fullmatch(r"tether \S+\n", result.stdout)


@pytest.mark.parametrize("command", [[], ["import"], ["audit"], ["curate"], ["reward", "train"], ["shift", "drift"]])
def test_help_shows_no_value_for_flags(command: list[str]):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "--help" in result.output
    assert "<bool>" not in result.output


def test_piped_output_keeps_long_lines_and_table_cells(project_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("COLUMNS", raising=False)  # set, it is the width asked for (pytest-xdist sets 80)
    rater = "annotator-" + "x" * 150
    row = {"prompt": "p", "response_a": "x", "response_b": "y", "shown_first": "a", "choice": "b", "rater": rater}
    (project_dir / "c.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    assert runner.invoke(app, ["import", "comparisons", "c.jsonl"]).exit_code == 0
    result = runner.invoke(app, ["stats"])
    assert result.exit_code == 0
    assert any(rater in line for line in result.stdout.splitlines())  # one whole cell, not wrapped or cut


def test_user_text_is_printed_as_it_is(project_dir: Path):
    """`:-1:` is not turned into an emoji and `[red]` is not markup, in errors and in reports alike."""
    name = "votes:-1:[red]x[bold]:thumbs_up:.jsonl"
    row = {"prompt": "p", "response_a": "x", "response_b": "y", "shown_first": "a", "choice": "b", "rater": "r"}
    (project_dir / name).write_text(json.dumps(row) + "\n" + '{"prompt": 1}\n', encoding="utf-8")
    error = runner.invoke(app, ["import", "comparisons", name])
    assert error.exit_code == 2 and f"{name}:2: key" in error.output
    report = runner.invoke(app, ["import", "comparisons", name, "--skip-bad", "bad:-1:.jsonl"])
    assert report.exit_code == 0, report.output
    assert f"from {name}" in report.output and f"{name}:2: key" in report.output
    assert "bad:-1:.jsonl" in report.output and "\N{THUMBS DOWN SIGN}" not in report.output + error.output


@pytest.mark.postgres
def test_init_on_a_missing_database_leaves_nothing_behind(tmp_path: Path, postgres_server: str):
    missing = postgres_server.rsplit("/", 1)[0] + "/tether_no_such_database"
    result = runner.invoke(app, ["init", str(tmp_path / "p" / "q"), "--database-url", missing])
    assert result.exit_code == 2
    assert "cannot open the database" in result.output and "nothing was created" in result.output
    assert not (tmp_path / "p").exists()


def test_init_with_a_bad_database_url_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("TETHER_DATABASE_URL", raising=False)
    (tmp_path / "p").mkdir()
    result = runner.invoke(app, ["init", str(tmp_path / "p"), "--database-url", "nosuchdriver://u:secret@h/db"])
    assert result.exit_code == 2 and "cannot open the database" in result.output
    assert "secret" not in result.output and "u:***@h" in result.output
    assert list((tmp_path / "p").iterdir()) == []  # the folder was there: it stays, empty
    ok = runner.invoke(app, ["init", str(tmp_path / "p")])  # a retry needs no --force
    assert ok.exit_code == 0, ok.output
    # --force over a working project with a bad URL puts the old tether.toml back
    before = (tmp_path / "p" / "tether.toml").read_text()
    again = runner.invoke(app, ["init", str(tmp_path / "p"), "--force", "--database-url", "nosuchdriver://h/db"])
    assert again.exit_code == 2 and (tmp_path / "p" / "tether.toml").read_text() == before
    assert (tmp_path / "p" / ".tether" / "tether.db").is_file()


def test_tether_warnings_print_as_one_plain_line(capsys) -> None:
    """Not Python's `…/audit/cli.py:105: IdentificationWarning: …` with the source line under it."""
    import warnings

    from tether.audit.models import IdentificationWarning
    from tether.cli_support import show_warnings_plainly

    others = []
    with warnings.catch_warnings():  # restores warnings.showwarning afterwards
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, category, *rest: others.append((category, str(message)))
        show_warnings_plainly()
        warnings.warn("position effect not identified", IdentificationWarning, stacklevel=1)
        warnings.warn("a library's own warning", DeprecationWarning, stacklevel=1)
    err = capsys.readouterr().err
    assert "warning: position effect not identified" in err and "IdentificationWarning" not in err
    assert others == [(DeprecationWarning, "a library's own warning")]  # left to Python's (or pytest's) display
