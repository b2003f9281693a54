"""Rater reliability: the label models find spammers, position-biased and length-biased raters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tether.audit import AuditConfig, build_table, run_audit
from tether.audit.reliability import rate_raters, read_gold

FAST = AuditConfig(n_bootstrap=0, min_shared_items=5)


@pytest.fixture
def mixed(synth):
    raters = [synth.Rater("good1", 0.95), synth.Rater("good2", 0.9), synth.Rater("good3", 0.9),
              synth.Rater("spam", spam=True), synth.Rater("first", first_bias=0.8),
              synth.Rater("long", longer_bias=0.6), synth.Rater("novice", accuracy=0.4)]
    return synth.campaign(raters, n_items=300, per_item=5, seed=3)


def test_reliability_orders_raters_and_flags_spammers(mixed):
    rows, truth = mixed
    table = build_table(rows)
    rel = rate_raters(table)
    r = {name: s for name, s in rel.raters.items()}
    for good in ("good1", "good2", "good3"):
        assert r[good].reliability > 0.8 and not r[good].spammer
        assert r[good].consensus_agreement > 0.9
    assert r["spam"].spammer and r["spam"].reliability == 0.0
    assert r["first"].spammer and r["first"].reliability == 0.0  # picks by position, not content
    assert 0.1 < r["novice"].reliability < 0.6 and 0.1 < r["long"].reliability < 0.6
    # the consensus recovers the truth far better than any single noisy rater
    consensus = np.array(["a", "b", "tie"])[rel.consensus]
    assert np.mean([consensus[i] == truth[e.pair_id] for i, e in enumerate(table.examples)]) > 0.95


def test_verbosity_preference_singles_out_the_length_biased_rater(mixed):
    rows, _ = mixed
    rel = rate_raters(build_table(rows))
    verbosity = {name: s.verbosity_preference for name, s in rel.raters.items()}
    assert verbosity["long"] > 0.2
    for name in ("good1", "good2", "good3"):
        assert abs(verbosity[name]) < 0.05


def test_gold_accuracy_and_shrinkage(mixed):
    rows, truth = mixed
    gold = dict(list(truth.items())[:60])
    result = run_audit(rows, FAST.model_copy(update={"gold": gold}))
    raters = result.to_dict()["raters"]
    table = result.table
    for name, entry in raters.items():
        on_gold = [c for c in rows if c.rater == name and c.pair_id in gold]
        assert entry["gold_n"] == len(on_gold)
        expected = sum(c.choice.value == gold[c.pair_id] for c in on_gold) / len(on_gold)
        assert entry["gold_accuracy"] == pytest.approx(expected)
    assert raters["good1"]["gold_accuracy"] > 0.85 and raters["spam"]["gold_accuracy"] < 0.6
    assert table.n_raters == 7


def test_read_gold_formats_and_errors(tmp_path: Path):
    (tmp_path / "g.json").write_text(json.dumps({"p1": "a", "p2": "tie"}))
    assert read_gold(tmp_path / "g.json") == {"p1": "a", "p2": "tie"}
    (tmp_path / "g.jsonl").write_text('{"pair_id": "p1", "label": "b"}\n\n{"pair_id": "p2", "label": "a"}\n')
    assert read_gold(tmp_path / "g.jsonl") == {"p1": "b", "p2": "a"}
    (tmp_path / "bad.jsonl").write_text('{"pair_id": "p1", "label": "b"}\n{"pair_id": "p2", "label": "x"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: key 'label'"):
        read_gold(tmp_path / "bad.jsonl")
    (tmp_path / "missing.jsonl").write_text('{"pair_id": "p1", "label": "b"}\n{"label": "a"}\n')
    with pytest.raises(ValueError, match=r"missing.jsonl:2: key 'pair_id': missing"):
        read_gold(tmp_path / "missing.jsonl")
    (tmp_path / "bad.json").write_text(json.dumps({"p1": "first"}))
    with pytest.raises(ValueError, match=r"bad.json: key 'p1'"):
        read_gold(tmp_path / "bad.json")
