"""`tether reward train / eval / score / gate` end to end on a tiny backbone, and their errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tether.cli import app
from tether.io.v1 import pairs_to_v1
from tether.records import PreferencePair
from tether.reward.gate import GateFailed, require_gate

runner = CliRunner()


def _write(path: Path, pairs: list[PreferencePair]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in pairs_to_v1(pairs)))
    return path


def test_train_eval_score_gate(tiny_backbone: Path, toy_pairs: list[PreferencePair], tmp_path: Path,
                              project_dir: Path) -> None:
    data = _write(tmp_path / "pairs.jsonl", toy_pairs)
    model = tmp_path / "rm"
    res = runner.invoke(app, ["reward", "train", str(model), "--pairs", str(data), "--backbone", str(tiny_backbone),
                              "--max-steps", "3", "--max-length", "32", "--precision", "no"])
    assert res.exit_code == 0, res.output
    assert "trained 3 steps" in _flat(res.output) and "quality: higher_is_better" in _flat(res.output)

    res = runner.invoke(app, ["reward", "eval", str(model), "--pairs", str(data), "--report", str(tmp_path / "r.html"),
                              "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["n_pairs"] == len(toy_pairs) and set(out["by_slice"]["objective"]) == {"quality", "safety"}
    assert (tmp_path / "r.html").read_text().count("base64,") == 2

    (tmp_path / "in.jsonl").write_text(json.dumps({"prompt": "q", "response": "It is excellent.", "id": 7}) + "\n")
    res = runner.invoke(app, ["reward", "score", str(model), str(tmp_path / "in.jsonl"), str(tmp_path / "o.jsonl")])
    assert res.exit_code == 0, res.output
    row = json.loads((tmp_path / "o.jsonl").read_text())
    assert row["id"] == 7 and set(row["scores"]) == {"quality", "safety"}

    # an impossible threshold fails the gate (exit 1) and require_gate refuses the model
    res = runner.invoke(app, ["reward", "gate", str(model), "--pairs", str(data), "--min-accuracy", "1.01"])
    assert res.exit_code == 1, res.output
    assert "FAIL accuracy" in _flat(res.output)
    try:
        require_gate(model)
        raise AssertionError("require_gate let a failed model through")
    except GateFailed as exc:
        assert "accuracy" in str(exc)
    res = runner.invoke(app, ["reward", "gate", str(model), "--pairs", str(data), "--min-accuracy", "0",
                              "--max-ece", "1", "--max-length-corr", "1", "--slice-floor", "task_type:0"])
    assert res.exit_code == 0, res.output
    assert require_gate(model).passed


def test_train_records_a_version_with_lineage(tiny_backbone: Path, toy_pairs: list[PreferencePair],
                                              project_dir: Path) -> None:
    from tether.reward.data import fingerprint

    data = _write(project_dir / "pairs.jsonl", toy_pairs)
    args = ["reward", "train", "rm", "--pairs", str(data), "--backbone", str(tiny_backbone), "--max-length", "32",
            "--precision", "no"]
    for steps in ("2", "3"):
        res = runner.invoke(app, [*args, "--max-steps", steps])
        assert res.exit_code == 0, res.output
    assert runner.invoke(app, ["reward", "gate", "rm", "--pairs", str(data), "--min-accuracy", "1.01"]).exit_code == 1
    listing = json.loads(runner.invoke(app, ["models", "list", "--json"]).stdout)
    assert [(v["name"], v["version"], v["kind"]) for v in listing] == [("rm", "v1", "reward"), ("rm", "v2", "reward")]
    v2 = json.loads(runner.invoke(app, ["models", "show", "rm"]).stdout)
    assert v2["config"]["max_steps"] == 3 and v2["metrics"]["steps"] == 3
    assert v2["lineage"] == {"set": None, "file": str(data.resolve()), "pairs": len(toy_pairs),
                             "fingerprint": fingerprint(toy_pairs), "audit_runs": []}
    assert {c["objective"] for c in v2["contracts"]} == {"quality", "safety"}
    assert v2["gate"]["passed"] is False and listing[0]["gate"] is None  # the gate lands on the newest version
    res = runner.invoke(app, ["models", "show", "rm", "v9"])
    assert res.exit_code == 2 and "recorded: v1, v2" in res.output


def test_bad_input_names_file_and_line(project_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}) + "\n"
                   + json.dumps({"prompt": "p", "chosen": "a", "rejected": "b", "weight": -1}) + "\n")
    res = runner.invoke(app, ["reward", "train", str(tmp_path / "rm"), "--pairs", str(bad)])
    assert res.exit_code == 2
    assert "bad.jsonl:2" in _flat(res.output) and "weight" in res.output
    res = runner.invoke(app, ["reward", "eval", str(tmp_path / "nope"), "--pairs", str(bad)])
    assert res.exit_code == 2 and "not a Tether reward model" in _flat(res.output)
    res = runner.invoke(app, ["reward", "train", str(tmp_path / "rm")])
    assert res.exit_code == 2 and "--pairs FILE or --set NAME" in _flat(res.output)


def _flat(text: str) -> str:
    """Console output with rich's line wrapping undone."""
    return " ".join(text.split())


def test_train_from_a_stored_set(project_dir: Path, tiny_backbone: Path, toy_pairs: list[PreferencePair]) -> None:
    """`--set NAME` reads the curated set from the project store (SQLite and PostgreSQL)."""
    from tether.config import find_project

    store = find_project().store()
    try:
        store.add_pairs(toy_pairs[:40], set_name="curated")
        store.add_pairs(toy_pairs[40:48], set_name="other")
    finally:
        store.close()
    res = runner.invoke(app, ["reward", "train", "rm", "--set", "curated", "--backbone", str(tiny_backbone),
                              "--max-steps", "1", "--max-length", "16", "--precision", "no"])
    assert res.exit_code == 0, res.output
    meta = json.loads((project_dir / "rm" / "reward_model.json").read_text())
    assert meta["n_pairs"] == 40
    res = runner.invoke(app, ["reward", "train", "rm2", "--set", "missing"])
    assert res.exit_code == 2 and "empty or missing" in _flat(res.output)


def test_max_grad_norm_reaches_training(tiny_backbone: Path, toy_pairs: list[PreferencePair],
                                        project_dir: Path) -> None:
    data = _write(project_dir / "pairs.jsonl", toy_pairs[:32])
    for norm, logged in (("0", False), ("0.5", True)):
        res = runner.invoke(app, ["reward", "train", f"rm-{norm}", "--pairs", str(data), "--backbone",
                                  str(tiny_backbone), "--max-steps", "1", "--max-length", "16", "--precision", "no",
                                  "--max-grad-norm", norm])
        assert res.exit_code == 0, res.output
        row = json.loads((project_dir / f"rm-{norm}" / "metrics.jsonl").read_text().splitlines()[0])
        assert ("grad_norm" in row) is logged  # 0: clipping off, so no norm is taken
