"""The main job end to end on the embedded default (SQLite, bundled data, simulated world)."""

from pathlib import Path

from tether.demo import run_demo


def test_demo_runs_every_stage_and_is_idempotent(tmp_path: Path):
    result = run_demo(tmp_path / "demo", progress=False, n_bootstrap=0)
    stats = result.stats
    assert stats["by_campaign"]["pandalm-testset"]["pairs"] == 999
    kappas = [p["value"] for p in result.audits["pandalm-humans"]["cohens_kappa_pairs"]]
    assert [round(k, 3) for k in kappas] == [0.852, 0.879, 0.862]
    assert result.audits["prd-humans"]["blocked_task_types"]  # PRD Vicuna80 humans: alpha ~0.18
    assert result.study["blocked_task_types"] == ["tone"]
    acc = result.study["accuracy"]
    assert acc["majority_vote"] < acc["curated_weighted"] < acc["noise_free"]
    assert result.production["drift"]["drift"] and result.production["sampled"] == 25
    assert (tmp_path / "demo" / ".tether" / "reports" / "drift.html").is_file()

    again = run_demo(tmp_path / "demo", progress=False, n_bootstrap=0)
    assert all(imp["stored"] == 0 for imp in again.imports)
    assert again.stats["comparisons"] == stats["comparisons"]
