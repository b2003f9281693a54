"""Bad input: one clear error naming file, line and key; nothing stored; --skip-bad keeps the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.io.helpers import item_line, run, said, snapshot, write_lines

from tether.store import Store


def _cmp(i: int, **kw) -> dict:
    row = {"prompt": f"p{i}", "response_a": f"a{i}", "response_b": f"b{i}", "shown_first": "ab"[i % 2],
           "choice": ["a", "b", "tie"][i % 3], "rater": f"r{i % 2}"}
    row.update(kw)
    return row


def _pandalm_item(idx: int, **kw) -> dict:
    item = {"idx": idx, "motivation_app": "Grammarly", "cmp_key": "m1_m2", "instruction": f"do {idx}",
            "input": "", "response1": f"one {idx}", "response2": f"two {idx}",
            "annotator1": 1, "annotator2": 2, "annotator3": 0}
    item.update(kw)
    return item


def _write_array(path: Path, items: list) -> Path:
    path.write_text(json.dumps(items, indent=4), encoding="utf-8")
    return path


def _prd_tree(root: Path, human_rows: list) -> Path:
    """A minimal vicuna80 folder: 3 questions, two models, one human rating file."""
    v = root / "vicuna80"
    (v / "prompts").mkdir(parents=True)
    (v / "generations").mkdir()
    (v / "ratings-human").mkdir()
    write_lines(v / "prompts" / "vicuna_questions.jsonl",
                [{"question_id": q, "text": f"question {q}", "category": "generic"} for q in (1, 2, 3)])
    for model in ("gpt4", "bard"):
        write_lines(v / "generations" / f"answer_{model}.jsonl",
                    [{"answer_id": f"{model}-{q}", "model_id": model, "question_id": q, "text": f"{model} says {q}"}
                     for q in (1, 2, 3)])
    write_lines(v / "ratings-human" / "answer_gpt4-vs-answer_bard-human-reviewer_threeclass.jsonl", human_rows)
    return v


GOOD = [_cmp(i) for i in range(6)]

# (case, kind, rows as written, line at fault, key named in the error)
CASES = [
    ("malformed JSON", "comparisons", [*GOOD[:3], '{"prompt": "p", "response_a": ', *GOOD[3:]], 4, None),
    ("missing key", "comparisons", [*GOOD[:4], {k: v for k, v in _cmp(9).items() if k != "rater"}], 5, "rater"),
    ("wrong type", "comparisons", [*GOOD[:2], _cmp(9, prompt=17), *GOOD[2:]], 3, "prompt"),
    ("unknown shown_first", "comparisons", [*GOOD[:5], _cmp(9, shown_first="left")], 6, "shown_first"),
    ("confidence out of range", "comparisons", [_cmp(9, confidence=1.5), *GOOD], 1, "confidence"),
    ("pair weight wrong type", "pairs", [{"prompt": "p", "chosen": "c", "rejected": "r"},
                                         {"prompt": "p", "chosen": "c2", "rejected": "r", "weight": "heavy"}], 2,
     "weight"),
    ("hh missing rejected", "hh-rlhf", [{"chosen": "\n\nHuman: hi\n\nAssistant: yo", "rejected":
                                         "\n\nHuman: hi\n\nAssistant: no"}, {"chosen": "\n\nHuman: x"}], 2,
     "rejected"),
    ("hh no shared assistant turn", "hh-rlhf", [{"chosen": "\n\nHuman: a\n\nAssistant: b",
                                                 "rejected": "\n\nHuman: c\n\nAssistant: d"}], 1, "chosen"),
    ("trl message without content", "trl", [{"prompt": "p", "chosen": "c", "rejected": "r"},
                                            {"chosen": [{"role": "user", "content": "q"}, {"role": "assistant"}],
                                             "rejected": [{"role": "user", "content": "q"},
                                                          {"role": "assistant", "content": "n"}]}], 2,
     "chosen[1].content"),
    ("trl mixed shapes", "trl", [{"prompt": "p", "chosen": "c", "rejected": [{"role": "a", "content": "b"}]}], 1,
     "rejected"),
]


@pytest.mark.parametrize("case,kind,rows,line,key", CASES, ids=[c[0] for c in CASES])
def test_bad_line_names_file_line_key_and_stores_nothing(project_dir: Path, store: Store, case, kind, rows, line,
                                                         key):
    seed = write_lines(project_dir / "seed.jsonl", [_cmp(100 + i, campaign="seed") for i in range(4)])
    run("import", "comparisons", seed)
    run("import", "pairs", write_lines(project_dir / "seedp.jsonl",
                                       [{"prompt": "s", "chosen": "c", "rejected": "r", "weight": 0.5}]))
    before = snapshot(store)
    bad = write_lines(project_dir / "bad.jsonl", rows)
    result = run("import", kind, bad, ok=False)
    assert result.exit_code == 2
    assert said(result, f"{bad}:{line}:")
    if key is not None:
        assert said(result, f"{bad}:{line}: key '{key}'")
    assert said(result, "nothing was imported")
    assert snapshot(store) == before


def test_skip_bad_writes_reasons_and_imports_the_rest(project_dir: Path, store: Store):
    rows = [*GOOD[:2], "{not json", _cmp(9, shown_first="left"), *GOOD[2:],
            {k: v for k, v in _cmp(10).items() if k != "choice"}]
    src = write_lines(project_dir / "mixed.jsonl", rows)
    side = project_dir / "rejected.jsonl"
    result = run("import", "comparisons", src, "--skip-bad", side, "--json")
    report = json.loads(result.output)
    assert (report["stored"], report["rejected"]) == (len(GOOD), 3)
    rejected = [json.loads(line) for line in side.read_text().splitlines()]
    assert [(r["line"], r["key"]) for r in rejected] == [(3, None), (4, "shown_first"), (9, "choice")]
    assert all(r["file"] == str(src) and r["error"] for r in rejected)
    assert rejected[0]["raw"] == "{not json"
    assert json.loads(rejected[1]["raw"])["shown_first"] == "left"
    assert store.count_comparisons() == len(GOOD)


def test_pandalm_unknown_score_and_wrong_type(project_dir: Path, store: Store):
    items = [_pandalm_item(0), _pandalm_item(1, annotator2=7), _pandalm_item(2)]
    path = _write_array(project_dir / "testset-v1.json", items)
    result = run("import", "pandalm", path, ok=False)
    assert said(result, f"{path}:{item_line(path, 1)}: key 'annotator2': unknown score value 7")
    assert store.count_comparisons() == 0
    _write_array(path, [_pandalm_item(0), _pandalm_item(1, response2=["x"])])
    result = run("import", "pandalm", path, ok=False)
    assert said(result, f"{path}:{item_line(path, 1)}: key 'response2': expected a string, got list")
    _write_array(path, [_pandalm_item(0), {k: v for k, v in _pandalm_item(1).items() if k != "instruction"}])
    result = run("import", "pandalm", path, ok=False)
    assert said(result, f"{path}:{item_line(path, 1)}: key 'instruction': missing required key")


def test_pandalm_judge_garbage_is_skipped_and_counted(project_dir: Path, store: Store):
    """'garbage' is PandaLM's mark for a judge answer it could not parse: no verdict, so skipped and counted by
    default (the bundled GPT-3.5 file has 25); any other unknown verdict is still a bad line."""
    _write_array(project_dir / "testset-v1.json", [_pandalm_item(i) for i in range(3)])
    judge = _write_array(project_dir / "gpt-3.5-turbo-testset-v1.json", [
        {"idx": 0, "gpt_result": "1", "gpt_reason": "r", "gpt_reference": "x"},
        {"idx": 1, "gpt_result": "garbage", "gpt_reason": "", "gpt_reference": ""},
        {"idx": 2, "gpt_result": "Tie", "gpt_reason": "", "gpt_reference": ""},
    ])
    result = run("import", "pandalm", judge)
    assert said(result, "imported 2 comparisons") and said(result, "1 skipped")
    assert said(result, "skipped 1: gpt_result 'garbage'")
    report = json.loads(run("import", "pandalm", judge, "--json").output)
    assert (report["stored"], report["duplicates"], report["rejected"], report["skipped"]) == (0, 2, 0, 1)
    stored = {c.extras["idx"]: c for c in store.iter_comparisons()}
    assert stored[0].rater == "gpt-3.5-turbo" and stored[0].choice.value == "a"
    assert stored[2].choice.value == "tie" and 1 not in stored
    _write_array(judge, [{"idx": 0, "gpt_result": "maybe", "gpt_reason": "", "gpt_reference": ""}])
    result = run("import", "pandalm", judge, ok=False)
    assert said(result, f"{judge}:{item_line(judge, 0)}: key 'gpt_result': unusable verdict 'maybe'")


def test_pandalm_judge_without_testset_is_one_clear_error(project_dir: Path):
    judge = _write_array(project_dir / "pandalm-7b-testset-v1.json", [{"idx": 0, "pandalm_result": 1}])
    assert said(run("import", "pandalm", judge, ok=False), "needs testset-v1.json in the same folder")


def test_prd_unknown_score_wrong_type_and_missing_answer(project_dir: Path, store: Store):
    rows = [{"question_id": 1, "text": "question 1", "score": 1}, {"question_id": 1, "text": "question 1",
                                                                   "score": "3"},
            {"question_id": 2, "text": "question 2", "score": 4}]
    v = _prd_tree(project_dir, rows)
    path = v / "ratings-human" / "answer_gpt4-vs-answer_bard-human-reviewer_threeclass.jsonl"
    assert said(run("import", "prd", v, ok=False), f"{path}:3: key 'score': unknown score value 4")
    write_lines(path, [rows[0], {"question_id": [2], "text": "question 2", "score": 1}])
    assert said(run("import", "prd", path, ok=False), f"{path}:2: key 'question_id': expected an integer, got list")
    write_lines(path, [rows[0], {"question_id": 9, "text": "question 9", "score": 1}])
    assert said(run("import", "prd", v, ok=False), f"{path}:2: key 'question_id': question 9 is not in")
    assert store.count_comparisons() == 0
