"""The first hour of a new user, import side: folders, damaged .gz files, non-UTF-8 lines, many bad lines,
PandaLM's bundled judge file."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from tests.io.helpers import DATA, run, said, write_lines

from tether.store import Store


def _cmp(i: int, **kw) -> dict:
    row = {"prompt": f"p{i}", "response_a": f"a{i}", "response_b": f"b{i}", "shown_first": "a", "choice": "b",
           "rater": "r1"}
    row.update(kw)
    return row


@pytest.mark.parametrize("kind", ["comparisons", "pandalm", "hh-rlhf", "events"])
def test_a_folder_is_one_clear_error(project_dir: Path, kind: str):
    (project_dir / "dir").mkdir()
    result = run("import", kind, project_dir / "dir", ok=False)
    assert result.exit_code == 2 and not isinstance(result.exception, IsADirectoryError)
    assert said(result, f"{project_dir / 'dir'}: is a folder; kind {kind!r} reads one file "
                        "(a folder: argilla, hf, hf-comparisons, prd)")


def test_a_truncated_gzip_names_the_line_and_skip_bad_keeps_the_whole_lines(project_dir: Path, store: Store):
    whole = gzip.compress("".join(json.dumps(_cmp(i)) + "\n" for i in range(400)).encode())
    cut = project_dir / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) * 3 // 4])
    result = run("import", "comparisons", cut, ok=False)
    assert result.exit_code == 2 and "Aborted" not in result.output
    assert said(result, "the compressed file is cut short or damaged after line")
    assert store.count_comparisons() == 0
    report = json.loads(run("import", "comparisons", cut, "--skip-bad", project_dir / "bad.jsonl", "--json").output)
    assert report["rejected"] == 1 and 0 < report["stored"] < 400
    bad = json.loads((project_dir / "bad.jsonl").read_text())
    assert bad["line"] == report["stored"] + 1  # right after the last whole line


def test_a_gz_name_on_plain_text_is_one_clear_error(project_dir: Path):
    plain = write_lines(project_dir / "plain.jsonl.gz", [_cmp(0)])
    result = run("import", "comparisons", plain, ok=False)
    assert result.exit_code == 2 and not isinstance(result.exception, gzip.BadGzipFile)
    assert said(result, f"{plain}: not gzip data") and said(result, "rename it without .gz")


def test_skip_bad_keeps_the_good_lines_around_a_non_utf8_line(project_dir: Path, store: Store):
    path = project_dir / "mixed.jsonl"
    lines = [json.dumps(_cmp(i)).encode() for i in range(3)]
    path.write_bytes(lines[0] + b"\n" + b'{"prompt": "caf\xe9"}\n' + lines[1] + b"\n" + lines[2] + b"\n")
    result = run("import", "comparisons", path, ok=False)
    assert said(result, f"{path}:2: not UTF-8 text")
    assert store.count_comparisons() == 0
    report = json.loads(run("import", "comparisons", path, "--skip-bad", project_dir / "bad.jsonl", "--json").output)
    assert (report["stored"], report["rejected"]) == (3, 1)
    assert json.loads((project_dir / "bad.jsonl").read_text())["line"] == 2


def test_non_utf8_in_a_json_array_names_its_line(project_dir: Path):
    path = project_dir / "testset-v1.json"
    path.write_bytes(b'[\n    {\n        "idx": 0,\n        "instruction": "caf\xe9"\n    }\n]\n')
    assert said(run("import", "pandalm", path, ok=False), f"{path}:4: not UTF-8 text")


def test_an_import_lists_its_bad_lines_up_to_20(project_dir: Path, store: Store):
    rows = [_cmp(i) if i % 2 else _cmp(i, shown_first="left") for i in range(60)]  # 30 bad lines
    path = write_lines(project_dir / "dirty.jsonl", rows)
    result = run("import", "comparisons", path, ok=False)
    assert said(result, f"30 bad lines in {path}:")
    for line in range(1, 40, 2):  # the first 20 bad lines, each named
        assert said(result, f"{path}:{line}: key 'shown_first'")
    assert not said(result, f"{path}:41:") and said(result, "... and 10 more")
    assert store.count_comparisons() == 0
    one = write_lines(project_dir / "one.jsonl", [_cmp(0), _cmp(1, choice="x")])
    assert said(run("import", "comparisons", one, ok=False), f"{one}:2: key 'choice'")


def test_the_bundled_gpt_judge_file_imports_without_skip_bad(project_dir: Path, store: Store):
    result = run("import", "pandalm", DATA / "pandalm" / "gpt-3.5-turbo-testset-v1.json")
    assert said(result, "imported 974 comparisons") and said(result, "25 skipped")
    assert store.count_comparisons() == 974
