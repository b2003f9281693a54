"""`tether policy rl / eval` (registered by `register_rl` on a `policy` sub-app): gates, objectives, reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tether.policy.evaluators import register_evaluator
from tether.policy.rl_cli import register_rl

torch = pytest.importorskip("torch")
runner = CliRunner()


def _app() -> typer.Typer:
    """The root app with a `policy` sub-app, as `tether.policy.cli` builds it, and the sim's gold evaluator."""
    from tether.sim.evaluators import gold_evaluator

    app, policy_app = typer.Typer(), typer.Typer()
    register_rl(policy_app)
    app.add_typer(policy_app, name="policy")
    register_evaluator("gold", gold_evaluator)
    return app


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 1-layer GPT-2 with a BPE tokenizer trained on world text, as a plain HF folder."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from tether.sim import World
    from tether.sim.policy import train_tokenizer

    world = World(0)
    tok = train_tokenizer([f"{p.text}\nAnswer: {p.reference}" for p in world.prompts(200)], 400)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=128, n_embd=32, n_layer=1, n_head=2,
                                       eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id))
    out = tmp_path_factory.mktemp("cli-lm")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    from tether.sim import World

    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps({"prompt": p.text}) + "\n" for p in World(0).prompts(8, stream="cli")))
    return path


def _gated_reward_folder(folder: Path, passed: bool) -> Path:
    """A reward folder with contracts and a saved gate result (no weights: the gate is read before any loading)."""
    from tether.records import RewardContract
    from tether.reward.gate import Check, GateResult, save_gate
    from tether.reward.model import write_contracts

    folder.mkdir(parents=True)
    write_contracts(folder, [RewardContract(name="rm/quality", objective="quality",
                                            normalization={"mean": 0.0, "std": 1.0})])
    save_gate(folder, GateResult([Check("accuracy", 0.52 if not passed else 0.7, 0.6, passed, "min"),
                                  Check("ece", 0.3 if not passed else 0.05, 0.1, passed, "max")]))
    return folder


def test_rl_refuses_a_failed_gate_naming_the_checks_and_a_missing_objective(lm: Path, prompts: Path,
                                                                            tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from tether.config import init_project

    init_project(tmp_path / "proj")
    monkeypatch.chdir(tmp_path / "proj")
    monkeypatch.delenv("TETHER_DATABASE_URL", raising=False)
    app = _app()
    failed = _gated_reward_folder(tmp_path / "rm-failed", passed=False)
    out = tmp_path / "out"
    res = runner.invoke(app, ["policy", "rl", str(out), "--model", str(lm), "--prompts", str(prompts),
                              "--reward", str(failed), "--objective", "quality"])
    text = _flat(res.output)
    assert res.exit_code == 2, res.output
    assert "reward model refused" in text and "accuracy: 0.5200 (needs >= 0.6)" in text
    assert "ece: 0.3000 (needs <= 0.1)" in text and "--gate-override" in text
    assert not out.exists()  # refused before any work

    # passed gate, but nothing scores the objective asked for: named, before any weights are loaded
    ok = _gated_reward_folder(tmp_path / "rm-ok", passed=True)
    res = runner.invoke(app, ["policy", "rl", str(out), "--model", str(lm), "--prompts", str(prompts),
                              "--reward", str(ok), "--objective", "safety"])
    assert res.exit_code == 2, res.output
    assert f"--objective safety: no reward model or evaluator scores it; {ok} scores quality" in _flat(res.output)
    assert not out.exists()

    res = runner.invoke(app, ["policy", "rl", str(out), "--model", str(lm), "--prompts", str(prompts),
                              "--evaluator", "nope"])
    assert res.exit_code == 2 and "no evaluator 'nope' is registered" in _flat(res.output)

    # the starting policy is --model, as for sft and dpo
    res = runner.invoke(app, ["policy", "rl", str(out), "--prompts", str(prompts), "--evaluator", "gold"])
    assert res.exit_code == 2 and "tether policy rl OUT_DIR --model POLICY" in _flat(res.output)
    res = runner.invoke(app, ["policy", "rl", str(lm), str(out), "--model", str(lm), "--prompts", str(prompts)])
    assert res.exit_code == 2 and f"use tether policy rl {out} --model {lm}" in _flat(res.output)


def test_rl_with_sim_gold_trains_reports_and_records_the_policy(lm: Path, prompts: Path, project_dir: Path) -> None:
    from tether.config import find_project

    out = project_dir / "policy-rl"
    res = runner.invoke(_app(), ["policy", "rl", str(out), "--model", str(lm), "--prompts", str(prompts),
                                 "--evaluator", "gold", "--objective", "overall", "--objective", "safety=0.5",
                                 "--steps", "2", "--max-new-tokens", "8", "--algorithm", "rloo", "--k", "2"])
    assert res.exit_code == 0, res.output
    assert "rloo: 2 steps, 16 completions" in _flat(res.output)
    assert (out / "report.html").is_file() and (out / "config.json").is_file()
    store = find_project().store()
    try:
        [version] = store.model_versions(kind="policy")
    finally:
        store.close()
    assert version.name == "policy-rl" and version.parent == str(lm.resolve())
    assert version.config["algorithm"] == "rloo" and version.lineage["evaluator"] == "gold"
    assert version.lineage["n_prompts"] == 8 and version.metrics["steps"] == 2


def test_eval_scores_a_policy_with_any_evaluator_and_writes_a_report(lm: Path, prompts: Path, tmp_path: Path) -> None:
    app = _app()
    report = tmp_path / "eval.html"
    res = runner.invoke(app, ["policy", "eval", str(lm), "--prompts", str(prompts), "--evaluator", "gold",
                              "--report", str(report), "--k", "2", "--temperature", "1", "--max-new-tokens", "8",
                              "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["n"] == 16 and set(summary["means"]) == {"quality", "safety", "honesty", "overall"}
    lo, hi = summary["ci95"]["overall"]
    assert lo <= summary["means"]["overall"] <= hi
    html = report.read_text()
    assert html.count("base64,") == 1 and "Samples" in html and "sim gold" in html

    res = runner.invoke(app, ["policy", "eval", str(lm), "--prompts", str(prompts), "--evaluator", "gold",
                              "--report", str(report), "--backend", "vllm"])
    assert res.exit_code == 2 and "pip install 'tether[vllm]'" in _flat(res.output)
    (tmp_path / "bad.jsonl").write_text('{"prompt": "ok"}\n{"text": "no prompt"}\n')
    res = runner.invoke(app, ["policy", "eval", str(lm), "--prompts", str(tmp_path / "bad.jsonl"), "--evaluator",
                              "gold"])
    assert res.exit_code == 2 and "bad.jsonl:2: key 'prompt': missing or not a string" in _flat(res.output)


def test_rl_and_eval_with_a_real_reward_model_through_its_contract(lm: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A tiny reward model trained here (random BERT, MiniLM's tokenizer), gated, as the reward of `rl` and `eval`."""
    from tether.config import init_project

    init_project(tmp_path)  # `rl` records the policy in the store of the project around the current folder
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TETHER_DATABASE_URL", raising=False)
    from transformers import BertConfig

    from tether.policy.evaluators import load_evaluator
    from tether.records import PreferencePair
    from tether.reward.gate import Check, GateResult, save_gate
    from tether.reward.train import TrainConfig, train

    pairs = [PreferencePair(prompt=f"Say something ({i})", chosen="It is excellent.", rejected="It is terrible.",
                            objective="quality") for i in range(32)]
    rm = tmp_path / "rm"
    tiny = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=128)
    train(pairs, rm, TrainConfig(max_steps=2, batch_size=16, max_length=32, mixed_precision="no"), progress=False,
          from_scratch_config=tiny)
    save_gate(rm, GateResult([Check("accuracy", 0.9, 0.6, True, "min")]))
    ev = load_evaluator(rm)
    contract = ev.model.contract("quality")
    raw = ev.model.score(["q"], ["It is excellent."])["quality"]
    expected = (raw - contract.normalization["mean"]) / contract.normalization["std"]
    assert abs(ev(["q"], ["It is excellent."])["quality"][0] - expected[0]) < 1e-9

    prompts = tmp_path / "prompts.txt"
    prompts.write_text("What is 2 plus 2?\nName a colour.\n")
    out = tmp_path / "out"
    app = _app()
    res = runner.invoke(app, ["policy", "rl", str(lm), str(out), "--prompts", str(prompts), "--reward", str(rm),
                              "--objective", "quality", "--steps", "1", "--prompts-per-step", "2",
                              "--max-new-tokens", "6", "--algorithm", "ppo"])
    assert res.exit_code == 0, res.output
    assert (out / "value_head.pt").is_file()
    assert f"deprecated: tether policy rl POLICY OUT; use tether policy rl {out} --model {lm}" in _flat(res.output)
    res = runner.invoke(app, ["policy", "eval", str(out), "--prompts", str(prompts), "--reward", str(rm),
                              "--report", str(tmp_path / "e.html"), "--max-new-tokens", "6", "--json"])
    assert res.exit_code == 0, res.output
    assert set(json.loads(res.stdout)["means"]) == {"quality"}


def test_rl_with_the_monitor_writes_its_fields_to_the_metrics_and_the_report(lm: Path, prompts: Path,
                                                                             project_dir: Path) -> None:
    from tether.sim import World

    held = project_dir / "heldout.jsonl"
    held.write_text("".join(json.dumps({"prompt": p.text, "task_type": p.task_type}) + "\n"
                            for p in World(0).prompts(6, stream="heldout")))
    out = project_dir / "guarded"
    res = runner.invoke(_app(), ["policy", "rl", str(out), "--model", str(lm), "--prompts", str(prompts),
                                 "--evaluator", "gold", "--objective", "overall", "--steps", "2",
                                 "--max-new-tokens", "8", "--k", "2", "--monitor-every", "1", "--heldout", "sim-gold",
                                 "--heldout-prompts", str(held), "--truth", "gold", "--no-rollback"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    checks = [r for r in rows if "monitor/heldout" in r]
    assert [r["step"] for r in checks] == [0, 1, 2]
    # the same evaluator as held-out and truth: the two columns agree
    assert all(r["monitor/gold"] == r["monitor/heldout"] for r in checks)
    assert {"monitor/cusum", "monitor/proxy", "monitor/sqrt_kl", "monitor/sig/hedging"} <= set(checks[-1])
    assert "monitor/heldout/overall" in checks[-1]  # the per-objective dashboard's series
    report = (out / "report.html").read_text()
    assert "Over-optimisation monitor" in report and "Which objective degraded" in report
    meta = json.loads((out / "tether_rl.json").read_text())
    assert "attribution" in meta["monitor"]
    assert meta["config"]["monitor_every"] == 1 and meta["config"]["rollback"] is False
    assert meta["monitor"]["checks"] == 3


def test_rl_monitor_options_need_each_other(lm: Path, prompts: Path, project_dir: Path) -> None:
    out = project_dir / "x"
    base = ["policy", "rl", str(out), "--model", str(lm), "--prompts", str(prompts), "--evaluator", "gold"]
    res = runner.invoke(_app(), [*base, "--monitor-every", "2"])
    assert res.exit_code != 0 and "--monitor-every needs --heldout" in _flat(res.output)
    res = runner.invoke(_app(), [*base, "--heldout", "gold"])
    assert res.exit_code != 0 and "add --monitor-every" in _flat(res.output)
    res = runner.invoke(_app(), [*base, "--monitor-every", "2", "--heldout", "nope", "--heldout-prompts",
                                 str(prompts)])
    assert res.exit_code != 0 and "--heldout nope: not a folder" in _flat(res.output)


def test_rl_with_constraints_logs_multipliers_and_refuses_an_uncalibrated_cost_model(lm: Path, prompts: Path,
                                                                                      project_dir: Path) -> None:
    from tether.policy.constraints import PIDGains, PIDLagrangian
    from tether.records import RewardContract
    from tether.reward.gate import Check, GateResult, save_gate
    from tether.reward.model import write_contracts

    out = project_dir / "constrained"
    base = ["policy", "rl", str(out), "--model", str(lm), "--prompts", str(prompts), "--evaluator", "gold",
            "--objective", "overall", "--steps", "2", "--max-new-tokens", "8", "--k", "2"]
    res = runner.invoke(_app(), [*base, "--constraint", "safety<=0.02"])
    assert res.exit_code == 2 and "write safety>=0.02" in _flat(res.output)
    res = runner.invoke(_app(), [*base, "--constraint", "length<=1", "--pid", "0.2,0.1,0"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    pid = PIDLagrangian(1.0, PIDGains(0.2, 0.1, 0.0))  # the multipliers follow the logged costs through the PID
    assert [r["constraint/length/lambda"] for r in rows] == pytest.approx(
        [pid.update(r["constraint/length/cost"]) for r in rows])
    assert rows[-1]["constraint/length/lambda"] > 0  # violated (several words per completion): it acts
    assert json.loads((out / "tether_rl.json").read_text())["config"]["constraints"] == ["length<=1"]

    # a reward model that passed its gate (at a looser ECE bound) is still refused as a cost above ECE 0.1
    rm = project_dir / "rm-loose"
    rm.mkdir()
    write_contracts(rm, [RewardContract(name="rm/harmless", objective="harmless",
                                        normalization={"mean": 0.0, "std": 1.0})])
    save_gate(rm, GateResult([Check("accuracy", 0.7, 0.6, True, "min"), Check("ece", 0.2, 0.25, True, "max")]))
    cmd = [*base[:3], "--model", str(lm), "--prompts", str(prompts), "--reward", str(rm), "--objective", "harmless",
           "--constraint", "harmless>=0.5"]
    res = runner.invoke(_app(), [*cmd])
    assert res.exit_code == 2 and "cost model refused" in _flat(res.output)
    assert "ECE 0.2000 > 0.1" in _flat(res.output) and "--calibration-override" in _flat(res.output)
