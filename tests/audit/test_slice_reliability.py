"""Slice-conditional reliability: a rater who guesses in one task type stops outvoting those who can read it."""

from __future__ import annotations

import numpy as np
import pytest

from tether.audit.audit import run_audit
from tether.audit.config import AuditConfig, CurateConfig
from tether.audit.curate import curate
from tether.audit.labels import build_table
from tether.audit.slice_reliability import fit_slice_dawid_skene, held_out_temperature, slice_labels

FAST = AuditConfig(n_bootstrap=0, min_shared_items=5)
READERS = ["es0", "es1", "es2"]
GUESSERS = [f"en{i}" for i in range(6)]


@pytest.fixture
def two_languages(synth):
    """English: everyone careful. Spanish: three readers, six raters who cannot read it and label at random."""
    everyone = [synth.Rater(n, 0.95) for n in READERS + GUESSERS]
    english, truth_en = synth.campaign(everyone, n_items=240, per_item=3, seed=3, task_type="chat", tie_rate=0.0)
    spanish_raters = [synth.Rater(n, 0.95) for n in READERS] + [synth.Rater(n, spam=True) for n in GUESSERS]
    spanish, truth_es = synth.campaign(spanish_raters, n_items=240, per_item=3, seed=4, task_type="chat_es",
                                       tie_rate=0.0)
    return english + spanish, {**truth_en, **truth_es}


def _accuracy(table, posteriors, truth, task_type):
    rows = [i for i, e in enumerate(table.examples) if e.task_type == task_type]
    code = {"a": 0, "b": 1}
    return float(np.mean([posteriors[i, :2].argmax() == code[truth[table.examples[i].pair_id]] for i in rows]))


def test_guessers_are_unreliable_only_where_they_guess(two_languages):
    rows, truth = two_languages
    table = build_table(rows)
    fit = fit_slice_dawid_skene(table)
    acc = fit.accuracy()
    es, en = fit.slice_names.index("chat_es"), fit.slice_names.index("chat")
    guessers = [table.rater_names.index(n) for n in GUESSERS]
    readers = [table.rater_names.index(n) for n in READERS]
    assert acc[guessers, es].max() < acc[readers, es].min()
    assert acc[guessers, en].min() > 0.85  # careful in English: the slice, not the rater, is what is penalised
    # one confusion per rater (the audit's Dawid–Skene) lets guessers outvote readers on Spanish items
    audit = run_audit(rows, FAST)
    assert _accuracy(table, fit.posteriors, truth, "chat_es") > _accuracy(table, audit.item_posteriors, truth,
                                                                          "chat_es") + 0.03
    labels = slice_labels(table)
    assert _accuracy(table, labels.label_proba, truth, "chat_es") > _accuracy(table, audit.item_bt_proba, truth,
                                                                              "chat_es")


def test_posterior_weights_move_with_agreement_at_full_overlap(synth):
    """Every rater rates every item (PandaLM's shape): rater-reliability weights are one number, these are not."""
    raters = [synth.Rater(f"r{i}", 0.8) for i in range(3)]
    rows, _ = synth.campaign(raters, n_items=150, per_item=3, seed=5, tie_rate=0.0)
    audit = run_audit(rows, FAST)
    per_rater = CurateConfig(policy="keep", reliability="rater", weights="reliability")
    old = {round(p.weight, 9) for p in curate(audit, per_rater).pairs if not p.tie}
    assert len(old) == 1
    pairs = [p for p in curate(audit, CurateConfig(reliability="slice", weights="posterior",
                                                      policy="keep")).pairs if not p.tie]
    unanimous = [p.weight for p in pairs if max(p.provenance["votes"].values()) == 3]
    split = [p.weight for p in pairs if max(p.provenance["votes"].values()) == 2]
    assert unanimous and split and min(unanimous) > max(split)
    for p in pairs:
        assert p.weight == pytest.approx(2 * p.p_chosen - 1, abs=1e-9)
        assert p.provenance["label_model"] == "bradley_terry_by_slice"


def test_temperature_never_sharpens_without_gold_and_fits_gold_when_given(two_languages):
    rows, truth = two_languages
    table = build_table(rows)
    fit = fit_slice_dawid_skene(table)
    t, how, n = held_out_temperature(fit, table)
    assert t >= 1.0 and how == "held-out judgments" and n == table.n_judgments
    t_gold, how_gold, n_gold = held_out_temperature(fit, table, gold=truth)  # fit never saw the gold
    assert how_gold == "gold" and n_gold == len(truth)
    # the gold fit is the temperature of least log loss on gold: its neighbours on the grid do worse
    from tether.audit.slice_reliability import TEMPERATURES, _log_loss, decisive_log_odds

    log_odds, _ = decisive_log_odds(fit, table)
    y = np.array([truth[e.pair_id] == "a" for e in table.examples])
    k = int(np.argmin(np.abs(TEMPERATURES - t_gold)))
    here = _log_loss(y, log_odds / TEMPERATURES[k])
    assert all(here <= _log_loss(y, log_odds / TEMPERATURES[j]) + 1e-12 for j in (max(k - 1, 0), min(k + 1, 160)))
    # through curation: with gold, p_chosen is the blind fit's posterior softened by that temperature
    labels = slice_labels(table, gold=truth)
    assert labels.temperature["overall"][1] == "gold"


def test_bad_strengths_are_clear_errors(two_languages):
    table = build_table(two_languages[0])
    with pytest.raises(ValueError, match="slice_strength"):
        fit_slice_dawid_skene(table, slice_strength=0)
    with pytest.raises(ValueError, match="n_iter"):
        fit_slice_dawid_skene(table, n_iter=0)


def test_curate_cli_takes_slice_reliability_and_posterior_weights(project_dir, two_languages):
    from typer.testing import CliRunner

    from tether.cli import app
    from tether.io import read_pairs, write_jsonl
    from tether.io.v1 import comparison_to_v1

    path = project_dir / "two_languages.jsonl"
    write_jsonl(path, (comparison_to_v1(c) for c in two_languages[0]))
    result = CliRunner().invoke(app, ["curate", str(path), "--reliability", "slice", "--weights", "posterior",
                                      "--include-blocked", "-o", "pairs.jsonl", "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    pairs = [item[1] for item in read_pairs(project_dir / "pairs.jsonl")]
    assert pairs and all(p.provenance["label_model"] == "bradley_terry_by_slice" for p in pairs)
    assert all(len(p.provenance["p_slice_posterior"]) == 3 for p in pairs)
    bad = CliRunner().invoke(app, ["curate", str(path), "--reliability", "language", "-o", "x.jsonl"])
    assert bad.exit_code != 0 and "reliability" in bad.output.lower()
