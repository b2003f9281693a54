"""A campaign mixing pairwise dialogue and Likert tasks from the command line: created with `tether campaign
create`, audited with `tether audit` (interval and ordinal alpha, the 0.4 rule), exported and imported in the
documented formats."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from rating_helpers import RUBRIC, dialogue
from typer.testing import CliRunner

from tether.cli import app
from tether.collect.assign import fill_queue, get_task, open_tasks, submit_answer
from tether.config import find_project
from tether.records import Comparison, Rating

runner = CliRunner()
RATERS = ["ana", "ben"]
N_LIKERT = 20  # items per rating task type: the audit's min_items_to_judge, so the 0.4 rule decides


def run(*args: str):  # noqa: ANN201
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result


def _items(path: Path) -> Path:
    rows = [{"prompt": dialogue(i), "response_a": f" Coast {i}.", "response_b": f" Home {i}.",
             "task_type": "dialogue"} for i in range(3)]
    for task_type in ("likert-clear", "likert-vague"):
        rows += [{"prompt": f"Describe city {i}.", "response": f"{task_type} answer {i}", "task": "rating",
                  "scale": [1, 5], "scale_labels": ["awful", "poor", "fair", "good", "great"],
                  "task_type": task_type} for i in range(N_LIKERT)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# one backend: the ratings' storage is tested on both in test_rating_tasks.py and the 0007 migration test
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_mixed_campaign_is_created_audited_and_exported(project_dir: Path, tmp_path: Path):
    (project_dir / "rubric.md").write_text(RUBRIC)
    run("raters", "import", str(Path(__file__).parents[1] / "data" / "raters" / "candidates.csv"))
    created = run("campaign", "create", "mix", "--items", str(_items(project_dir / "items.jsonl")), "--rubric",
                  "rubric.md", "--overlap", "2", "--pilot", "0", "--gold-rate", "0", "--attention-rate", "0",
                  "--queue-size", "100", "--enroll", "ana", "--enroll", "ben")
    assert "3 pairs, 40 rating items" in " ".join(created.output.split())

    store = find_project().store()
    rng = random.Random(7)
    for rater in RATERS:
        fill_queue(store, "mix", rater, rng=rng)
        for aid, _c, task_type in open_tasks(store, rater):
            task = get_task(store, aid, rater)
            n = int(task.first.rsplit(" ", 1)[1]) if task.task == "rating" else 0
            if task_type == "likert-clear":  # both raters score from the item, one step apart at most
                answer = {"overall": min(5, 1 + n % 5 + (rater == "ben" and n % 3 == 0))}
            elif task_type == "likert-vague":  # no shared reading of the rubric
                answer = {"overall": rng.randint(1, 5)}
            else:
                answer = {"overall": "first"}
            submit_answer(store, aid, rater, answer, rationale=f"{rater} on {task_type}")
    store.close()

    report = tmp_path / "audit.json"
    shown = " ".join(run("audit", "--json", str(report), "--bootstrap", "20").output.split())
    assert "rating agreement by task type" in shown and "ambiguous rubric: likert-vague" in shown
    numbers = json.loads(report.read_text())
    assert numbers["n_judgments"] == 6  # the pairwise part: 3 dialogue pairs x 2 raters
    ratings = numbers["ratings"]
    clear, vague = ratings["task_types"]["likert-clear"], ratings["task_types"]["likert-vague"]
    assert clear["status"] == "ok" and clear["alpha"] >= 0.4 and clear["n_items"] == N_LIKERT
    assert vague["status"] == "ambiguous" and vague["blocked"] and vague["alpha"] < 0.4
    for verdict, task_type in ((clear, "likert-clear"), (vague, "likert-vague")):
        group = ratings["agreement"]["by_task_type"][task_type]
        assert group["krippendorff_alpha_interval"]["value"] == verdict["alpha"]
        assert group["krippendorff_alpha_ordinal"]["value"] == verdict["alpha_ordinal"]
        assert group["scale"] == [1, 5]
    assert "likert-vague" in numbers["blocked_task_types"] and "likert-clear" not in numbers["blocked_task_types"]

    # the stored run blocks the vague Likert task type in the campaign
    status = json.loads(run("campaign", "status", "mix", "--json").output)
    assert "likert-vague" in status["blocked_by_audit"] and "likert-vague" in status["paused_task_types"]
    assert "likert-clear" not in status["paused_task_types"]
    assert {tt: v["task"] for tt, v in status["task_types"].items()} == {
        "dialogue": "pairwise", "likert-clear": "rating", "likert-vague": "rating"}
    assert status["task_types"]["likert-clear"]["agreement_so_far"] == clear["alpha"]

    # both kinds export in their documented formats
    run("export", "ratings", str(tmp_path / "ratings.jsonl"), "--campaign", "mix")
    note = " ".join(run("campaign", "export", "mix", str(tmp_path / "comparisons.jsonl")).output.split())
    assert f"also holds {2 * 2 * N_LIKERT} ratings" in note
    run("campaign", "export", "mix", str(tmp_path / "comparisons.jsonl"), "--ratings",
        str(tmp_path / "campaign-ratings.jsonl"), "--assignments", str(tmp_path / "log.jsonl"))
    assert (tmp_path / "campaign-ratings.jsonl").read_text() == (tmp_path / "ratings.jsonl").read_text()
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert {e["task"] for e in log} == {"pairwise", "rating"}
    assert all(set(e["answers"]["scores"]) == {"overall"} for e in log if e["task"] == "rating")
    exported = [json.loads(line) for line in (tmp_path / "ratings.jsonl").read_text().splitlines()]
    assert len(exported) == 2 * 2 * N_LIKERT
    assert {"prompt", "response", "score", "scale_min", "scale_max", "rater", "item_id", "objective", "task_type",
            "campaign", "rationale", "created_at", "scale_labels"} <= set(exported[0])
    assert all(Rating.model_validate(r).rationale.endswith(r["task_type"]) for r in exported)
    pairs = [Comparison.model_validate_json(line) for line in (tmp_path / "comparisons.jsonl").read_text().splitlines()]
    assert len(pairs) == 6 and all(c.extras["rationale"].endswith("dialogue") for c in pairs)

    # and import back: the same judgments are stored once; a ratings file is audited on its own
    again = " ".join(run("import", "ratings", str(tmp_path / "ratings.jsonl")).output.split())
    assert "imported 0 ratings from" in again and f"({2 * 2 * N_LIKERT} already stored" in again
    from_file = tmp_path / "from_file.json"
    run("audit", str(tmp_path / "ratings.jsonl"), "--kind", "ratings", "--json", str(from_file), "--bootstrap", "0")
    assert json.loads(from_file.read_text())["ratings"]["task_types"]["likert-vague"]["alpha"] == vague["alpha"]


def test_bad_rating_lines_and_items_are_refused_with_file_and_line(project_dir: Path):
    bad = project_dir / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "p", "response": "r", "score": 9, "scale_max": 5, "rater": "x"}) + "\n")
    result = runner.invoke(app, ["import", "ratings", str(bad)], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "bad.jsonl:1:" in result.output
    assert "outside the scale 1..5" in result.output
    items = project_dir / "items.jsonl"
    items.write_text(json.dumps({"prompt": "p", "task": "rating", "response": "r", "scale": [1, 12]}) + "\n")
    (project_dir / "rubric.md").write_text("Rate it.")
    result = runner.invoke(app, ["campaign", "create", "c", "--items", str(items), "--rubric", "rubric.md"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "at most 9 points" in " ".join(result.output.split())
