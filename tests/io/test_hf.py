"""Hugging Face `datasets` in and out: saved-dataset folders and Parquet, TRL's columns, a lossless round trip."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from tests.io.helpers import run, said

from tether.io import InputError, export_file, import_file
from tether.records import PreferencePair
from tether.store import Store

SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # backend-independent

datasets = pytest.importorskip("datasets")
pq = pytest.importorskip("pyarrow.parquet")
trl_data_utils = pytest.importorskip("trl.data_utils")

CONV = {"prompt_messages": [{"role": "user", "content": "2+2?"}],
        "chosen_messages": [{"role": "assistant", "content": "4"}],
        "rejected_messages": [{"role": "assistant", "content": "5"}]}
PAIRS = [
    PreferencePair(prompt="Write a haiku ☃", chosen="snow falls\nquietly", rejected="no."),
    PreferencePair(prompt="q", chosen="a", rejected="b", weight=0.25, p_chosen=0.875, objective="safety",
                   provenance={"audit_run": 7, "raters": ["r1", "r2"], "policy": {"name": "downweight", "x": None}}),
    PreferencePair(prompt="q", chosen="c", rejected="d", tie=True, p_chosen=0.5, weight=0.0,
                   source="hh", idx=3, tags=["x", {"deep": [1, 2.5, True]}]),
    PreferencePair(prompt="user: 2+2?", chosen="assistant: 4", rejected="assistant: 5", **CONV),
]


@pytest.mark.parametrize("name", ["saved", "pairs.parquet"])
def test_round_trip_through_datasets_is_lossless(store: Store, tmp_path: Path, name: str) -> None:
    store.add_pairs(PAIRS, set_name="src")
    before = list(store.iter_pairs(set_name="src"))
    out = tmp_path / name
    assert export_file(store, "hf", out, set_name="src") == len(PAIRS)
    report = import_file(store, "hf", out, set_name="back")
    assert (report.stored, report.rejected) == (len(PAIRS), 0)
    after = list(store.iter_pairs(set_name="back"))
    assert [p.model_dump() for p in after] == [p.model_dump() for p in before]
    assert [p.extras for p in after] == [p.extras for p in before]
    assert after[2].extras["tags"][1] == {"deep": [1, 2.5, True]}


@SQLITE_ONLY
def test_export_loads_in_datasets_with_trl_columns(store: Store, tmp_path: Path) -> None:
    store.add_pairs(PAIRS, set_name="s")
    export_file(store, "hf", tmp_path / "ds", set_name="s")
    ds = datasets.load_from_disk(str(tmp_path / "ds"))
    assert ds.column_names[:3] == ["prompt", "chosen", "rejected"]
    assert {"weight", "p_chosen", "tie", "objective", "provenance", "extras"} <= set(ds.column_names)
    assert ds["chosen"] == [p.chosen for p in PAIRS]
    assert ds["p_chosen"] == [p.p_chosen for p in PAIRS]
    assert [json.loads(p) for p in ds["provenance"]] == [p.provenance for p in PAIRS]
    assert all(not trl_data_utils.is_conversational(row) for row in ds)  # TRL's standard explicit-prompt shape
    export_file(store, "hf", tmp_path / "p.parquet", set_name="s")
    table = pq.read_table(tmp_path / "p.parquet")
    assert table.column("weight").to_pylist() == [p.weight for p in PAIRS]
    # exporting again replaces a saved dataset, atomically
    assert export_file(store, "hf", tmp_path / "ds", set_name="s") == len(PAIRS)


@SQLITE_ONLY
def test_reads_trl_datasets_made_elsewhere_every_split(store: Store, tmp_path: Path) -> None:
    implicit = datasets.Dataset.from_list([{"chosen": "The sky is blue.", "rejected": "The sky is green."}])
    conversational = datasets.Dataset.from_list([{"prompt": CONV["prompt_messages"],
                                                  "chosen": CONV["chosen_messages"],
                                                  "rejected": CONV["rejected_messages"], "score": 3}])
    datasets.DatasetDict({"train": implicit, "test": conversational}).save_to_disk(str(tmp_path / "dd"))
    assert import_file(store, "hf", tmp_path / "dd").stored == 2
    first, second = store.iter_pairs()
    assert (first.prompt, first.chosen, first.rejected) == ("The sky is", " blue.", " green.")  # TRL's split
    assert second.prompt == "user: 2+2?" and second.extras["prompt_messages"] == CONV["prompt_messages"]
    assert second.extras["score"] == 3


@SQLITE_ONLY
def test_bad_rows_are_listed_with_their_numbers(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    datasets.Dataset.from_list([
        {"prompt": "q", "chosen": "a", "rejected": "b", "weight": 1.0},
        {"prompt": "q", "chosen": "a", "rejected": "c", "weight": -2.0},
        {"prompt": "q", "chosen": "a", "rejected": "d", "weight": 1.0},
        {"prompt": "q", "chosen": "a", "rejected": "e", "weight": float("nan")},
    ]).to_parquet(str(path))
    with pytest.raises(InputError) as exc:
        import_file(store, "hf", path)
    assert exc.value.n_bad == 2
    assert [(b.line, b.key) for b in exc.value.bad_lines] == [(2, "weight"), (4, "weight")]
    assert list(store.iter_pairs()) == []
    report = import_file(store, "hf", path, skip_bad=tmp_path / "rejected.jsonl")
    assert (report.stored, report.rejected) == (2, 2)


@SQLITE_ONLY
def test_not_a_dataset_is_a_clear_error(store: Store, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a folder written by Dataset.save_to_disk"):
        import_file(store, "hf", tmp_path / "empty")
    (tmp_path / "x.parquet").write_text("hello")
    with pytest.raises(ValueError, match="not a Parquet file"):
        import_file(store, "hf", tmp_path / "x.parquet")
    datasets.Dataset.from_list([{"prompt": "q", "rejected": "b"}]).to_parquet(str(tmp_path / "nochosen.parquet"))
    with pytest.raises(InputError, match="key 'chosen': missing required key"):
        import_file(store, "hf", tmp_path / "nochosen.parquet")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep me")
    store.add_pairs(PAIRS[:1])
    with pytest.raises(ValueError, match="does not hold a saved dataset; not replacing it"):
        export_file(store, "hf", tmp_path / "notes")
    assert (tmp_path / "notes" / "mine.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


@SQLITE_ONLY
def test_without_datasets_the_error_says_what_to_install(store: Store, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # `import datasets` now raises ImportError
    (tmp_path / "d").mkdir()
    with pytest.raises(ValueError, match=r"pip install 'tether\[hf\]'"):
        import_file(store, "hf", tmp_path / "d")
    with pytest.raises(ValueError, match=r"pip install 'tether\[hf\]'"):
        export_file(store, "hf", tmp_path / "out")


@SQLITE_ONLY
def test_cli_export_and_import(project_dir: Path) -> None:
    src = project_dir / "pairs.jsonl"
    src.write_text("".join(json.dumps(p.model_dump()) + "\n" for p in PAIRS))
    run("import", "pairs", src, "--set", "mine")
    r = run("export", "hf", project_dir / "train.parquet", "--set", "mine")
    assert said(r, f"wrote {len(PAIRS)} records")
    r = run("import", "hf", project_dir / "train.parquet", "--set", "again")
    assert said(r, f"imported {len(PAIRS)} pairs")


@pytest.mark.parametrize("name", ["saved", "c.parquet"])
def test_comparisons_round_trip_through_datasets_is_lossless(store: Store, tmp_path: Path, name: str) -> None:
    from datetime import UTC, datetime

    from tether.records import Comparison

    comparisons = [
        Comparison(prompt="q", response_a="x", response_b="y", shown_first="b", choice="a", rater="r1",
                   confidence=0.75, campaign="c1", interface="web", rubric_version="v2", task_type="qa",
                   objective="safety", created_at=datetime(2026, 11, 2, 10, 15, 0, 123456, tzinfo=UTC),
                   seen_ms=812, labels={"why": ["clear", None]}),
        Comparison(prompt="q ☃", response_a="x", response_b="z", shown_first="a", choice="tie", rater="r2"),
    ]
    store.add_comparisons(comparisons)
    before = list(store.iter_comparisons())
    out = tmp_path / name
    assert export_file(store, "hf-comparisons", out) == 2
    other = Store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        assert import_file(other, "hf-comparisons", out).stored == 2
        after = list(other.iter_comparisons())
    finally:
        other.close()
    assert [c.model_dump() for c in after] == [c.model_dump() for c in before]
    assert after[0].extras == {"seen_ms": 812, "labels": {"why": ["clear", None]}}
