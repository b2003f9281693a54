"""Real data: English OpenAssistant prompts (annotation) vs the non-English ones (production)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tether.cli import app
from tether.shift.data import PromptRecord, read_prompts
from tether.shift.drift import detect_drift
from tether.shift.embed import Encoder

OASST = Path(__file__).parents[2] / "data" / "oasst_prompts" / "oa_questions.jsonl"
N = 30


@pytest.fixture(scope="module")
def samples() -> tuple[list[PromptRecord], list[PromptRecord]]:
    rows = read_prompts(OASST)
    rng = random.Random(0)
    en = rng.sample([r for r in rows if r.lang == "en"], N)
    other = rng.sample([r for r in rows if r.lang != "en"], N)
    return en, other


def test_reads_the_user_prompt_not_the_system_prompt() -> None:
    rows = read_prompts(OASST, limit=5)
    assert all(not r.text.startswith(("### Human", "A chat between")) and r.text for r in rows)
    assert all(r.lang for r in rows)


def test_non_english_production_is_detected_and_located(samples) -> None:
    en, other = samples
    result = detect_drift(en, other, encoder=Encoder(), n_clusters=4)
    assert result.mmd_pvalue < 0.01 and result.c2st_pvalue < 0.01 and result.drift
    assert result.under_covered  # some production cluster the English set barely has
    by_text = {r.text: r.lang for r in other}
    examples = [e for c in result.under_covered for e in c.examples]
    assert sum(by_text[e] != "en" for e in examples) == len(examples)
    langs = {row["language"]: row for row in result.languages}
    assert langs["en"]["annotation_share"] == 1.0 and langs["en"]["production"] == 0


def test_cli_writes_report_and_exits_1_on_drift(samples, tmp_path: Path) -> None:
    en, other = samples
    a, p = tmp_path / "a.jsonl", tmp_path / "p.txt"
    a.write_text("".join(json.dumps({"prompt": r.text}) + "\n" for r in en), encoding="utf-8")
    p.write_text("".join(r.text.replace("\n", " ") + "\n" for r in other), encoding="utf-8")
    report = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["shift", "drift", "--annotation", str(a), "--production", str(p),
                                   "--report", str(report), "--clusters", "4", "--json"])
    assert res.exit_code == 1, res.output
    summary = json.loads(res.stdout)
    assert summary["drift"] and summary["n_annotation"] == summary["n_production"] == N
    html = report.read_text(encoding="utf-8")
    assert "production differs" in html and html.count("data:image/png;base64,") == 4
    # languages of the .txt side were detected (no labels there): mostly not English
    prod_langs = {row["language"]: row["production"] for row in summary["languages"]}
    assert prod_langs.get("en", 0) <= 0.2 * N


def test_bad_input_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"no_text": 1}\n', encoding="utf-8")
    res = CliRunner().invoke(app, ["shift", "drift", "--annotation", str(bad), "--production", str(bad)])
    assert res.exit_code == 2 and f"{bad}:2" in res.output.replace("\n", "")
    events = tmp_path / "events.jsonl"
    events.write_text('{"type": "generation", "prompt": "hi"}\n{"type": "feedback", "value": 1}\n', encoding="utf-8")
    assert [r.text for r in read_prompts(events)] == ["hi"]  # feedback events carry no prompt


def test_sample_cli_picks_the_uncovered_language(samples, tmp_path: Path, project_dir: Path) -> None:
    en, other = samples  # in a project: the picks are PII-checked with its tenant's key
    a, p = tmp_path / "a.jsonl", tmp_path / "p.jsonl"
    a.write_text("".join(json.dumps({"prompt": r.text}) + "\n" for r in en[:20]), encoding="utf-8")
    mixed = en[20:] + other[:10]  # production: 10 English prompts like the annotated ones, 10 others
    p.write_text("".join(json.dumps({"prompt": r.text}) + "\n" for r in mixed), encoding="utf-8")
    res = CliRunner().invoke(app, ["shift", "sample", "--annotation", str(a), "--production", str(p),
                                   "--budget", "5", "--out", str(tmp_path / "pick.jsonl")])
    assert res.exit_code == 0, res.output
    picks = [json.loads(line) for line in (tmp_path / "pick.jsonl").read_text(encoding="utf-8").splitlines()]
    lang = {r.text: r.lang for r in mixed}
    # half of production is in languages the annotation set lacks: they must be the majority of the picks
    assert len(picks) == 5 and sum(lang[pk["prompt"]] != "en" for pk in picks) >= 3
    assert all(pk["reasons"][0].startswith("novelty") for pk in picks)


def test_cli_reads_stored_comparisons_and_a_window_of_stored_events(samples, project_dir: Path) -> None:
    """No file arguments: annotation = the stored comparisons' prompts, production = stored events in the window."""
    from datetime import UTC, datetime, timedelta

    from tether.config import find_project
    from tether.records import Comparison, Event

    en, other = samples
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    old = [Event(event_id=f"o{i}", type="generation", trace_id=f"o{i}", timestamp=t0, model="m", prompt=r.text,
                 response="ok") for i, r in enumerate(en)]  # before the window: must not be read as production
    new = [Event(event_id=f"n{i}", type="generation", trace_id=f"n{i}", timestamp=t0 + timedelta(days=40),
                 model="m", prompt=r.text, response="ok") for i, r in enumerate(other)]
    with find_project().store() as store:
        store.add_comparisons(Comparison(prompt=r.text, response_a="x", response_b="y", shown_first="a", choice="a",
                                         rater="r1") for r in en)
        store.add_events(old + new, project=find_project().name)  # the tenant read by default
    res = CliRunner().invoke(app, ["shift", "drift", "--days", "30", "--clusters", "4", "--json",
                                   "--report", str(project_dir / "r.html")])
    assert res.exit_code == 1, res.output
    summary = json.loads(res.stdout)
    assert summary["n_annotation"] == summary["n_production"] == N and summary["drift"]
    # the whole history, old traffic included, is a different production side
    report = str(project_dir / "r.html")
    res = CliRunner().invoke(app, ["shift", "drift", "--clusters", "4", "--json", "--report", report])
    assert json.loads(res.stdout)["n_production"] == 2 * N
    assert "of tenant 'proj'" in res.output  # says which tenant it read
    res = CliRunner().invoke(app, ["shift", "drift", "--project", "shop", "--report", report])
    assert res.exit_code == 2 and "tenant 'shop'" in res.output
