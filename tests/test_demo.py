"""The main job end to end on the embedded default (SQLite, bundled data, simulated world)."""

import json
import math
from pathlib import Path

from tether.demo import run_demo
from tether.demo.guards import JSON_KEYS, ROWS, GuardRow
from tether.demo.report import write_demo_report


def test_demo_runs_every_stage_and_is_idempotent(tmp_path: Path):
    # the reward stage shrunk to one step per member and a small gold set: this tests wiring, not model quality
    tiny = {"reward_steps": 1, "reward_members": 2, "reward_eval_pairs": 60}
    result = run_demo(tmp_path / "demo", progress=False, n_bootstrap=0, **tiny)
    stats = result.stats
    assert stats["by_campaign"]["pandalm-testset"]["pairs"] == 999
    kappas = [p["value"] for p in result.audits["pandalm-humans"]["cohens_kappa_pairs"]]
    assert [round(k, 3) for k in kappas] == [0.852, 0.879, 0.862]
    assert result.audits["prd-humans"]["blocked_task_types"]  # PRD Vicuna80 humans: alpha ~0.18
    assert result.study["blocked_task_types"] == ["tone"]
    acc = result.study["accuracy"]
    assert acc["majority_vote"] < acc["curated_weighted"] < acc["noise_free"]
    assert result.production["drift"]["drift"] and result.production["sampled"] == 25
    reports = tmp_path / "demo" / ".tether" / "reports"
    assert (reports / "drift.html").is_file()

    rw = result.reward
    model = Path(rw["model"])
    assert model.parent == tmp_path / "demo" / ".tether" / "models" and (model / "reward_ensemble.json").is_file()
    assert len(rw["members"]) == 2 and not rw["reused"]
    for member in map(Path, rw["members"]):
        assert json.loads((member / "reward_contract.json").read_text())["contracts"][0]["objective"] == "overall"
        assert (member / "reward_gate.json").is_file()
    assert rw["train_pairs"] == len((reports / "sim-label-quality-curated.jsonl").read_text().splitlines()) > 100
    saved = json.loads((reports / "reward.json").read_text())
    assert 0.0 <= rw["accuracy"] <= 1.0 and rw["accuracy"] == saved["eval"]["accuracy"]
    assert rw["test_pairs"] == saved["eval"]["n_pairs"] > 0 and rw["calibration_pairs"] > 0
    assert math.isfinite(rw["ece"]) and rw["temperature"] > 0 and "overall" in rw["length_correlation"]
    assert "Gate: " in (reports / "reward.html").read_text()
    assert rw["gate_passed"] == saved["gate"]["passed"] == all(c["passed"] for c in saved["gate"]["checks"])
    assert {c["name"] for c in saved["gate"]["checks"]} == {"accuracy", "ece", "length_correlation"}
    assert (rw["policy_blocked"] is None) == rw["gate_passed"]  # require_gate agrees with the verdict
    # the ensemble reaches production: drift compares its spread, the sampler weighs it in
    spread = result.production["drift"]["disagreement"]["overall"]
    assert spread["production_mean"] > 0 and spread["annotation_mean"] > 0
    assert result.production["sample_reasons"]["reward disagreement"] == 25
    # the loop: the model challenged for the role (recorded either way), one tick opened the next batch
    lp = result.loop
    assert lp["decision"] in ("promote", "refuse") and lp["decision_reason"]
    assert (lp["champion"] is not None) == (lp["decision"] == "promote")
    assert lp["tick"]["state"] == "labelling" and lp["tick"]["result"]["items"] > 0
    assert any(t["fired"] for t in lp["tick"]["triggers"])
    assert "Open alarms" in Path(lp["dashboard"]).read_text()

    again = run_demo(tmp_path / "demo", progress=False, n_bootstrap=0, **tiny)
    assert all(imp["stored"] == 0 for imp in again.imports)
    assert again.stats["comparisons"] == stats["comparisons"]
    assert again.reward["reused"] and again.reward["accuracy"] == rw["accuracy"]
    assert again.reward["gate_passed"] == rw["gate_passed"]
    assert again.loop["tick"]["state"] == "waiting"  # the batch the first run opened is still being labelled

    # the demo's own report: the guards table first, the same rows in demo.json under `guards`
    saved = json.loads((reports / "demo.json").read_text())
    assert [tuple(g) for g in saved["guards"]] == [JSON_KEYS] * len(result.guards)
    assert [g["failure_mode"] for g in saved["guards"]] == sorted(mode for mode, _, _ in ROWS)
    assert set(saved["stage_seconds"]) == set(result.timings) and len(result.timings) == 7
    assert "a naive pipeline against Tether" in (reports / "demo.html").read_text()


def test_demo_report_writes_the_guards_table_first(tmp_path: Path):
    rows = [GuardRow(1, "raters", "gold accuracy", True, 0.80, 0.86, "majority vote", "curated", seconds=1.0),
            GuardRow(2, "position", "violation rate", False, 0.10, 0.20, "fixed order", "counterbalanced")]
    (tmp_path / "reward.html").write_text("<p>stage</p>")
    page, data = write_demo_report(tmp_path, rows, {"1. import": 2.0, "7. guards": 1.5}, {"reward": {"a": 1}})
    saved = json.loads(data.read_text())
    assert saved["guards"] == [r.to_json() for r in rows] and saved["total_seconds"] == 3.5
    assert [d["tether_better"] for d in saved["guards_detail"]] == [True, False]
    text = page.read_text()
    assert text.index("a naive pipeline against Tether") < text.index("Time per stage")
    assert "NOT better: goal not reached" in text and "href='reward.html'" in text
    assert "Tether better on 1 of 2 guards" in text
