"""`tether reward eval / gate` on pairs whose objective the model has no head for: one clear error, before any
scoring (it used to score every pair, minutes on a CPU, and then fail with a KeyError)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tether.cli import app
from tether.io.v1 import pairs_to_v1
from tether.records import PreferencePair


@pytest.fixture(scope="module")
def quality_model(tiny_backbone: Path, toy_pairs: list[PreferencePair], tmp_path_factory: pytest.TempPathFactory
                  ) -> Path:
    from tether.reward.train import TrainConfig, train

    folder = tmp_path_factory.mktemp("rm")
    train([p for p in toy_pairs if p.objective == "quality"], folder,
          TrainConfig(backbone=str(tiny_backbone), max_steps=1, max_length=32, mixed_precision="no"), progress=False)
    return folder


def test_a_missing_head_is_refused_before_scoring(quality_model: Path, toy_pairs: list[PreferencePair],
                                                  project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = project_dir / "hh.jsonl"
    hh = [p.model_copy(update={"objective": "harmlessness"}) for p in toy_pairs[:5]]
    pairs.write_text("".join(json.dumps(r) + "\n" for r in pairs_to_v1([*toy_pairs[:3], *hh])))

    def no_scoring(*_a: object, **_k: object) -> None:
        raise AssertionError("scored before checking the heads")

    monkeypatch.setattr("tether.reward.model.score_matrix", no_scoring)
    for command in ("eval", "gate"):
        res = CliRunner().invoke(app, ["reward", command, str(quality_model), "--pairs", str(pairs)])
        assert res.exit_code == 2, res.output
        said = " ".join(res.output.split())
        assert "objective heads the model does not have: 'harmlessness' (5 pairs)" in said
        assert "the model's heads: quality" in said
    from tether.reward.evaluate import check_heads, evaluate
    from tether.reward.model import RewardModel

    with pytest.raises(ValueError, match="calibration pairs need objective heads"):
        evaluate(RewardModel.load(quality_model), toy_pairs[:3], calibration_pairs=hh)
    check_heads(RewardModel.load(quality_model), toy_pairs[:3])  # every head there: no error


def test_no_transformers_loading_bars(quality_model: Path, tmp_path: Path, project_dir: Path) -> None:
    (tmp_path / "in.jsonl").write_text(json.dumps({"prompt": "q", "response": "It is excellent."}) + "\n")
    res = CliRunner().invoke(app, ["reward", "score", str(quality_model), str(tmp_path / "in.jsonl"),
                                   str(tmp_path / "out.jsonl")])
    assert res.exit_code == 0, res.output
    assert "Loading weights" not in res.output and "it/s]" not in res.output
    assert res.output.startswith("scored 1 responses")
