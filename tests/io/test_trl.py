"""TRL preference files: the four shapes, TRL's own prompt split, and files `datasets` writes and reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.io.helpers import run, write_lines

from tether.io import export_file, import_file
from tether.io.trl import extract_prompt, render_messages, trl_to_pair
from tether.store import Store

datasets = pytest.importorskip("datasets")
trl_data_utils = pytest.importorskip("trl.data_utils")

CONV_CHOSEN = [{"role": "user", "content": "What color is the sky?"}, {"role": "assistant", "content": "Blue."}]
CONV_REJECTED = [{"role": "user", "content": "What color is the sky?"}, {"role": "assistant", "content": "Green."}]
ROWS = [
    {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."},  # explicit, standard
    {"chosen": "The sky is blue.", "rejected": "The sky is green."},  # implicit, standard
    {"prompt": CONV_CHOSEN[:1], "chosen": CONV_CHOSEN[1:], "rejected": CONV_REJECTED[1:]},  # explicit, conv.
    {"chosen": CONV_CHOSEN + [{"role": "user", "content": "Sure?"}, {"role": "assistant", "content": "Yes."}],
     "rejected": CONV_REJECTED},  # implicit, conversational
]


@settings(max_examples=200, deadline=None)
@given(st.text("ab ", max_size=8), st.text("ab ", max_size=8))
def test_implicit_prompt_split_matches_trl(chosen: str, rejected: str):
    if not chosen or not rejected:  # TRL crashes on empty input; we raise a FieldError (tested below)
        return
    ours = extract_prompt(chosen, rejected)
    theirs = trl_data_utils.extract_prompt({"chosen": chosen, "rejected": rejected})
    if chosen[0] != rejected[0] and chosen[-1] == " ":
        # TRL's `chosen[idx - 1]` reads chosen[-1] when the very first character differs and drops
        # a trailing space into the prompt's slice end; we keep the prompt empty there.
        assert ours == ("", chosen, rejected)
        return
    assert ours == (theirs["prompt"], theirs["chosen"], theirs["rejected"])


def test_conversational_split_matches_trl():
    for row in ROWS[2:]:
        full_c = row.get("prompt", []) + row["chosen"]
        full_r = row.get("prompt", []) + row["rejected"]
        theirs = trl_data_utils.extract_prompt({"chosen": full_c, "rejected": full_r})
        assert extract_prompt(full_c, full_r) == (theirs["prompt"], theirs["chosen"], theirs["rejected"])


@pytest.mark.parametrize("lines", [True, False], ids=["jsonl", "json-array"])
def test_reads_what_datasets_writes(store: Store, tmp_path: Path, lines: bool):
    path = tmp_path / "prefs.json"
    ds = datasets.Dataset.from_list([ROWS[0], ROWS[1]])  # one schema per dataset: standard rows
    ds.to_json(str(path), lines=lines)
    conv = tmp_path / "conv.json"
    datasets.Dataset.from_list([ROWS[3]]).to_json(str(conv), lines=lines)
    # the implicit row splits into exactly the explicit row's pair, so it is stored once
    report = import_file(store, "trl", path)
    assert (report.stored, report.duplicates) == (1, 1)
    assert import_file(store, "trl", conv).stored == 1
    pairs = list(store.iter_pairs())
    assert (pairs[0].prompt, pairs[0].chosen, pairs[0].rejected) == ("The sky is", " blue.", " green.")
    assert pairs[1].prompt == render_messages(CONV_CHOSEN[:1])
    assert pairs[1].chosen == render_messages(ROWS[3]["chosen"][1:])
    assert pairs[1].extras["prompt_messages"] == CONV_CHOSEN[:1]


def test_export_is_explicit_trl_with_weights_and_loads_in_datasets(project_dir: Path, store: Store):
    src = write_lines(project_dir / "in.jsonl", [dict(r) for r in ROWS[:2]])
    run("import", "trl", src, "--set", "std")
    run("import", "pairs", write_lines(project_dir / "w.jsonl", [
        {"prompt": "q", "chosen": "x", "rejected": "y", "weight": 0.3, "p_chosen": 0.7},
        {"prompt": "q", "chosen": "u", "rejected": "v", "tie": True}]), "--set", "std")
    out = project_dir / "out.jsonl"
    run("export", "trl", out, "--set", "std")
    ds = datasets.Dataset.from_json(str(out))
    assert {"prompt", "chosen", "rejected", "weight", "p_chosen", "tie"} <= set(ds.column_names)
    assert ds["weight"] == [p.weight for p in store.iter_pairs(set_name="std")]
    assert ds["p_chosen"] == [p.p_chosen for p in store.iter_pairs(set_name="std")]
    assert ds["tie"] == [p.tie for p in store.iter_pairs(set_name="std")] == [False, False, True]
    assert not trl_data_utils.is_conversational(ds[0])


def test_conversational_round_trip_gives_trl_shape_back(project_dir: Path, store: Store):
    src = write_lines(project_dir / "conv.jsonl", [ROWS[2], ROWS[3]])
    run("import", "trl", src, "--set", "conv")
    out = project_dir / "out.jsonl"
    run("export", "trl", out, "--set", "conv")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["prompt"] == ROWS[2]["prompt"] and rows[0]["chosen"] == ROWS[2]["chosen"]
    assert rows[1]["prompt"] == CONV_CHOSEN[:1] and rows[1]["rejected"] == CONV_REJECTED[1:]
    assert all(trl_data_utils.is_conversational(r) for r in rows)
    before = list(store.iter_pairs(set_name="conv"))
    again = json.loads(run("import", "trl", out, "--set", "conv", "--json").output)
    assert (again["stored"], again["duplicates"]) == (0, 2)
    assert [trl_to_pair(r) for r in rows] == before


def test_empty_completions_are_a_clear_error(project_dir: Path):
    bad = write_lines(project_dir / "bad.jsonl", [{"chosen": "", "rejected": "x"}])
    result = run("import", "trl", bad, ok=False)
    assert result.exit_code == 2 and "key 'chosen'" in result.output


def test_trl_round_trip_of_hh_pairs_keeps_weights(store: Store, tmp_path: Path):
    rows = [{"prompt": "\n\nHuman: hi\n\nAssistant:", "chosen": " hello", "rejected": " go away", "weight": 2.0,
             "p_chosen": 0.9, "tie": False}]
    import_file(store, "trl", write_lines(tmp_path / "in.jsonl", rows), set_name="a")
    export_file(store, "trl", tmp_path / "out.jsonl", set_name="a")
    back = json.loads((tmp_path / "out.jsonl").read_text())
    assert {k: back[k] for k in rows[0]} == rows[0]
