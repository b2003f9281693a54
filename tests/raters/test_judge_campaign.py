"""An LLM judge as a campaign's extra rater, against a loopback OpenAI-compatible server: the campaign's items in
both orders, stored into the campaign, audited beside the human raters (agreement, swap consistency, flags)."""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections import Counter
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from tests.collect.collect_helpers import answer_all, setup_campaign
from tests.serving import serve_in_thread
from typer.testing import CliRunner

from tether.cli import app
from tether.records import Side

runner = CliRunner()
WIDE = {"COLUMNS": "200"}


def _better_shown(first: str, second: str) -> str:
    """The campaign helpers' truth: answer A<i> is better on even items, B<i> on odd ones; gold 'right' wins."""
    if "gold" in first:
        return "first" if "right" in first else "second"
    i = int(re.search(r"(\d+)$", first).group(1))
    want = "A" if i % 2 == 0 else "B"
    return "first" if f"answer {want}{i}" in first else "second"


def _judge_server() -> FastAPI:
    """model 'fair' judges on merit; model 'lazy' always picks the answer shown first. For 'fair', prompt 3 is
    rate-limited twice, prompt 5's first call outlives the client's timeout, prompt 7 always gets a body that is
    no chat completion and prompt 9 a reply with no verdict."""
    api = FastAPI()
    calls: Counter[tuple[str, str, str]] = Counter()

    @api.post("/v1/chat/completions")
    async def chat(request: Request):  # noqa: ANN202
        body = await request.json()
        user = body["messages"][1]["content"]
        prompt = user.split("[User request]\n", 1)[1].split("\n", 1)[0]
        first = user.split("[The start of answer A]\n", 1)[1].split("\n", 1)[0]
        second = user.split("[The start of answer B]\n", 1)[1].split("\n", 1)[0]
        calls[(body["model"], prompt, first)] += 1
        n = calls[(body["model"], prompt, first)]
        if body["model"] == "lazy":
            reply = "[[A]]"
        elif prompt == "qa prompt 3" and n <= 2:
            return JSONResponse({"error": "rate limited"}, status_code=429)
        elif prompt == "qa prompt 5" and n == 1:
            await asyncio.sleep(1.0)
            reply = "too late"
        elif prompt == "qa prompt 7":
            return JSONResponse({"object": "error", "detail": "upstream reset"})
        elif prompt == "qa prompt 9":
            reply = "Both are fine answers."
        else:
            reply = "[[A]]" if _better_shown(first, second) == "first" else "[[B]]"
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": reply}}]}

    api.state.calls = calls
    return api


def _human_decides(task):  # noqa: ANN001, ANN202
    return {o: _better_shown(task.first, task.second) for o in task.objectives}


def _lazy_human_decides(task):  # noqa: ANN001, ANN202
    return {o: "first" for o in task.objectives}


def test_judge_as_campaign_rater_audited_beside_humans(project_dir: Path, tmp_path: Path):
    from tether.config import find_project

    store = find_project().store()
    try:
        humans = setup_campaign(store, raters=4, task_types={"qa": 30}, name="c1", overlap=4, pilot_items=0,
                                gold_items=4, attention_items=2)
        for rater in humans[:3]:
            answer_all(store, rater, _human_decides, campaign="c1", rng=random.Random(rater))
        # a careless person: picks whatever is shown first
        answer_all(store, humans[3], _lazy_human_decides, campaign="c1", rng=random.Random(7))
    finally:
        store.close()
    api = _judge_server()
    with serve_in_thread(api) as port:
        url = f"http://127.0.0.1:{port}/v1"
        base = ["raters", "judge", "--campaign", "c1", "--base-url", url, "--retry-wait", "0", "--timeout", "0.3"]
        fair = runner.invoke(app, [*base, "--model", "fair"], env=WIDE)
        assert fair.exit_code == 0, fair.output
        lazy = runner.invoke(app, [*base, "--model", "lazy"], env=WIDE)
        assert lazy.exit_code == 0, lazy.output
        again = runner.invoke(app, [*base, "--model", "fair"], env=WIDE)
    # 30 regular + 4 gold items in both orders; the 2 attention checks are not for a judge
    assert "64 judgments by judge:fair from 68 calls; 2 unjudged (call failed after retries), 2 unparseable" \
        in fair.output
    assert "stored 64 comparisons into campaign c1" in fair.output
    assert "68 judgments by judge:lazy from 68 calls; 0 unjudged" in lazy.output
    # a rerun resumes: only the four failed judgments are asked again (and fail again)
    assert "64 of 68 judgments in campaign c1 were made before; judging the other 4" in again.output
    assert "0 judgments by judge:fair from 4 calls" in again.output
    assert again.exit_code == 2 and "gave no usable verdict" in again.output  # as any run with no verdict
    # 429 twice, then an answer: retried; the timed-out call retried; the malformed body retried to the limit
    assert api.state.calls[("fair", "qa prompt 3", "qa answer A3")] >= 3
    assert api.state.calls[("fair", "qa prompt 5", "qa answer A5")] >= 2
    assert api.state.calls[("fair", "qa prompt 7", "qa answer A7")] == 1 + 5 + 1 + 5  # two runs, each 1 try + 5 retries

    store = find_project().store()
    try:
        judged = [c for c in store.iter_comparisons(campaign="c1") if c.rater.startswith("judge:")]
        raters = {r.id: r for r in store.raters()}
    finally:
        store.close()
    assert raters["judge:fair"].is_ai and raters["judge:lazy"].is_ai and not raters[humans[0]].is_ai
    fair_c = [c for c in judged if c.rater == "judge:fair"]
    assert len(fair_c) == 64 and all(c.interface == "llm-judge" and c.campaign == "c1" for c in judged)
    assert {c.prompt for c in fair_c}.isdisjoint({"qa prompt 7", "qa prompt 9"})  # failures never stored
    by_pair = Counter((c.pair_id, c.shown_first) for c in fair_c)
    assert set(by_pair.values()) == {1} and {s for _, s in by_pair} == {Side.A, Side.B}
    assert sum(c.extras.get("item_kind") == "gold" for c in fair_c) == 8
    assert not any("attention" in c.prompt for c in judged)
    assert {c.rubric_version for c in judged} == {"v1"}  # the campaign's rubric, as the humans saw it

    status = runner.invoke(app, ["campaign", "status", "c1", "--json"])
    assert status.exit_code == 0, status.output
    s = json.loads(status.stdout)
    assert s["ai_raters"] == {"judge:fair": 56, "judge:lazy": 60}  # regular items only, as for people
    assert s["position_bias_by_rater"]["judge:lazy"]["rate"] == 1.0
    assert "agreement_so_far_with_ai" in s["task_types"]["qa"]
    shown = runner.invoke(app, ["campaign", "status", "c1"], env=WIDE)
    assert "AI rater judge:lazy: 60 judgments; first shown picked 60/60" in shown.output

    audit = runner.invoke(app, ["audit", "--campaign", "c1", "--json", "audit.json", "--bootstrap", "0"], env=WIDE)
    assert audit.exit_code == 0, audit.output
    d = json.loads((project_dir / "audit.json").read_text())
    assert d["ai_raters"] == ["judge:fair", "judge:lazy"] and d["rule_raters"] == "human"
    r, pos = d["raters"], d["position"]["by_rater"]
    assert {n: r[n]["kind"] for n in r} == {**{h: "human" for h in humans}, "judge:fair": "ai", "judge:lazy": "ai"}
    # both-order comparisons: the fair judge keeps every verdict through the swap, the lazy one none
    assert pos["judge:fair"]["n_swapped"] == 32 and pos["judge:fair"]["swap_consistency"] == 1.0
    assert pos["judge:lazy"]["n_swapped"] == 34 and pos["judge:lazy"]["favoured_first"] == 1.0
    # agreement with the human raters: the fair judge always sides with the human majority (on the 28 regular
    # pairs it judged, in both orders; people were given no gold items here)
    assert r["judge:fair"]["human_majority"]["rate"] == 1.0 and r["judge:fair"]["human_majority"]["n_items"] == 56
    assert r["judge:lazy"]["human_majority"]["rate"] < 0.6
    kinds = d["agreement"]["by_rater_kind"]
    assert set(kinds) == {"human", "ai", "all"} and kinds["ai"]["value"] < kinds["human"]["value"]
    # the flipping judge is flagged by the very test that flags the careless person; careful raters are not
    assert r["judge:lazy"]["flags"] and r[humans[3]]["flags"]
    assert r["judge:lazy"]["flags"][0].startswith("picks the first-shown response 100% of the time")
    assert r[humans[3]]["flags"][0].startswith("picks the first-shown response 100% of the time")
    assert not r["judge:fair"]["flags"] and not any(r[h]["flags"] for h in humans[:3])
    assert d["task_types"]["qa"]["rule_raters"] == "human"
    assert "flagged: ai rater judge:lazy picks the first-shown response 100%" in audit.output
    assert "judge:fair: agrees with the human majority on 1.000 of 56 judgments" in audit.output


def test_rule_raters_all_lets_the_judges_into_the_rule(project_dir: Path):
    """The 0.4 rule on everyone (rule_raters = 'all' in tether.toml [audit], or --rule-raters all)."""
    from tether.config import find_project
    from tether.records import Choice, Comparison

    store = find_project().store()
    try:  # two careful people, and a judge that disagrees with them on every item
        store.add_comparisons(
            Comparison(prompt=f"p{i}", response_a=f"a{i}", response_b=f"b{i}", shown_first=order, rater=rater,
                       choice=choice if rater != "judge:contrary" else (Choice.B if choice is Choice.A else Choice.A),
                       interface="llm-judge" if rater.startswith("judge:") else "tether-web", campaign="c2")
            for i in range(30) for choice in [Choice.A if i % 2 else Choice.B]
            for rater, order in (("h1", Side.A), ("h2", Side.B), ("judge:contrary", Side.A),
                                 ("judge:contrary", Side.B)))
    finally:
        store.close()
    human = runner.invoke(app, ["audit", "--json", "h.json", "--bootstrap", "0"], env=WIDE)
    everyone = runner.invoke(app, ["audit", "--json", "a.json", "--bootstrap", "0", "--rule-raters", "all"], env=WIDE)
    assert human.exit_code == 0 and everyone.exit_code == 0, human.output + everyone.output
    h, a = (json.loads((project_dir / f).read_text()) for f in ("h.json", "a.json"))
    assert h["task_types"]["default"]["status"] == "ok" and h["task_types"]["default"]["rule_raters"] == "human"
    assert h["task_types"]["default"]["alpha_all"] == 1.0
    assert a["task_types"]["default"]["rule_raters"] == "all" and a["task_types"]["default"]["alpha_all"] < 0.4
    assert a["blocked_task_types"] == ["default"] and h["blocked_task_types"] == []
    assert h["agreement"]["by_rater_kind"]["human"]["value"] == 1.0
    assert h["raters"]["judge:contrary"]["human_majority"]["rate"] == 0.0
