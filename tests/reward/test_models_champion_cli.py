"""`tether models challenge / promote / rollback / champion / diff` end to end on tiny reward models."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tether.cli import app
from tether.io.v1 import pairs_to_v1
from tether.records import PreferencePair

runner = CliRunner()


def test_challenge_promote_refuse_rollback_and_diff(tiny_backbone: Path, toy_pairs: list[PreferencePair],
                                                    project_dir: Path) -> None:
    data = project_dir / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in pairs_to_v1(toy_pairs)))
    for name, steps in (("rm_a", "2"), ("rm_b", "3")):
        res = runner.invoke(app, ["reward", "train", name, "--pairs", str(data), "--backbone", str(tiny_backbone),
                                  "--max-steps", steps, "--max-length", "32", "--precision", "no"])
        assert res.exit_code == 0, res.output
    common = ["--pairs", str(data), "--bootstrap", "200"]

    res = runner.invoke(app, ["models", "challenge", "rm_a", *common, "--max-ece", "1"])  # no champion yet
    assert res.exit_code == 0, res.output
    assert "no champion for this role yet" in res.output and "promoted: rm_a" in res.output
    assert runner.invoke(app, ["models", "challenge", "rm_a", *common]).exit_code == 2  # already serves

    res = runner.invoke(app, ["models", "challenge", "rm_b", *common, "--max-ece", "0", "--json"])
    assert res.exit_code == 1, res.output
    result = json.loads(res.stdout)
    assert result["recorded"] == "refuse" and not result["passed"]
    assert {c["name"] for c in result["checks"] if not c["passed"]} >= {"challenger ece"}
    assert result["champion"]["accuracy"] is not None and "accuracy_lo" in result["difference"]

    assert runner.invoke(app, ["models", "promote", "rm_b", "--reason", "override: rm_a is retired"]).exit_code == 0
    listing = json.loads(runner.invoke(app, ["models", "list", "--json"]).stdout)
    assert {v["name"]: v["champion_of"] for v in listing} == {"rm_a": [], "rm_b": ["reward"]}

    res = runner.invoke(app, ["models", "rollback", "--to", "nope"])
    assert res.exit_code == 2 and "not an earlier champion" in res.output
    res = runner.invoke(app, ["models", "rollback", "--to", "rm_a@v1", "--reason", "b regressed"])
    assert res.exit_code == 0 and "rm_a serves role 'reward'" in res.output.replace("\n", "")
    history = json.loads(runner.invoke(app, ["models", "champion", "--json"]).stdout)
    assert history["champion"].endswith("rm_a")
    assert [(h["action"], h["model"]) for h in history["history"]] == [
        ("promote", "rm_a"), ("refuse", "rm_b"), ("promote", "rm_b"), ("rollback", "rm_a")]
    res = runner.invoke(app, ["models", "champion"], env={"COLUMNS": "200"})
    assert "failed challenger ece" in res.output and "b regressed" in res.output

    res = runner.invoke(app, ["models", "rollback"])
    assert res.exit_code == 2 and "nothing to roll back to" in res.output
    res = runner.invoke(app, ["models", "diff", "rm_a", "v1", "rm_b@v1"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "config.max_steps: 2 -> 3" in res.output
