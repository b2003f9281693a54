"""Label Studio pairwise exports and Argilla 2.x ranking / rating datasets, by their documented formats.

The samples in tests/data/io (see its README.md) follow Label Studio's JSON export
(https://labelstud.io/guide/export.html#Label-Studio-JSON-format-of-annotated-tasks, Pairwise tag:
https://labelstud.io/tags/pairwise.html) and Argilla's `Dataset.to_disk` / `records.to_json`
(https://docs.argilla.io/latest/how_to_guides/import_export/).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from tests.io.helpers import SAMPLES, run, said

from tether.io import InputError, import_file
from tether.store import Store

SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # backend-independent

LABEL_STUDIO = SAMPLES / "labelstudio_pairwise.json"
ARGILLA = SAMPLES / "argilla_ranking"
ARGILLA_RATING = SAMPLES / "argilla_rating_records.json"


def _expected_label_studio() -> set[tuple]:
    """(prompt, first shown, second shown, chosen text, rater, objective) read straight off the sample."""
    fields = {1: ("prompt", "answer1", "answer2"), 2: ("instruction", "summary_a", "summary_b"),
              4: ("prompt", "answer1", "answer2")}
    out = set()
    for task in json.loads(LABEL_STUDIO.read_text()):
        for ann in task["annotations"]:
            results = [r for r in ann["result"] if r["type"] == "pairwise"]
            if ann["was_cancelled"] or not results:
                continue
            prompt, left, right = fields[task["id"]]
            for r in results:
                chosen = task["data"][left if r["value"]["selected"] == "left" else right]
                objective = r["from_name"] if len(results) > 1 else "overall"
                out.add((task["data"][prompt], task["data"][left], task["data"][right], chosen,
                         f"labelstudio-{ann['completed_by']}", objective))
    return out


def test_label_studio_pairwise_export_imports_with_display_order(store: Store) -> None:
    report = import_file(store, "labelstudio", LABEL_STUDIO)
    expected = _expected_label_studio()
    assert (report.stored, report.rejected) == (len(expected), 0) and len(expected) == 5
    assert report.skipped_reasons == {"cancelled (skipped) annotation": 1, "task without annotations": 1}
    got = set()
    for c in store.iter_comparisons():
        first, second = (c.response_a, c.response_b) if c.shown_first.value == "a" else (c.response_b, c.response_a)
        chosen = c.response_a if c.choice.value == "a" else c.response_b
        got.add((c.prompt, first, second, chosen, c.rater, c.objective))
        assert c.campaign == "labelstudio-project-3" and c.interface == "label-studio"
        assert c.created_at is not None and c.extras["labelstudio_task"] in (1, 2, 4)
    assert got == expected
    again = import_file(store, "labelstudio", LABEL_STUDIO)  # idempotent
    assert (again.stored, again.duplicates) == (0, 5)


def _task(selected: object = "left", **data: object) -> dict:
    return {"id": 9, "project": 1, "data": data or {"prompt": "p", "answer1": "x", "answer2": "y"},
            "annotations": [{"id": 1, "completed_by": 7, "was_cancelled": False,
                             "result": [{"type": "pairwise", "from_name": "c", "to_name": "c",
                                         "value": {"selected": selected}}]}]}


@SQLITE_ONLY
def test_label_studio_bad_tasks_are_listed_with_line_and_key(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    tasks = [_task(), _task("middle"), _task(prompt="p", left="a", right="b"), _task(answer1="x", answer2="y"),
             _task(prompt="p", answer1=3, answer2="y")]
    path.write_text(json.dumps(tasks, indent=2))
    with pytest.raises(InputError) as exc:
        import_file(store, "labelstudio", path)
    lines = path.read_text().splitlines()
    starts = [i for i, line in enumerate(lines, start=1) if line == "  {"]
    bad = exc.value.bad_lines
    assert exc.value.n_bad == 4 and [b.line for b in bad] == starts[1:]
    assert bad[0].key == "annotations[0].result[0].value.selected" and "expected 'left' or 'right'" in str(bad[0])
    assert "cannot tell which task fields were compared" in str(bad[1])
    assert "no prompt field" in str(bad[2])
    assert bad[3].key == "data.answer1" and "expected text" in str(bad[3])
    assert list(store.iter_comparisons()) == []


@SQLITE_ONLY
def test_label_studio_cli(project_dir: Path) -> None:
    r = run("import", "labelstudio", LABEL_STUDIO)
    assert said(r, "imported 5 comparisons") and said(r, "skipped 1: task without annotations")
    r = run("import", "labelstudio", SAMPLES / "argilla_ranking" / "records.json", ok=False)
    assert r.exit_code != 0 and said(r, "key 'data': missing or not an object")


def _expected_argilla_ranking() -> list[tuple]:
    """(user, first shown, second shown, winner or 'tie') from the sample's ranking responses."""
    records = json.loads((ARGILLA / "records.json").read_text())
    options = ["response1", "response2", "response3"]  # settings.json's option order = display order
    out = []
    for rec in records:
        for resp in rec["responses"].get("ranking", []):
            rank = {opt: i for i, opt in enumerate(resp["value"])}
            for a, b in itertools.combinations(options, 2):
                out.append((f"argilla-{resp['user_id']}", rec["fields"][a], rec["fields"][b],
                            rec["fields"][a] if rank[a] < rank[b] else rec["fields"][b]))
    return out


def test_argilla_to_disk_ranking_becomes_comparisons_in_option_order(store: Store) -> None:
    report = import_file(store, "argilla", ARGILLA)
    expected = _expected_argilla_ranking()
    assert (report.stored, report.rejected) == (len(expected), 0) and len(expected) == 6
    assert report.skipped_reasons == {"record without ranking or rating responses": 1}
    got = []
    for c in store.iter_comparisons():
        assert c.shown_first.value == "a" and c.prompt == "Name a prime number."
        assert c.campaign == "argilla-rlhf-ranking" and c.interface == "argilla" and c.objective == "overall"
        got.append((c.rater, c.response_a, c.response_b, c.response_a if c.choice.value == "a" else c.response_b))
    assert sorted(got) == sorted(expected)
    # the records file alone reads the same (settings found beside it)
    assert import_file(store, "argilla", ARGILLA / "records.json").duplicates == 6


@SQLITE_ONLY
def test_argilla_rating_questions_compare_the_fields_they_rate(store: Store) -> None:
    report = import_file(store, "argilla", ARGILLA_RATING)
    assert report.stored == 2
    record = json.loads(ARGILLA_RATING.read_text())[0]
    by_rater = {c.rater: c for c in store.iter_comparisons()}
    for user in ("u-1", "u-2"):
        r1 = next(r["value"] for r in record["responses"]["response1_rating"] if r["user_id"] == user)
        r2 = next(r["value"] for r in record["responses"]["response2_rating"] if r["user_id"] == user)
        c = by_rater[f"argilla-{user}"]
        assert (c.response_a, c.response_b) == (record["fields"]["response1"], record["fields"]["response2"])
        assert c.choice.value == ("a" if r1 > r2 else "b" if r2 > r1 else "tie")
        assert c.prompt == record["fields"]["instruction"] and c.campaign == "argilla"
    assert {c.choice.value for c in by_rater.values()} == {"a", "tie"}


@SQLITE_ONLY
def test_argilla_ranks_with_ties_and_statuses(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "records.json"
    path.write_text(json.dumps([{"id": "x", "fields": {"prompt": "p", "r1": "one", "r2": "two"}, "responses": {
        "rank": [{"value": [{"value": "r2", "rank": 1}, {"value": "r1", "rank": 1}], "user_id": "u1",
                  "status": "submitted"},
                 {"value": ["r2", "r1"], "user_id": "u2", "status": "draft"},
                 {"value": ["r2", "r1"], "user_id": "u3", "status": "discarded"}]}}]))
    report = import_file(store, "argilla", path)
    assert report.stored == 1 and report.skipped_reasons == {"draft response": 1, "discarded response": 1}
    [c] = store.iter_comparisons()
    assert (c.response_a, c.choice.value, c.rater) == ("one", "tie", "argilla-u1")


@SQLITE_ONLY
def test_argilla_bad_records_are_listed_by_number(store: Store, tmp_path: Path) -> None:
    good = {"id": "ok", "fields": {"prompt": "p", "a": "x", "b": "y"}, "responses": {"rank": [
        {"value": ["a", "b"], "user_id": "u"}]}}
    path = tmp_path / "records.json"
    path.write_text(json.dumps([
        good,
        {"id": "no-fields", "responses": {}},
        {**good, "id": "ghost", "responses": {"rank": [{"value": ["a", "zzz"], "user_id": "u"}]}},
        {**good, "id": "no-user", "responses": {"rank": [{"value": ["a", "b"]}]}},
        {**good, "id": "all-ranked", "fields": {"a": "x", "b": "y"}},
    ]))
    with pytest.raises(InputError) as exc:
        import_file(store, "argilla", path)
    bad = exc.value.bad_lines
    assert [b.line for b in bad] == [2, 3, 4, 5]
    assert "record 2: missing or not an object in record 'no-fields'" in str(bad[0]) and bad[0].key == "fields"
    assert "ranking option 'zzz' is not a field of the record" in str(bad[1])
    assert bad[2].key == "responses.rank[0]" and "expected {value, user_id}" in str(bad[2])
    assert "no prompt" in str(bad[3])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no records.json"):
        import_file(store, "argilla", tmp_path / "empty")
    assert list(store.iter_comparisons()) == []


@SQLITE_ONLY
def test_argilla_cli_reads_the_folder(project_dir: Path) -> None:
    r = run("import", "argilla", ARGILLA)
    assert said(r, "imported 6 comparisons") and said(r, "skipped 1: record without ranking or rating responses")


@SQLITE_ONLY
def test_argilla_to_hub_layout_reads_like_to_disk(store: Store, tmp_path: Path) -> None:
    """`to_hub` writes `records.to_datasets()` (flattened: fields as columns, `<q>.responses`, `.users`,
    `.status`) as Parquet beside `.argilla/`; the same records must give the same comparisons."""
    datasets = pytest.importorskip("datasets")
    import shutil

    hub = tmp_path / "hub"
    shutil.copytree(ARGILLA / ".argilla", hub / ".argilla")
    records = json.loads((ARGILLA / "records.json").read_text())
    flat = [{"id": r["id"], **r["fields"],
             "ranking.responses": [x["value"] for x in r["responses"].get("ranking", [])] or None,
             "ranking.responses.users": [x["user_id"] for x in r["responses"].get("ranking", [])] or None,
             "ranking.responses.status": ["submitted" for _ in r["responses"].get("ranking", [])] or None}
            for r in records]
    (hub / "data").mkdir()
    datasets.Dataset.from_list(flat).to_parquet(str(hub / "data" / "train-00000-of-00001.parquet"))
    from_hub = import_file(store, "argilla", hub)
    assert (from_hub.stored, from_hub.skipped) == (6, 1)
    assert import_file(store, "argilla", ARGILLA).duplicates == 6  # the very same judgments
