"""Training, saving, loading and scoring with a tiny BERT: contracts, heads per objective, weights, resume."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from tether.records import PreferencePair
from tether.reward.data import fingerprint
from tether.reward.model import RewardModel
from tether.reward.train import TrainConfig, train

CFG = TrainConfig(epochs=6, batch_size=16, lr=1e-3, head_lr=3e-3, max_length=32, center_coefficient=0.01,
                  mixed_precision="no", name="toy")


@pytest.fixture(scope="module")
def trained(tiny_backbone: Path, toy_pairs: list[PreferencePair], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rm") / "toy"
    train(toy_pairs, out, replace(CFG, backbone=str(tiny_backbone)), progress=False)
    return out


def test_saved_folder_is_hf_and_has_contracts(trained: Path, toy_pairs: list[PreferencePair]) -> None:
    from transformers import AutoModel, AutoTokenizer

    AutoModel.from_pretrained(trained)  # plain transformers can read the body
    AutoTokenizer.from_pretrained(trained)
    contracts = json.loads((trained / "reward_contract.json").read_text())["contracts"]
    assert [c["objective"] for c in contracts] == ["quality", "safety"]
    assert all(c["direction"] == "higher_is_better" and c["scale"] == "logit" for c in contracts)
    assert {c["data_fingerprint"] for c in contracts} == {fingerprint(toy_pairs)}
    # normalization stats are the head's scores on the responses of its own training pairs
    rm = RewardModel.load(trained)
    for k, obj in enumerate(["quality", "safety"]):
        ps = [p for p in toy_pairs if p.objective == obj]
        s = rm.score([p.prompt for p in ps] * 2, [p.chosen for p in ps] + [p.rejected for p in ps])[obj]
        assert contracts[k]["normalization"]["mean"] == pytest.approx(s.mean(), abs=1e-4)
        assert contracts[k]["normalization"]["std"] == pytest.approx(s.std(), abs=1e-4)
        z = rm.score([p.prompt for p in ps], [p.chosen for p in ps], normalize=True)[obj]
        raw = rm.score([p.prompt for p in ps], [p.chosen for p in ps])[obj]
        np.testing.assert_allclose(z, (raw - s.mean()) / s.std(), atol=1e-3)


def test_objectives_are_kept_apart(trained: Path, toy_pairs: list[PreferencePair]) -> None:
    """quality prefers 'excellent', safety (flipped toy labels) prefers 'terrible': one head each, never summed."""
    rm = RewardModel.load(trained)
    scores = rm.score(["How is it?"] * 2, ["It is excellent.", "It is terrible."])
    assert set(scores) == {"quality", "safety"}
    assert scores["quality"][0] > scores["quality"][1]
    assert scores["safety"][0] < scores["safety"][1]
    margins = rm.pair_margins(toy_pairs)
    assert (margins > 0).mean() >= 0.95  # each pair judged by its own objective's head


def test_fingerprint_tracks_labels(toy_pairs: list[PreferencePair]) -> None:
    changed = [toy_pairs[0].model_copy(update={"weight": 0.5}), *toy_pairs[1:]]
    assert fingerprint(changed) != fingerprint(toy_pairs)
    assert fingerprint(list(reversed(toy_pairs))) == fingerprint(toy_pairs)


def test_zero_weights_leave_the_model_unchanged(tiny_backbone: Path, toy_pairs: list[PreferencePair],
                                                tmp_path: Path) -> None:
    """Audit weights reach the loss: pairs of weight 0 give no gradient, so AdamW moves nothing."""
    from tether.reward.backbones import load

    zero = [p.model_copy(update={"weight": 0.0}) for p in toy_pairs[:32]]
    cfg = replace(CFG, backbone=str(tiny_backbone), max_steps=3, center_coefficient=None, objectives=["quality"])
    train(zero, tmp_path / "z", cfg, progress=False)
    net, _ = load(tmp_path / "z")
    from transformers import AutoModel

    from tether.reward.backbones import build

    body = AutoModel.from_pretrained(tiny_backbone)
    for (n, a), (_, b) in zip(net.body.state_dict().items(), body.state_dict().items(), strict=True):
        torch.testing.assert_close(a, b, msg=n)
    torch.manual_seed(cfg.seed)  # train() builds the heads right after seeding: the same fresh heads
    fresh, _ = build(str(tiny_backbone), ["quality"])
    torch.testing.assert_close(net.heads.weight, fresh.heads.weight)


def test_resume_continues_exactly(tiny_backbone: Path, toy_pairs: list[PreferencePair], tmp_path: Path) -> None:
    cfg = replace(CFG, backbone=str(tiny_backbone), max_steps=6, save_every=3, center_coefficient=None)
    train(toy_pairs, tmp_path / "full", cfg, progress=False)
    assert (tmp_path / "full" / "checkpoints" / "step-3" / "trainer_state.json").is_file()
    # a run that stopped after step 3: only its checkpoint exists; resuming must reproduce the full run
    shutil.copytree(tmp_path / "full" / "checkpoints" / "step-3", tmp_path / "cut" / "checkpoints" / "step-3")
    res = train(toy_pairs, tmp_path / "cut", cfg, resume=True, progress=False)
    assert res.steps == 6 and res.pairs_seen == 3 * 16
    a = RewardModel.load(tmp_path / "full").raw_scores(["q"] * 2, ["It is excellent.", "meh"])
    b = RewardModel.load(tmp_path / "cut").raw_scores(["q"] * 2, ["It is excellent.", "meh"])
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_unknown_objective_and_bad_backbone_raise(tiny_backbone: Path, toy_pairs: list[PreferencePair],
                                                  tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="objective"):
        train(toy_pairs, tmp_path / "x", replace(CFG, backbone=str(tiny_backbone), objectives=["quality"]),
              progress=False)
    with pytest.raises(FileNotFoundError, match="config.json"):
        train(toy_pairs, tmp_path / "y", replace(CFG, backbone=str(tmp_path)), progress=False)
    with pytest.raises(FileNotFoundError, match="not a Tether reward model"):
        RewardModel.load(tiny_backbone)


def test_normalization_stats_come_from_a_bounded_sample(tiny_backbone: Path, toy_pairs: list[PreferencePair],
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tether.reward.train as train_module

    monkeypatch.setattr(train_module, "STATS_PAIRS", 8)
    train(toy_pairs, tmp_path / "s", replace(CFG, backbone=str(tiny_backbone), max_steps=1), progress=False)
    contracts = json.loads((tmp_path / "s" / "reward_contract.json").read_text())["contracts"]
    assert [c["normalization"]["n"] for c in contracts] == [16.0, 16.0]  # both responses of 8 pairs each
    assert all(c["normalization"]["std"] > 0 for c in contracts)
