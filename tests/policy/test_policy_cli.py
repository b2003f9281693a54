"""`tether policy sft` and `tether policy dpo` end to end on a tiny GPT-2, with the versions they record."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from dpo_helpers import save_tiny_policy, toy_pairs
from typer.testing import CliRunner

from tether.cli import app
from tether.io.v1 import pairs_to_v1

runner = CliRunner()
FAST = ["--max-length", "48", "--precision", "no"]


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_sft_then_dpo_record_versions_with_lineage(project_dir: Path) -> None:
    from tether.reward.data import fingerprint
    from tether.store import Store

    torch.set_num_threads(1)
    base = save_tiny_policy(project_dir / "base")
    data = project_dir / "sft.jsonl"
    data.write_text("".join(json.dumps({"prompt": p.prompt, "completion": " " + p.chosen}) + "\n"
                            for p in toy_pairs(24)))
    res = runner.invoke(app, ["policy", "sft", "sft", "--model", str(base), "--data", str(data), "--max-steps", "3",
                              "--batch-size", "8", "--prompt-format", "{prompt}\nA: {answer}", *FAST])
    assert res.exit_code == 0, res.output
    assert "trained 3 steps on 24 examples" in _flat(res.output) and "recorded as sft v1" in _flat(res.output)
    meta = json.loads((project_dir / "sft" / "tether_policy.json").read_text())
    assert meta["stage"] == "sft" and meta["prompt_format"].startswith("{prompt}\nA: {answer}")

    pairs = toy_pairs(16)
    store = Store(_store_url(project_dir))
    store.add_pairs(pairs, set_name="curated")
    store.close()
    res = runner.invoke(app, ["policy", "dpo", "dpo", "--model", "sft", "--set", "curated", "--max-steps", "2",
                              "--batch-size", "8", "--samples", "1", "--loss", "ipo", *FAST])
    assert res.exit_code == 0, res.output
    assert "trained 2 steps (ipo, beta 0.1) on 16 pairs of objective 'overall' (0 ties)" in _flat(res.output)
    html = (project_dir / "dpo" / "report.html").read_text()
    assert html.count("base64,") == 5 and "Samples (greedy)" in html and "Log-ratios to the reference" in html
    listing = json.loads(runner.invoke(app, ["models", "list", "--kind", "policy", "--json"]).stdout)
    assert [(v["name"], v["version"], v["parent"]) for v in listing] == [
        ("sft", "v1", str(base.resolve())), ("dpo", "v1", "sft v1")]
    dpo = listing[1]
    assert dpo["lineage"] == {"set": "curated", "file": None, "pairs": 16, "objective": "overall",
                              "fingerprint": fingerprint(pairs), "audit_runs": []}
    assert dpo["config"]["loss"] == "ipo" and dpo["metrics"]["steps"] == 2 and dpo["metrics"]["displacement"] is None


def _store_url(project_dir: Path) -> str:
    from tether.config import find_project

    return find_project(project_dir).database_url


def test_dpo_from_a_file_and_its_errors(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)  # a stray recording would land in ./.tether
    torch.set_num_threads(1)
    base = save_tiny_policy(tmp_path / "base")
    good = tmp_path / "pairs.jsonl"
    good.write_text("".join(json.dumps(r) + "\n" for r in pairs_to_v1(toy_pairs(8))))
    res = runner.invoke(app, ["policy", "dpo", str(tmp_path / "out"), "--model", str(base), "--pairs", str(good),
                              "--max-steps", "1", "--samples", "0", "--no-record", *FAST])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "report.html").is_file() and (tmp_path / "out" / "config.json").is_file()

    zero = tmp_path / "zero.jsonl"
    zero.write_text("".join(json.dumps(r) + "\n" for r in pairs_to_v1(
        [p.model_copy(update={"weight": 0.0}) for p in toy_pairs(3)])))
    res = runner.invoke(app, ["policy", "dpo", str(tmp_path / "z"), "--model", str(base), "--pairs", str(zero),
                              "--no-record"])
    assert res.exit_code == 2 and "none of the 3 pairs is usable" in _flat(res.output)
    assert not (tmp_path / "z").exists()

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "p", "completion": "c"}) + "\n" + json.dumps({"prompt": "p"}) + "\n")
    res = runner.invoke(app, ["policy", "sft", str(tmp_path / "s"), "--model", str(base), "--data", str(bad),
                              "--no-record"])
    assert res.exit_code == 2 and "bad.jsonl:2" in _flat(res.output) and "completion" in res.output
