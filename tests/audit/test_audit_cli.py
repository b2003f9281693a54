"""`tether audit` and `tether curate` end to end: files, the project store, JSON keys, HTML, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tether.cli import app
from tether.io import read_pairs, write_jsonl
from tether.io.v1 import comparison_to_v1

runner = CliRunner()


@pytest.fixture
def comparisons_file(synth, tmp_path: Path) -> Path:
    raters = [synth.Rater(f"c{i}", 0.92) for i in range(4)] + [synth.Rater("flipper", first_bias=0.9)]
    clear, _ = synth.campaign(raters, n_items=60, per_item=4, seed=1, both_orders=True, task_type="clear")
    vague, _ = synth.campaign([synth.Rater(f"g{i}", 0.2) for i in range(4)], n_items=40, per_item=3, seed=2,
                              task_type="vague", batch_of=lambda i: i % 2)
    path = tmp_path / "comparisons.jsonl"
    write_jsonl(path, (comparison_to_v1(c) for c in clear + vague))
    return path


def test_audit_file_writes_json_with_stable_keys_and_html(project_dir: Path, comparisons_file: Path):
    result = runner.invoke(app, ["audit", str(comparisons_file), "--json", "audit.json", "--bootstrap", "20",
                                 "--min-shared", "5"])
    assert result.exit_code == 0, result.output
    assert "ambiguous rubric" in result.output and "vague" in result.output
    d = json.loads((project_dir / "audit.json").read_text())
    assert d["blocked_task_types"] == ["vague"]
    alpha = d["agreement"]["by_task_type"]["clear"]["krippendorff_alpha_nominal"]
    assert alpha["ci_low"] <= alpha["value"] <= alpha["ci_high"] and alpha["value"] > 0.4  # "ok"
    assert d["agreement"]["by_task_type"]["vague"]["fleiss_kappa"]["value"] < 0.4
    flipper = d["position"]["by_rater"]["flipper"]
    assert flipper["favoured_first"] > 0.7 and flipper["swap_consistency"] < 0.3
    assert "favoured_second" in flipper and d["position"]["by_rater"]["g0"]["swap_consistency"] is None
    assert d["raters"]["c0"]["reliability"] > 0.8 and d["raters"]["flipper"]["reliability"] == 0.0
    assert set(d["position"]["by_batch"]) == {"0", "1"}
    assert d["task_types"]["vague"]["disputed"]
    assert json.loads((project_dir / ".tether" / "reports" / "audit.json").read_text()) == d
    html = (project_dir / ".tether" / "reports" / "audit.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "Ambiguous rubric: vague" in html


def test_audit_reads_the_project_store(project_dir: Path, comparisons_file: Path):
    assert runner.invoke(app, ["import", "comparisons", str(comparisons_file)]).exit_code == 0
    result = runner.invoke(app, ["audit", "--task-type", "clear", "--json", "a.json", "--html", "r/a.html",
                                 "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    d = json.loads((project_dir / "a.json").read_text())
    assert d["blocked_task_types"] == [] and list(d["agreement"]["by_task_type"]) == ["clear"]
    assert (project_dir / "r" / "a.html").is_file()


def test_curate_writes_v1_pairs_and_a_preference_set(project_dir: Path, comparisons_file: Path, store_url: str):
    result = runner.invoke(app, ["curate", str(comparisons_file), "--policy", "discard", "-o", "pairs.jsonl",
                                 "--set", "curated", "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    pairs = [item[1] for item in read_pairs(project_dir / "pairs.jsonl")]
    assert pairs and all(p.provenance["task_type"] == "clear" for p in pairs)  # vague is blocked
    assert not any(p.provenance["reversal"] for p in pairs)  # discarded
    assert any(p.tie for p in pairs)
    raw = [json.loads(line) for line in (project_dir / "pairs.jsonl").read_text().splitlines()]
    assert all({"prompt", "chosen", "rejected", "weight", "tie", "p_chosen", "provenance"} <= r.keys() for r in raw)
    from tether.store import Store

    with Store(store_url) as store:
        stored = list(store.iter_pairs(set_name="curated"))
    assert len(stored) == len(pairs)
    # per-rater weights: the default posterior weights leave out the items whose posterior is 50/50 (weight 0)
    kept = runner.invoke(app, ["curate", str(comparisons_file), "--policy", "keep", "--include-blocked", "-o",
                               "all.jsonl", "--bootstrap", "0", "--reliability", "rater", "--weights", "reliability"])
    assert kept.exit_code == 0, kept.output
    assert len((project_dir / "all.jsonl").read_text().splitlines()) == 100


def test_errors_are_one_readable_line(project_dir: Path, comparisons_file: Path):
    bad = project_dir / "bad.jsonl"
    lines = comparisons_file.read_text().splitlines()
    lines[2] = lines[2].replace('"choice":', '"choise":')
    bad.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["audit", str(bad)])
    assert result.exit_code == 2 and "bad.jsonl:3" in result.output and "choice" in result.output
    result = runner.invoke(app, ["curate", str(comparisons_file), "--policy", "maybe", "-o", "x.jsonl"])
    assert result.exit_code == 2 and "policy" in result.output
    result = runner.invoke(app, ["curate", str(comparisons_file)])
    assert result.exit_code == 2 and "-o FILE" in result.output
    result = runner.invoke(app, ["audit"])
    assert result.exit_code == 2 and "no comparisons" in result.output


def test_audit_run_is_stored_and_toml_section_sets_the_threshold(project_dir: Path, comparisons_file: Path):
    from tether.config import find_project

    args = ["audit", str(comparisons_file), "--bootstrap", "0", "--min-shared", "5"]
    assert runner.invoke(app, args).exit_code == 0
    with find_project().store() as store:
        run = store.latest_audit_run()
    assert run is not None and run.blocked_task_types == ["vague"] and run.verdicts["clear"]["status"] == "ok"
    assert run.n_comparisons == sum(1 for _ in comparisons_file.open()) and run.source == str(comparisons_file)

    # [audit] threshold in tether.toml moves the 0.4 rule; the command line still wins over the file
    toml = project_dir / "tether.toml"
    toml.write_text(toml.read_text() + "\n[audit]\nthreshold = 0.99\nbootstrap = 0\n")
    assert runner.invoke(app, args[:2] + ["--min-shared", "5"]).exit_code == 0
    with find_project().store() as store:
        run = store.latest_audit_run()
    assert run.blocked_task_types == ["clear", "vague"] and run.config["block_threshold"] == 0.99
    assert runner.invoke(app, args + ["--threshold", "0.4"]).exit_code == 0
    with find_project().store() as store:
        assert store.latest_audit_run().blocked_task_types == ["vague"]

    toml.write_text(toml.read_text().replace("threshold = 0.99", "treshold = 0.5"))
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "[audit]: unknown key 'treshold'" in res.output
    toml.write_text(toml.read_text().replace("treshold = 0.5", ""))
    res = runner.invoke(app, args + ["--bootstrap", "-1"])
    assert res.exit_code == 2 and "--bootstrap" in res.output


def test_audit_report_prints_math_text_in_ids_as_typed(project_dir: Path, synth, tmp_path: Path):
    """A rater id or task type like `$\\x$` is user data: matplotlib's math parser crashed `tether audit` on it."""
    raters = [synth.Rater(r"$\x$", 0.9), synth.Rater("b", 0.9), synth.Rater("c", 0.9)]
    items, _ = synth.campaign(raters, n_items=30, per_item=3, seed=1, task_type=r"$\frac{$")
    path = tmp_path / "math.jsonl"
    write_jsonl(path, (comparison_to_v1(c) for c in items))
    result = runner.invoke(app, ["audit", str(path), "--bootstrap", "0", "--min-shared", "5"])
    assert result.exit_code == 0, result.output
    assert r"$\frac{$" in (project_dir / ".tether" / "reports" / "audit.html").read_text(encoding="utf-8")


def test_curate_leaves_attention_check_answers_out(project_dir: Path, comparisons_file: Path):
    """A campaign export marks attention-check answers with `item_kind`; they test raters, not responses."""
    rows = [json.loads(line) for line in comparisons_file.read_text().splitlines()]
    check = {"prompt": "Attention check: choose B.", "response_a": "A", "response_b": "B", "shown_first": "a",
             "choice": "b", "task_type": "clear", "item_kind": "attention"}
    rows += [{**check, "rater": r} for r in ("c0", "c1", "c2")]
    mixed = comparisons_file.with_name("mixed.jsonl")
    write_jsonl(mixed, rows)
    result = runner.invoke(app, ["curate", str(mixed), "--policy", "keep", "--include-blocked", "-o", "all.jsonl",
                                 "--bootstrap", "0", "--reliability", "rater", "--weights", "reliability"])
    assert result.exit_code == 0, result.output
    assert "left out 3 attention-check judgments" in result.output
    pairs = [json.loads(line) for line in (project_dir / "all.jsonl").read_text().splitlines()]
    assert len(pairs) == 100 and not any(p["prompt"].startswith("Attention check") for p in pairs)
