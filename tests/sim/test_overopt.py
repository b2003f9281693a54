"""`tether sim overopt`: a tiny run writes the report and the metrics with the computed fields; the best-of-n and
stop-rule arithmetic on known inputs."""

from __future__ import annotations

import json
from math import comb
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tether.cli import app
from tether.sim.best_of_n import best_of_n, best_of_n_weights, bon_kl
from tether.sim.overopt import replay


def test_best_of_n_weights_are_the_order_statistics_of_a_draw() -> None:
    w = best_of_n_weights(3, 5)
    assert w.sum() == pytest.approx(1.0)
    assert w[-1] == pytest.approx(comb(4, 2) / comb(5, 3))  # the top sample is in the draw 6 times out of 10
    assert w[:2].sum() == 0  # the two lowest can never be the best of three
    assert bon_kl(1) == 0 and bon_kl(32) == pytest.approx(np.log(32) - 31 / 32)


def test_best_of_n_follows_the_picker_not_the_score() -> None:
    proxy = np.array([[0.0, 1.0, 2.0, 3.0]])
    gold = np.array([[4.0, 3.0, 2.0, 1.0]])  # the proxy ranks exactly backwards
    curves = best_of_n(proxy, {"gold": gold, "proxy": proxy}, [1, 2, 4])
    assert curves["gold"][0] == pytest.approx(gold.mean())
    assert curves["gold"][-1] == pytest.approx(1.0)
    assert curves["proxy"] == sorted(curves["proxy"])  # the picker's own score rises with n
    assert curves["gold"] == sorted(curves["gold"], reverse=True)


def test_replay_stops_where_the_evaluator_turns_and_keeps_its_best_check() -> None:
    rng = np.random.default_rng(0)
    checks = []
    for i, level in enumerate([0.0, 0.2, 0.4, 0.6, 0.5, 0.3, 0.1, -0.1, -0.3, -0.5, -0.7, -0.9]):
        checks.append({"step": i * 5, "sqrt_kl": 0.1 * i, "texts": ["x"] * 200,
                       "proxy_scores": np.full(200, float(i)) + rng.normal(0, 0.01, 200),
                       "heldout": level + rng.normal(0, 0.1, 200), "gold_gain": level})
    rule = replay(checks, "heldout", 0.05, 12)
    assert rule["alarm_step"] is not None and rule["alarm_step"] > 15
    assert rule["kept_step"] == 15 and rule["gold_gain"] == pytest.approx(0.6)


def test_replay_one_se_rule_keeps_the_earliest_check_within_one_se_of_the_best() -> None:
    wiggle = np.tile([0.05, -0.05], 100)  # exact means, each check's SE ~ 0.0035
    levels = [0.0, 0.3, 0.6, 0.604, 0.606, 0.3, 0.0, -0.3, -0.6, -0.9, -1.2, -1.5]
    checks = [{"step": i * 5, "sqrt_kl": 0.1 * i, "texts": ["x"] * 200, "proxy_scores": np.full(200, float(i)),
               "heldout": level + wiggle, "gold_gain": level} for i, level in enumerate(levels)]
    best = replay(checks, "heldout", 0.05, 12)
    parsimonious = replay(checks, "heldout", 0.05, 12, one_se=True)
    assert best["alarm_step"] == parsimonious["alarm_step"] is not None
    assert best["kept_step"] == 20 and parsimonious["kept_step"] == 15  # 0.604 is within 0.0035 of 0.606; 0.6 not


def test_proxy_gate_ignores_a_plateau_but_not_a_proxy_pulling_away() -> None:
    wiggle = np.tile([1.0, -1.0], 100)  # exact means, each check's SE ~ 0.07 (of a change: ~ 0.1)

    def checks(proxy_step: float, heldout_step: float) -> list[dict]:
        return [{"step": i, "sqrt_kl": 0.1 * i, "texts": ["x"] * 200, "proxy_scores": proxy_step * i + wiggle,
                 "heldout": heldout_step * i + wiggle, "gold_gain": 0.0} for i in range(24)]

    plateau = checks(0.01, 0.0)  # both flat: the proxy's rise per check is a tenth of its SE
    assert replay(plateau, "heldout", 0.05, 24)["alarm_step"] is not None  # any rise counts: the allowance piles up
    assert replay(plateau, "heldout", 0.05, 24, proxy_gate=1.0)["alarm_step"] is None
    hacked = checks(0.5, -0.05)  # the proxy pulls away while the held-out score sinks
    assert replay(hacked, "heldout", 0.05, 24, proxy_gate=1.0)["alarm_step"] is not None


def test_tiny_overopt_run_writes_report_and_metrics(tmp_path: Path) -> None:
    out = tmp_path / "study"
    result = CliRunner().invoke(app, [
        "sim", "overopt", str(out), "--sft-steps", "20", "--label-prompts", "24", "--raters", "4", "--rm-epochs",
        "1", "--bon-prompts", "4", "--bon-n", "4", "--steps", "4", "--every", "2", "--held", "6", "--prompts-per-step",
        "2", "--k", "2", "--max-new-tokens", "10", "--human-pairs", "4"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    seed = metrics["seeds"][0]
    bon, rl = seed["best_of_n"], seed["rl"]
    assert bon["curves"]["n"] == [1, 2, 3, 4] and len(bon["curves"]["gold"]) == 4
    assert bon["curves"]["oracle_gold"] == sorted(bon["curves"]["oracle_gold"])  # gold's own pick never loses
    assert "alpha" in bon["fit"] and -1 <= bon["corr_proxy_gold"]["overall"] <= 1
    curve = rl["curve"]
    assert curve["step"] == [0, 2, 4] and curve["gold_gain"][0] == 0 and curve["sqrt_kl"][0] == 0
    assert rl["best_gold"]["gain"] == max(curve["gold_gain"])
    assert rl["final_gold_gain"] == curve["gold_gain"][-1]
    assert set(rl["stop_rules"]) == {"heldout", "heldout_1se", "gold", "human"}
    assert rl["stop_rules"]["heldout"]["alarm_step"] == rl["stop_rules"]["heldout"]["live_alarm_step"]
    for pool in ("proxy", "heldout"):
        assert seed["labels"][pool]["pairs"] > 0
    assert metrics["summary"]["final_gold_gains"] == [rl["final_gold_gain"]]
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2
    assert "Best-of-n with the proxy" in page and "Stop rules on this run" in page
    assert (out / "seed-0" / "rl-unguarded" / "metrics.jsonl").is_file()


def test_overopt_refuses_a_missing_policy_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["sim", "overopt", str(tmp_path / "x"), "--policy", str(tmp_path)],
                                env={"COLUMNS": "200"})
    assert result.exit_code != 0
    assert "not a policy folder" in result.output


def test_tiny_styled_ngram_run_with_the_gold_reward_arm(tmp_path: Path) -> None:
    out = tmp_path / "study"
    result = CliRunner().invoke(app, [
        "sim", "overopt", str(out), "--sft-steps", "10", "--label-prompts", "24", "--raters", "4", "--bon-prompts",
        "3", "--bon-n", "4", "--steps", "4", "--every", "2", "--held", "6", "--prompts-per-step", "2", "--k", "2",
        "--max-new-tokens", "10", "--human-pairs", "4", "--start", "styled", "--rm", "ngram", "--gold-arm",
        "--proxy-members", "2", "--proxy-gate", "1"],
        env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    seed = metrics["seeds"][0]
    assert seed["config"]["start"] == "styled" and seed["config"]["rm"] == "ngram"
    assert not (out / "seed-0" / "rm-proxy").exists()  # the probe needs no checkpoint
    # the two-member proxy shares one probe's iteration budget
    assert 0 < seed["labels"]["proxy"]["optimizer_iterations"] <= seed["config"]["probe_iters"]
    null = seed["rl_gold_reward"]
    assert null["curve"]["step"] == [0, 2, 4] and set(null["stop_rules"]) == {"heldout", "heldout_1se", "gold", "human"}
    assert (out / "seed-0" / "rl-gold-reward" / "metrics.jsonl").is_file()
    summary = metrics["summary"]
    assert summary["gold_reward_false_alarms"]["heldout"] == int(null["stop_rules"]["heldout"]["alarm_step"]
                                                                 is not None)
    assert "false alarms" in (out / "report.html").read_text()


def test_styled_examples_carry_the_styles_and_the_probe_evaluator_is_z_scored() -> None:
    from tether.reward.probe import NgramReward
    from tether.sim.overopt import OveroptConfig
    from tether.sim.overopt_rms import ProbeEvaluator
    from tether.sim.styled import StylePolicy, styled_examples
    from tether.sim.world import World

    world = World(0)
    prompts = World(0).prompts(200)  # a world's streams advance per call: a fresh world draws the same prompts
    ex = styled_examples(world, 200)
    assert [p for p, _ in ex] == [p.text for p in prompts]
    styled = [a != p.reference for p, (_, a) in zip(prompts, ex, strict=True)]
    assert 0.3 < np.mean(styled) < 1.0  # most answers are styled, some plain
    plain = styled_examples(world, 50, StylePolicy(wrong=0, verbose=0, hedging=0, sycophantic=0, disfluent=0,
                                                   unsafe=0))
    assert np.mean([len(a.split()) for _, a in plain]) < np.mean([len(a.split()) for _, a in ex[:50]])
    from tether.records import PreferencePair
    pairs = [PreferencePair(prompt=p.text, chosen=p.reference, rejected=a, objective="overall")
             for p, (_, a), s in zip(prompts, ex, styled, strict=True) if s]
    ev = ProbeEvaluator(NgramReward().fit(pairs), pairs)
    z = ev([p.prompt for p in pairs] * 2, [p.chosen for p in pairs] + [p.rejected for p in pairs])["overall"]
    assert abs(z.mean()) < 1e-6 and z.std() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="rm must be"):
        OveroptConfig(rm="bert").check()
    with pytest.raises(ValueError, match="start must be"):
        OveroptConfig(start="x").check()


def test_tiny_mixed_family_ensemble_with_more_heldout_labels(tmp_path: Path) -> None:
    """--proxy-causal-members adds a causal member to the probes; --heldout-labels labels more prompts for the
    held-out RM; the ensemble's disagreement diagnostics are logged per check and reported."""
    out = tmp_path / "study"
    result = CliRunner().invoke(app, [
        "sim", "overopt", str(out), "--sft-steps", "10", "--label-prompts", "24", "--raters", "4", "--rm-epochs",
        "1", "--bon-prompts", "3", "--bon-n", "4", "--steps", "4", "--every", "2", "--held", "6",
        "--prompts-per-step", "2", "--k", "2", "--max-new-tokens", "10", "--human-pairs", "4", "--start", "styled",
        "--rm", "ngram", "--proxy-members", "2", "--proxy-causal-members", "1", "--heldout-labels", "40"],
        env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    seed = json.loads((out / "metrics.json").read_text())["seeds"][0]
    assert seed["config"]["proxy_causal_members"] == 1 and seed["config"]["heldout_labels"] == 40
    assert seed["labels"]["heldout"]["judged"] > seed["labels"]["proxy"]["judged"]  # 40 prompts against 24
    assert (out / "seed-0" / "rm-proxy" / "causal-0").is_dir()  # the causal member beside the two probes
    diags = seed["rl"]["ensemble_diagnostics"]
    assert [d["step"] for d in diags] == seed["rl"]["curve"]["step"]
    assert all(d["member_std"] >= 0 and d["answers"] == 6 for d in diags)
    assert "members' spread" in (out / "report.html").read_text() and "ensemble proxy at step" in result.output


def test_new_study_options_keep_the_old_defaults() -> None:
    from tether.sim.overopt import OveroptConfig

    cfg = OveroptConfig()
    assert cfg.proxy_causal_members == 0 and cfg.heldout_labels == 0  # the earlier commands' designs
    with pytest.raises(ValueError, match="proxy_causal_members"):
        OveroptConfig(proxy_causal_members=1).check()  # only beside n-gram probes
    with pytest.raises(ValueError, match="heldout_labels"):
        OveroptConfig(heldout_labels=-1).check()
