"""`tether outcomes audit / pairs / grade` through Typer, on files: results, exports and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from tether.collect.campaign import read_items
from tether.io.v1 import read_pairs
from tether.outcomes.audit_cli import register
from tether.records import PreferencePair

app = typer.Typer()
register(app)
runner = CliRunner()
GSM8K = Path(__file__).parent.parent / "data" / "gsm8k"


def _write(path: Path, lines: list) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def _scored(path: Path, n_prompts: int = 30, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    lines = []
    for p in range(n_prompts):
        for j in range(3):
            passed = bool(rng.random() < 0.5)
            lines.append({"prompt": f"question {p}", "response": f"answer {j} of {p}", "score": float(
                passed + rng.normal()), "passed": passed, "task_type": "math" if p % 2 else "code"})
    return _write(path, lines)


def test_audit_writes_report_cases_and_campaign_items(tmp_path: Path) -> None:
    src = _scored(tmp_path / "s.jsonl")
    res = runner.invoke(app, ["audit", str(src), "--bootstrap", "50", "--report", str(tmp_path / "r.html"),
                              "--cases", str(tmp_path / "cases.jsonl"), "--items", str(tmp_path / "items.jsonl")],
                         env={"COLUMNS": None})  # xdist workers set COLUMNS=80: the slice table's cells would wrap
    assert res.exit_code == 0, res.output
    assert "Overall the reward model ranks passing above failing" in res.output
    assert "task_type=code" in res.output and "best-of-n" in res.output
    html = (tmp_path / "r.html").read_text()
    assert "<h2>Verdict</h2>" in html and html.count("data:image/png;base64,") == 4
    cases = [json.loads(x) for x in (tmp_path / "cases.jsonl").read_text().splitlines()]
    items = read_items(tmp_path / "items.jsonl")
    assert cases and len(items) == len(cases)
    for c in cases:
        assert c["failing_score"] > c["passing_score"]


def _cli_and_library(src: Path, options: list[str], **config: object) -> tuple[dict, object]:
    """`tether outcomes audit SRC OPTIONS --json` and `audit_outcomes` with `AuditConfig(**config)`."""
    from tether.outcomes.audit import AuditConfig, audit_outcomes
    from tether.outcomes.scored import read_scored

    res = runner.invoke(app, ["audit", str(src), *options, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout), audit_outcomes(read_scored(src), AuditConfig(**config))


def test_audit_json_matches_the_library(tmp_path: Path) -> None:
    src = _scored(tmp_path / "s.jsonl", seed=1)
    got, lib = _cli_and_library(src, ["--bootstrap", "30", "--seed", "2"], n_boot=30, seed=2)
    assert got["overall"]["auc"]["value"] == pytest.approx(lib.overall.auc.value)
    assert got["overall"]["auc"]["lo"] == pytest.approx(lib.overall.auc.lo)
    assert got["verdict"] == lib.verdict


def test_audit_slice_level_sets_the_slice_against_rest_intervals(tmp_path: Path) -> None:
    src = _scored(tmp_path / "s.jsonl", seed=3)
    got, lib = _cli_and_library(src, ["--bootstrap", "30", "--slice-level", "0.99"], n_boot=30, slice_level=0.99)
    assert got["config"]["slice_level"] == 0.99
    assert [(g["key"], g["value"], g["gap"]["lo"]) for g in got["slice_gaps"]] == [
        (g.key, g.value, pytest.approx(g.gap.lo)) for g in lib.slice_gaps]
    bad = runner.invoke(app, ["audit", str(src), "--slice-level", "95"])
    assert bad.exit_code != 0 and "--slice-level must lie between 0 and 1 (got 95.0)" in bad.output


def test_audit_joins_an_outcomes_file(tmp_path: Path) -> None:
    scores = _write(tmp_path / "s.jsonl", [{"task_id": f"T{p}", "sample": j, "prompt": f"q{p}",
                                            "completion": f"c{j}", "score": float(j)}
                                           for p in range(8) for j in range(3)])
    outcomes = _write(tmp_path / "o.jsonl", [{"task_id": f"T{p}", "sample": j, "passed": j == 2 or p == 0,
                                              "status": "passed" if j == 2 else "failed"}
                                             for p in range(8) for j in range(3) if (p, j) != (7, 1)])
    res = runner.invoke(app, ["audit", str(scores), "--outcomes", str(outcomes), "--bootstrap", "20", "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    assert got["overall"]["n"] == 23
    # within each prompt the highest-scored sample (2) is the one that passes
    assert got["overall"]["best_of_n"]["value"] == 1.0 and got["overall"]["pairwise"]["value"] == 1.0
    assert "1 responses in" in res.output and "have no outcome" in res.output


def test_audit_bad_input_names_line_and_key(tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.jsonl", [{"prompt": "q", "response": "a", "score": 1, "passed": True},
                                          "{broken", {"prompt": "q", "response": "b", "passed": False}])
    res = runner.invoke(app, ["audit", str(bad)])
    assert res.exit_code == 2
    assert "bad.jsonl:2: not valid JSON" in res.output
    assert "bad.jsonl:3: missing key 'score'" in res.output
    no_outcome = _write(tmp_path / "n.jsonl", [{"prompt": "q", "response": "a", "score": 1}])
    res = runner.invoke(app, ["audit", str(no_outcome)])
    assert res.exit_code == 2 and "n.jsonl:1: missing key 'passed'" in res.output
    res = runner.invoke(app, ["audit", str(tmp_path / "absent.jsonl")])
    assert res.exit_code == 2 and "absent.jsonl: no such file" in res.output
    res = runner.invoke(app, ["audit", str(bad), "--campaign", "x"])
    assert res.exit_code == 2 and "--campaign needs --rubric" in res.output


def test_outcome_pairs_train_a_reward_model_that_the_audit_scores(tmp_path: Path) -> None:
    """End to end: outcomes -> `pairs` -> tether.reward.train (a tiny BERT) -> `audit --model` on fresh responses."""
    import torch
    from transformers import AutoModel, AutoTokenizer, BertConfig

    from tether.reward.backbones import resolve_path
    from tether.reward.train import TrainConfig, train

    backbone = tmp_path / "tiny-bert"
    torch.manual_seed(0)
    AutoModel.from_config(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=128)).save_pretrained(backbone)
    AutoTokenizer.from_pretrained(resolve_path("minilm")).save_pretrained(backbone)

    def responses(n: int, seed: int) -> list[dict]:
        rng = np.random.default_rng(seed)
        out = []
        for p in range(n):
            for j in range(2):
                ok = bool(j == p % 2)  # one passing, one failing response per prompt
                word = "correct" if ok else "wrong"
                out.append({"prompt": f"task {seed}-{p}", "response": f"{'so ' * int(rng.integers(0, 4))}{word}.",
                            "passed": ok, "score": 0.0})
        return out

    outcomes = _write(tmp_path / "train.jsonl", responses(40, 0))
    res = runner.invoke(app, ["pairs", str(outcomes), "-o", str(tmp_path / "pairs.jsonl")])
    assert res.exit_code == 0, res.output
    pairs = [p for _, p in read_pairs(tmp_path / "pairs.jsonl")]
    train(pairs, tmp_path / "rm", TrainConfig(backbone=str(backbone), max_steps=30, batch_size=8, lr=1e-3,
                                              max_length=32, mixed_precision="no", log_with=""), progress=False)
    fresh = _write(tmp_path / "fresh.jsonl", [{k: v for k, v in r.items() if k != "score"}
                                              for r in responses(20, 1)])
    res = runner.invoke(app, ["audit", str(fresh), "--model", str(tmp_path / "rm"), "--bootstrap", "20", "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    o = got["overall"]
    assert o["auc"]["value"] > 0.8 and o["auc"]["lo"] > 0.5  # it learned what passes, and the audit sees it
    assert o["random"]["value"] == 0.5 and o["best_of_n"]["value"] >= 0.75 and o["oracle"]["value"] == 1.0
    res = runner.invoke(app, ["audit", str(fresh), "--model", str(tmp_path / "nothing-here")])
    assert res.exit_code == 2 and "error:" in res.output


def test_pairs_command_writes_trainable_pairs(tmp_path: Path) -> None:
    src = _scored(tmp_path / "s.jsonl", n_prompts=12, seed=3)
    out = tmp_path / "pairs.jsonl"
    res = runner.invoke(app, ["pairs", str(src), "-o", str(out), "--weight", "0.5", "--max-per-prompt", "0"])
    assert res.exit_code == 0, res.output
    items = list(read_pairs(out))  # the reader `tether reward train --pairs` uses
    pairs = [p for _, p in items]
    assert pairs and all(isinstance(p, PreferencePair) for p in pairs)
    rows = [json.loads(x) for x in src.read_text().splitlines()]
    outcome = {(r["prompt"], r["response"]): r["passed"] for r in rows}
    for p in pairs:
        assert outcome[(p.prompt, p.chosen)] and not outcome[(p.prompt, p.rejected)]
        assert p.weight == 0.5 and p.provenance["source"] == "outcome"
    expected = 0
    for q in {r["prompt"] for r in rows}:
        got = [r["passed"] for r in rows if r["prompt"] == q]
        expected += sum(got) * (len(got) - sum(got))
    assert len(pairs) == expected
    assert f"{expected} outcome pairs" in res.output


def test_pairs_command_closest_match(tmp_path: Path) -> None:
    lines = [{"prompt": "q", "response": t, "passed": ok} for t, ok in [
        ("I think it is 7. Please double-check this, I may be mistaken.", True), ("It is 8.", False),
        ("It is 7.", True), ("I think it is 9. Please double-check this, I may be mistaken.", False)]]
    src = _write(tmp_path / "s.jsonl", lines)
    out = tmp_path / "pairs.jsonl"
    res = runner.invoke(app, ["pairs", str(src), "-o", str(out), "--match", "closest"])
    assert res.exit_code == 0, res.output
    got = {(p.chosen, p.rejected) for _, p in read_pairs(out)}
    assert got == {("It is 7.", "It is 8."), (lines[0]["response"], lines[3]["response"])}
    assert "2 outcome pairs" in res.output
    res = runner.invoke(app, ["pairs", str(src), "-o", str(out), "--match", "closest", "--min-similarity", "0.99"])
    assert res.exit_code == 2
    assert "no prompt has both a passing and a failing response at --min-similarity" in res.output
    res = runner.invoke(app, ["pairs", str(src), "-o", str(out), "--match", "near"])
    assert res.exit_code == 2 and "--match must be one of all, closest, got 'near'" in res.output
    res = runner.invoke(app, ["pairs", str(src), "-o", str(out), "--min-similarity", "0.5"])
    assert res.exit_code == 2 and "needs --match closest" in res.output


def test_pairs_command_without_mixed_prompts_fails(tmp_path: Path) -> None:
    src = _write(tmp_path / "s.jsonl", [{"prompt": "q", "response": "a", "passed": True},
                                        {"prompt": "q", "response": "b", "passed": True}])
    res = runner.invoke(app, ["pairs", str(src), "-o", str(tmp_path / "p.jsonl")])
    assert res.exit_code == 2 and "no prompt has both a passing and a failing response" in res.output
    res = runner.invoke(app, ["pairs", str(_write(tmp_path / "m.jsonl", [{"prompt": "q", "response": "a"}])),
                              "-o", str(tmp_path / "p.jsonl")])
    assert res.exit_code == 2 and "m.jsonl:1: missing key 'passed'" in res.output


def test_grade_command_on_real_gsm8k_lines(tmp_path: Path) -> None:
    sols = [json.loads(x) for x in (GSM8K / "example_model_solutions_head40.jsonl").read_text().splitlines()][:10]
    refs = [json.loads(x) for x in (GSM8K / "test_head40.jsonl").read_text().splitlines()][:10]
    lines = [{"prompt": s["question"], "response": s["175b_verification"]["solution"], "answer": r["answer"],
              "is_correct": s["175b_verification"]["is_correct"]} for s, r in zip(sols, refs, strict=True)]
    src = _write(tmp_path / "in.jsonl", lines)
    res = runner.invoke(app, ["grade", str(src), "-o", str(tmp_path / "out.jsonl")])
    assert res.exit_code == 0, res.output
    graded = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [g["passed"] for g in graded] == [g["is_correct"] for g in graded]
    n = sum(g["passed"] for g in graded)
    assert f"{n} of 10 responses correct" in res.output


def test_grade_command_bad_input(tmp_path: Path) -> None:
    src = _write(tmp_path / "in.jsonl", [{"response": "#### 4", "answer": "#### 4"}, {"response": "4"}])
    res = runner.invoke(app, ["grade", str(src), "-o", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 2 and "in.jsonl:2: missing key 'answer'" in res.output
    src = _write(tmp_path / "in2.jsonl", [{"response": "4", "answer": "no number"}])
    res = runner.invoke(app, ["grade", str(src), "-o", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 2 and "in2.jsonl:1: key 'answer': the reference answer has no number" in res.output
    src = _write(tmp_path / "in3.jsonl", ["[1, 2]"])
    res = runner.invoke(app, ["grade", str(src), "-o", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 2 and "in3.jsonl:1: expected a JSON object" in res.output


def test_audit_opens_the_disagreements_as_a_campaign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tether.cli_support import open_store
    from tether.collect.campaign import get_campaign
    from tether.config import init_project

    src = _scored(tmp_path / "s.jsonl", seed=4)
    init_project(tmp_path / "proj")
    monkeypatch.chdir(tmp_path / "proj")
    monkeypatch.delenv("TETHER_DATABASE_URL", raising=False)
    (tmp_path / "rubric.md").write_text("Which answer is correct?")
    res = runner.invoke(app, ["audit", str(src), "--bootstrap", "0", "--campaign", "rm-mistakes", "--rubric",
                              str(tmp_path / "rubric.md"), "--items", str(tmp_path / "items.jsonl")])
    assert res.exit_code == 0, res.output
    n = len((tmp_path / "items.jsonl").read_text().splitlines())
    assert n > 0 and f"opened campaign 'rm-mistakes' with {n} items" in res.output
    store = open_store()
    try:
        with store.engine.connect() as conn:
            assert get_campaign(conn, "rm-mistakes").settings.name == "rm-mistakes"
    finally:
        store.close()
    again = runner.invoke(app, ["audit", str(src), "--bootstrap", "0", "--campaign", "rm-mistakes", "--rubric",
                                str(tmp_path / "rubric.md")])
    assert again.exit_code == 2 and "already exists" in again.output


def test_audit_reads_exported_events_joined_by_trace(tmp_path: Path) -> None:
    """One events export holds the generations (scored) and their outcomes, which arrive later by trace."""
    lines = []
    day = "2026-01-01T00:00:00Z"
    for t in range(12):
        passed = t % 3 != 0
        lines.append({"event_id": f"g{t}", "type": "generation", "trace_id": f"tr{t}", "timestamp": day,
                      "model": "v1" if t < 6 else "v2", "prompt": f"p{t // 2}", "response": f"r{t}",
                      "score": float(passed) + 0.1 * t})
        lines.append({"event_id": f"f{t}", "type": "feedback", "trace_id": f"tr{t}", "timestamp": day,
                      "name": "thumbs", "value": -1})
        lines.append({"event_id": f"o{t}", "type": "outcome", "trace_id": f"tr{t}", "timestamp": day,
                      "name": "tests_passed", "value": int(passed)})
        lines.append({"event_id": f"x{t}", "type": "outcome", "trace_id": f"tr{t}", "timestamp": day,
                      "name": "ticket_resolved", "value": "resolved"})
    events = _write(tmp_path / "events.jsonl", lines)
    res = runner.invoke(app, ["audit", str(events), "--outcomes", str(events), "--outcome-name", "tests_passed",
                              "--bootstrap", "10", "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    assert got["overall"]["n"] == 12 and got["overall"]["n_passed"] == 8 and got["overall"]["auc"]["value"] == 1.0
    assert set(got["by_slice"]["model"]) == {"v1", "v2"}
    res = runner.invoke(app, ["audit", str(events), "--outcomes", str(events), "--outcome-name", "nps"])
    assert res.exit_code == 2 and "no outcome named 'nps' in the file" in res.output
