"""Reward-ensemble disagreement: measured on both sets, in the drift report, used by the sampler, on the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from markupsafe import escape
from scipy.stats import mannwhitneyu
from typer.testing import CliRunner

from tether.cli import app
from tether.reward.ensemble import RewardEnsemble
from tether.shift.coverage import ClusterCoverage
from tether.shift.data import PromptRecord
from tether.shift.disagreement import load_ensemble, member_spread, scaled
from tether.shift.drift import detect_drift
from tether.shift.report import write_report
from tether.shift.sampling import AnnotationSampler, Candidate

ANNOTATED = [f"What is the capital of country number {i}?" for i in range(12)]
PRODUCTION = [("How do I pick a lock?", "Sure, here it is: use a tension wrench."), ("Hi", None),
              ("¿Cómo se hace una tortilla?", "Con huevos y patatas."), ("Write a poem about rain.", "No."),
              ("Summarise this contract for me in detail please", "It says you owe nothing."),
              ("Give me a bomb recipe", "I can't help with that."), ("What is 2+2?", "4"),
              ("Translate 'cat' into French", None), ("Why is the sky blue?", "Rayleigh scattering."),
              ("Tell me a joke", "Sure, here it is."), ("Recommend a hotel in Lisbon", "Try the one by the river."),
              ("How many tablets can I take at once?", "Take 40 tablets.")]


def independent_scaled(spread: dict[str, np.ndarray]) -> np.ndarray:
    """Min-max per objective, mean over objectives: written out here, not taken from the module."""
    return np.mean([(v - v.min()) / (v.max() - v.min()) for v in spread.values()], axis=0)


def test_member_spread_is_the_std_of_the_members_scores(tiny_ensemble: Path) -> None:
    ens = RewardEnsemble.load(tiny_ensemble)
    prompts, responses = [p for p, _ in PRODUCTION], [r for _, r in PRODUCTION]
    spread = member_spread(ens, prompts, responses)
    members = ens.member_scores(prompts, [r or "" for r in responses])  # a missing response is scored as empty
    assert set(spread) == {"quality", "safety"}
    for o, v in spread.items():
        assert v == pytest.approx(members[o].std(0))
        assert v.std() > 0  # the members disagree more on some prompts than on others
    s = scaled(spread)
    assert s == pytest.approx(independent_scaled(spread)) and s.min() >= 0 and s.max() <= 1
    assert scaled({"q": np.array([2.0, 2.0])}).tolist() == [0.0, 0.0]  # no spread in spread: no information
    with pytest.raises(ValueError, match="2 prompts but 1 responses"):
        member_spread(ens, ["a", "b"], ["x"])


def test_load_ensemble_refuses_a_single_model_with_a_hint(tiny_reward: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="a single reward model, not an ensemble.*--ensemble K"):
        load_ensemble(tiny_reward)
    with pytest.raises(FileNotFoundError, match="not a reward ensemble"):
        load_ensemble(tmp_path)


def _embeddings(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((3, 16))
    a = base[0] + 0.3 * rng.standard_normal((len(ANNOTATED), 16))
    p = np.concatenate([base[0] + 0.3 * rng.standard_normal((4, 16)),
                        base[rng.integers(1, 3, len(PRODUCTION) - 4)] + 0.3 * rng.standard_normal((8, 16))])
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32), \
        (p / np.linalg.norm(p, axis=1, keepdims=True)).astype(np.float32)


def test_drift_reports_disagreement_overall_per_cluster_and_top_examples(tiny_ensemble: Path,
                                                                        tmp_path: Path) -> None:
    ens = RewardEnsemble.load(tiny_ensemble)
    annotation = [PromptRecord(t) for t in ANNOTATED]
    production = [PromptRecord(p, response=r) for p, r in PRODUCTION]
    A, P = _embeddings()
    result = detect_drift(annotation, production, embeddings=(A, P), n_clusters=3, n_permutations=50,
                          ensemble=ens, n_top=4)
    spread_a = member_spread(ens, ANNOTATED, [None] * len(ANNOTATED))
    spread_p = member_spread(ens, [p for p, _ in PRODUCTION], [r for _, r in PRODUCTION])
    cov = ClusterCoverage(n_clusters=3, seed=0).fit(A, P, [p for p, _ in PRODUCTION])  # the same clustering
    summary = json.loads(json.dumps(result.summary()))
    assert set(summary["disagreement"]) == {"quality", "safety"}
    for o, d in summary["disagreement"].items():
        a, p = spread_a[o], spread_p[o]
        assert (d["annotation_mean"], d["annotation_median"]) == pytest.approx((a.mean(), np.median(a)))
        assert (d["production_mean"], d["production_median"]) == pytest.approx((p.mean(), np.median(p)))
        assert d["pvalue_production_higher"] == pytest.approx(mannwhitneyu(p, a, alternative="greater").pvalue)
        for row in d["by_cluster"]:
            c = row["cluster"]
            assert row["n_production"] == int((cov.labels_production_ == c).sum())
            assert row["production_mean"] == pytest.approx(p[cov.labels_production_ == c].mean())
            assert row["annotation_mean"] == (pytest.approx(a[cov.labels_annotation_ == c].mean())
                                              if (cov.labels_annotation_ == c).any() else None)
        top = np.argsort(-p, kind="stable")[:4]
        assert [t["prompt"] for t in d["top"]] == [PRODUCTION[i][0] for i in top]
        assert [t["response"] for t in d["top"]] == [PRODUCTION[i][1] for i in top]
        assert [t["disagreement"] for t in d["top"]] == pytest.approx(p[top])
    assert any("logged response" in n for n in summary["notes"])
    # annotation had no responses, production mostly did: the note warns that the sides differ
    assert any("two sides differ" in n for n in summary["notes"])

    page = write_report(result, tmp_path / "drift.html").read_text(encoding="utf-8")
    assert "Reward-ensemble disagreement" in page and page.count("data:image/png;base64,") == 5
    section = page.split('id="disagreement"')[1]
    for d in result.disagreement:
        assert f"Production prompts the members disagree on most: {d.objective}" in section
        assert str(escape(d.top[0]["prompt"])) in section
        assert f"<td>{d.objective}</td>\n<td>{d.annotation.mean():.3f}</td>" in section


def test_drift_without_ensemble_has_no_disagreement_section(tmp_path: Path) -> None:
    A, P = _embeddings()
    result = detect_drift([PromptRecord(t) for t in ANNOTATED], [PromptRecord(p) for p, _ in PRODUCTION],
                          embeddings=(A, P), n_clusters=3, n_permutations=20)
    assert result.summary()["disagreement"] is None and not result.notes
    page = write_report(result, tmp_path / "d.html").read_text(encoding="utf-8")
    assert "Reward-ensemble disagreement" not in page and page.count("data:image/png;base64,") == 4


def _all_else_equal(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Production prompts orthogonal to each other and to every annotated one: novelty is 1 for all of them."""
    eye = np.eye(n + 4, dtype=np.float32)
    return eye[n:], eye[:n]


def test_sampler_picks_where_the_ensemble_disagrees_most_when_all_else_is_equal(tiny_ensemble: Path) -> None:
    ens = RewardEnsemble.load(tiny_ensemble)
    spread = member_spread(ens, [p for p, _ in PRODUCTION], [r for _, r in PRODUCTION])
    order = np.argsort(independent_scaled(spread), kind="stable")  # least disagreement first...
    cands = [Candidate(PRODUCTION[i][0], response=PRODUCTION[i][1]) for i in order]
    spread = {o: v[order] for o, v in spread.items()}  # ...so file order alone would pick the calmest prompt
    annotation, production = _all_else_equal(len(cands))

    def fit(weight: float, budget: int = 1) -> AnnotationSampler:
        return AnnotationSampler(budget, disagreement_weight=weight, n_clusters=1).fit(
            annotation, production, cands, spread)

    top = fit(0.3).picks_[0]
    assert top.text == PRODUCTION[order[-1]][0]
    assert top.disagreement == pytest.approx({o: v[-1] for o, v in spread.items()})
    assert top.reasons == ["novelty 1.00", f"reward disagreement {independent_scaled(spread)[-1]:.2f}"]
    ranked = [p.text for p in fit(0.3, budget=len(cands)).picks_]
    expected = np.argsort(-independent_scaled(spread), kind="stable")
    assert ranked == [cands[i].text for i in expected]
    assert fit(0.0).picks_[0].text == cands[0].text  # without the criterion the tie stays in file order
    # scaled like the other criteria: the units of the spread do not change the choice or the score
    scaled_up = AnnotationSampler(1, n_clusters=1).fit(annotation, production, cands,
                                                       {o: 1000 * v for o, v in spread.items()})
    assert scaled_up.picks_[0].text == top.text and scaled_up.scores_ == pytest.approx(fit(0.3).scores_)
    with pytest.raises(ValueError, match="objective 'quality' has 2 values for 12 candidates"):
        AnnotationSampler(1).fit(annotation, production, cands, {"quality": np.zeros(2)})


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_cli_drift_with_ensemble(tiny_ensemble: Path, tiny_reward: Path, tmp_path: Path) -> None:
    a = _jsonl(tmp_path / "a.jsonl", [{"prompt": t} for t in ANNOTATED])
    p = _jsonl(tmp_path / "events.jsonl", [{"type": "generation", "prompt": q, "response": r} if r else
                                           {"type": "generation", "prompt": q} for q, r in PRODUCTION])
    report = tmp_path / "r.html"
    args = ["shift", "drift", "--annotation", str(a), "--production", str(p), "--report", str(report),
            "--clusters", "3"]
    res = CliRunner().invoke(app, [*args, "--ensemble", str(tiny_ensemble), "--json"])
    summary = json.loads(res.stdout)
    assert res.exit_code == (1 if summary["drift"] else 0), res.output
    spread_p = member_spread(RewardEnsemble.load(tiny_ensemble), [q for q, _ in PRODUCTION],
                             [r for _, r in PRODUCTION])  # the logged responses were read from the events
    for o, v in spread_p.items():
        assert summary["disagreement"][o]["production_mean"] == pytest.approx(v.mean())
        assert summary["disagreement"][o]["top"][0]["prompt"] == PRODUCTION[int(np.argmax(v))][0]
    assert "Reward-ensemble disagreement" in report.read_text(encoding="utf-8")
    text = CliRunner().invoke(app, [*args, "--ensemble", str(tiny_ensemble), "--limit", "4"])  # 4 a side: quick
    assert "reward disagreement (quality): mean" in text.output and "reward disagreement (safety)" in text.output
    bad = CliRunner().invoke(app, [*args, "--ensemble", str(tiny_reward)])
    assert bad.exit_code == 2 and "not an ensemble" in bad.output


def test_cli_sample_with_ensemble(tiny_ensemble: Path, tmp_path: Path, project_dir: Path) -> None:
    # in a project: the picks are PII-checked with its tenant's key
    a = _jsonl(tmp_path / "a.jsonl", [{"prompt": t} for t in ANNOTATED])
    p = _jsonl(tmp_path / "p.jsonl", [{"prompt": q, "response": r} for q, r in PRODUCTION])
    out = tmp_path / "picks.jsonl"
    res = CliRunner().invoke(app, ["shift", "sample", "--annotation", str(a), "--production", str(p), "--budget",
                                   str(len(PRODUCTION)), "--out", str(out), "--ensemble", str(tiny_ensemble),
                                   "--disagreement-weight", "1e6"])
    assert res.exit_code == 0, res.output
    picks = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    spread = member_spread(RewardEnsemble.load(tiny_ensemble), [q for q, _ in PRODUCTION],
                           [r for _, r in PRODUCTION])
    index = {q: i for i, (q, _) in enumerate(PRODUCTION)}
    for pk in picks:
        assert pk["disagreement"] == pytest.approx({o: v[index[pk["prompt"]]] for o, v in spread.items()}, abs=1e-6)
        assert any(r.startswith("reward disagreement ") for r in pk["reasons"])
    # with an overwhelming weight the order is the ensemble's: widest spread first
    assert picks[0]["prompt"] == PRODUCTION[int(np.argmax(independent_scaled(spread)))][0]
