"""Ensembles (aggregation, disagreement) and the other backbone kinds (causal LM, sequence classifier)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tether.records import PreferencePair
from tether.reward import load
from tether.reward.ensemble import RewardEnsemble, aggregate, train_ensemble
from tether.reward.train import TrainConfig, train

CFG = TrainConfig(max_steps=4, batch_size=16, lr=1e-3, max_length=32, mixed_precision="no")


def test_aggregations() -> None:
    m = np.array([[1.0, 2.0, 0.0], [3.0, 0.0, 0.0], [2.0, 1.0, 3.0]])
    np.testing.assert_allclose(aggregate(m, "mean"), [2.0, 1.0, 1.0])
    np.testing.assert_allclose(aggregate(m, "min"), [1.0, 0.0, 0.0])
    np.testing.assert_allclose(aggregate(m, "mean_var", lam=0.5), [2 - 0.5 * 2 / 3, 1 - 0.5 * 2 / 3, 1 - 0.5 * 2])
    with pytest.raises(ValueError, match="aggregation"):
        aggregate(m, "median")  # type: ignore[arg-type]


def test_ensemble_scores_come_with_disagreement(tiny_backbone: Path, toy_pairs: list[PreferencePair],
                                                tmp_path: Path) -> None:
    ens = train_ensemble(toy_pairs, tmp_path / "ens", replace(CFG, backbone=str(tiny_backbone)), k=2,
                         aggregation="mean_var", lam=2.0, progress=False)
    again = load(tmp_path / "ens")
    assert isinstance(again, RewardEnsemble) and again.aggregation == "mean_var" and again.lam == 2.0
    prompts, responses = ["q"] * 3, ["It is excellent.", "It is terrible.", "hello"]
    res = again.score(prompts, responses)
    for obj in ("quality", "safety"):
        members = np.stack([m.score(prompts, responses)[obj] - m.contract(obj).normalization["mean"]
                            for m in again.members])
        np.testing.assert_allclose(res.members[obj], members)
        np.testing.assert_allclose(res.disagreement[obj], members.std(0))
        np.testing.assert_allclose(res.scores[obj], members.mean(0) - 2.0 * members.var(0))
    assert (res.disagreement["quality"] > 0).all()  # bootstrap members differ
    assert ens.objectives == ["quality", "safety"]


def test_causal_backbone_last_token_pooling(toy_pairs: list[PreferencePair], tmp_path: Path) -> None:
    """A tiny GPT-2 (the sim policy's architecture) as the body: pad token added, last real token pooled."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2Model, PreTrainedTokenizerFast

    words = sorted({w for p in toy_pairs for t in (p.prompt, p.chosen, p.rejected) for w in t.split()})
    vocab = {"<unk>": 0, "<eos>": 1, **{w: i + 2 for i, w in enumerate(words)}}
    raw = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="<unk>", eos_token="<eos>")
    body = tmp_path / "gpt2"
    GPT2Model(GPT2Config(vocab_size=len(vocab), n_embd=32, n_layer=2, n_head=2, n_positions=64)).save_pretrained(body)
    tok.save_pretrained(body)
    train(toy_pairs, tmp_path / "rm", replace(CFG, backbone=str(body)), progress=False)
    rm = load(tmp_path / "rm")
    assert rm.net.kind == "causal" and rm.net.pooling == "last"
    # right padding must not change a score: one response alone vs batched with a much longer one
    alone = rm.score(["q"], ["It is excellent."])["quality"]
    batched = rm.score(["q", "q"], ["It is excellent.", "It is really very so quite excellent excellent."])["quality"]
    np.testing.assert_allclose(alone, batched[:1], atol=1e-5)


def test_seqcls_backbone_saves_a_plain_transformers_classifier(tiny_backbone: Path,
                                                               toy_pairs: list[PreferencePair],
                                                               tiny_config, tmp_path: Path) -> None:  # noqa: ANN001
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    clf = tmp_path / "clf"
    AutoModelForSequenceClassification.from_config(tiny_config(num_labels=1)).save_pretrained(clf)
    AutoTokenizer.from_pretrained(tiny_backbone).save_pretrained(clf)
    train(toy_pairs, tmp_path / "rm", replace(CFG, backbone=str(clf)), progress=False)
    rm = load(tmp_path / "rm")
    assert rm.net.kind == "seqcls"
    plain = AutoModelForSequenceClassification.from_pretrained(tmp_path / "rm")  # no Tether needed to read it
    assert plain.config.num_labels == 2
    tok = AutoTokenizer.from_pretrained(tmp_path / "rm")
    enc = tok(["q"], ["It is excellent."], return_tensors="pt", return_token_type_ids=False)  # as Tether feeds it
    with torch.inference_mode():
        logits = plain(**enc).logits[0].numpy()
    ours = rm.score(["q"], ["It is excellent."])
    np.testing.assert_allclose([ours["quality"][0], ours["safety"][0]], logits, atol=1e-5)
