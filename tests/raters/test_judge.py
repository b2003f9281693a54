"""The LLM judge against a real OpenAI-compatible server on loopback: orders, retries, failures, parsing, the key."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from tests.serving import free_port, serve_in_thread
from typer.testing import CliRunner

from tether.cli import app
from tether.io import write_jsonl
from tether.raters.judge import JudgeConfig, JudgeError, JudgeItem, judge, load_api_key, parse_verdict, read_items
from tether.records import Choice, Comparison, Side

KEY = "sk-test-5f1c0ffee-never-log-me"
runner = CliRunner()


def _scripted_app():
    """A judge that favours the first answer shown on 'lazy' prompts and the 'good' answer otherwise; some prompts
    fail once ('flaky'), always ('down'), or get an unreadable reply ('garbage')."""
    api = FastAPI()
    seen: Counter[str] = Counter()
    lock = threading.Lock()
    api.state.auth = set()

    @api.post("/v1/chat/completions")
    async def chat(request: Request):  # noqa: ANN202
        body = await request.json()
        api.state.auth.add(request.headers.get("authorization"))
        user = body["messages"][1]["content"]
        prompt = user.split("[User request]\n", 1)[1].split("\n", 1)[0]
        first = user.split("[The start of answer A]\n", 1)[1].split("\n", 1)[0]
        with lock:
            seen[user] += 1
            calls = seen[user]
        if "down" in prompt or ("flaky" in prompt and calls == 1):
            return JSONResponse({"error": "overloaded"}, status_code=503)
        if "garbage" in prompt:
            reply = "Both answers have merits; I cannot say."
        elif "lazy" in prompt:
            reply = "[[A]]"
        else:
            reply = json.dumps({"choice": "A" if "good" in first else "B"})
        return {"id": "x", "object": "chat.completion", "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}]}

    return api


@pytest.fixture
def endpoint() -> Iterator[tuple[str, object]]:
    api = _scripted_app()
    with serve_in_thread(api) as port:
        yield f"http://127.0.0.1:{port}/v1", api


def _items() -> list[JudgeItem]:
    items = [JudgeItem(f"lazy question {i}", f"good answer {i}", f"poor answer {i}", task_type="qa")
             for i in range(12)]
    items += [JudgeItem(f"fair question {i}", f"poor answer {i}", f"good answer {i}", task_type="qa")
              for i in range(12)]
    items += [JudgeItem("flaky question", "good answer f", "poor answer f"),
              JudgeItem("down question", "good answer d", "poor answer d"),
              JudgeItem("garbage question", "good answer g", "poor answer g")]
    return items


def test_judge_both_orders_retries_and_counts_failures(endpoint):
    url, api = endpoint
    result = judge(_items(), JudgeConfig(url, "tiny-judge", "Prefer the correct answer.", retry_wait=0,
                                         concurrency=3), api_key=KEY)
    assert api.state.auth == {f"Bearer {KEY}"}
    assert result.unjudged == 2 and result.unparsed == 2  # 'down' and 'garbage', each in both orders
    assert len(result.comparisons) == 2 * 25
    # 'flaky' failed once per order and was retried; 'down' used every retry in both orders
    assert result.retries == 2 + 2 * 5
    by_prompt: dict[str, list] = {}
    for c in result.comparisons:
        assert c.rater == "judge:tiny-judge" and c.interface == "llm-judge"
        assert c.rubric_version and c.rubric_version.startswith("sha256:")
        by_prompt.setdefault(c.prompt, []).append(c)
    assert all(sorted(c.shown_first for c in cs) == [Side.A, Side.B] for cs in by_prompt.values())
    # lazy items: the judge picked whatever came first, so canonical choice follows shown_first
    for c in by_prompt["lazy question 3"]:
        assert c.choice == Choice(c.shown_first.value)
    # fair items: the judge picked the good answer (canonical b) in both orders
    assert {c.choice for c in by_prompt["fair question 3"]} == {Choice.B}
    assert {c.choice for c in by_prompt["flaky question"]} == {Choice.A}
    assert "down question" not in by_prompt and "garbage question" not in by_prompt
    assert not any(KEY in f for f in result.failures)


def test_one_order_judges_each_pair_once(endpoint):
    url, _ = endpoint
    result = judge(_items()[:4], JudgeConfig(url, "m", "r", both_orders=False, retry_wait=0), api_key=None)
    assert [c.shown_first for c in result.comparisons] == [Side.A] * 4


def test_unreachable_endpoint_leaves_items_unjudged():
    result = judge(_items()[:1], JudgeConfig(f"http://127.0.0.1:{free_port()}/v1", "m", "r", retry_wait=0))
    assert result.unjudged == 2 and not result.comparisons


@pytest.mark.parametrize(("reply", "verdict"), [
    ("A", "first"), (" b. ", "second"), ("**A**", "first"), ("tie", "tie"), ("Verdict: B", "second"),
    ("Reasoning... so the final verdict is [[B]]", "second"), ("[[C]]", "tie"), ("[[tie]]", "tie"),
    ("Output (a)", "first"), ("Output (b) is better.", "second"),
    ('{"choice": "B"}', "second"), ('```json\n{"verdict": "[[A]]"}\n```', "first"), ('{"winner": "tie"}', "tie"),
    ("[[A]] ... on reflection [[B]]", None), ("I cannot decide", None), ("", None), ('{"choice": "both"}', None),
    ("A is clearly worse than B", None), ('{"reason": "x"}', None),
])
def test_parse_verdict_reads_common_formats_and_refuses_to_guess(reply, verdict):
    assert parse_verdict(reply) == verdict


def test_api_key_from_env_or_private_file_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("JUDGE_KEY", KEY)
    assert load_api_key(env="JUDGE_KEY") == KEY
    with pytest.raises(JudgeError, match="NOPE_KEY is not set"):
        load_api_key(env="NOPE_KEY")
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    os.chmod(key_file, 0o644)
    with pytest.raises(JudgeError, match="readable by others") as exc:
        load_api_key(file=key_file)
    assert KEY not in str(exc.value)
    os.chmod(key_file, 0o600)
    assert load_api_key(file=key_file) == KEY
    assert load_api_key() is None


def test_read_items_takes_campaign_items_or_comparisons(tmp_path: Path):
    path = tmp_path / "c.jsonl"
    write_jsonl(path, [{"prompt": "p", "response_a": "x", "response_b": "y", "choice": "a", "rater": "r1"},
                       {"prompt": "p", "response_a": "x", "response_b": "y", "choice": "b", "rater": "r2"},
                       {"prompt": "q", "response_a": "x", "response_b": "y", "task_type": "code", "kind": "gold"}])
    items = read_items(path)
    assert [(i.prompt, i.task_type) for i in items] == [("p", "default"), ("q", "code")]
    write_jsonl(path, [{"prompt": "p", "response_a": "x"}])
    with pytest.raises(JudgeError, match=r"c.jsonl:1: missing or non-string response_b"):
        read_items(path)


def test_cli_judge_store_and_audit_show_the_judges_position_bias(endpoint, project_dir: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch, caplog):
    from tether.config import find_project
    from tether.io.v1 import comparison_to_v1

    url, _ = endpoint
    caplog.set_level(logging.DEBUG)
    pairs = tmp_path / "pairs.jsonl"
    write_jsonl(pairs, [{"prompt": i.prompt, "response_a": i.response_a, "response_b": i.response_b,
                         "task_type": i.task_type} for i in _items()])
    rubric = tmp_path / "rubric.md"
    rubric.write_text("Prefer the correct answer.\n")
    monkeypatch.setenv("JUDGE_KEY", KEY)
    humans = find_project().store()
    try:  # three careful humans pick the good answer in both orders: the judge is audited beside them
        humans.add_comparisons(
            Comparison(prompt=i.prompt, response_a=i.response_a, response_b=i.response_b, task_type=i.task_type,
                       shown_first=order, choice=Choice.A if "good" in i.response_a else Choice.B, rater=f"h{r}")
            for i in _items() for r in range(3) for order in (Side.A, Side.B))
    finally:
        humans.close()
    out = tmp_path / "judgments.jsonl"
    result = runner.invoke(app, ["raters", "judge", str(pairs), "--base-url", url, "--model", "tiny-judge",
                                 "--rubric", str(rubric), "--api-key-env", "JUDGE_KEY", "--retry-wait", "0",
                                 "-o", str(out), "--store"])
    assert result.exit_code == 0, result.output
    assert "50 judgments by judge:tiny-judge from 54 calls; 2 unjudged" in result.output
    assert "2 unparseable" in result.output and "stored 50 comparisons" in result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 50 and {r["rater"] for r in rows} == {"judge:tiny-judge"}
    store = find_project().store()
    try:
        stored = [c for c in store.iter_comparisons() if c.rater.startswith("judge:")]
    finally:
        store.close()
    assert sorted(json.dumps(comparison_to_v1(c), sort_keys=True, default=str) for c in stored) == sorted(
        json.dumps(r, sort_keys=True) for r in rows)
    assert all(KEY not in json.dumps(comparison_to_v1(c), default=str) for c in stored)

    audit = runner.invoke(app, ["audit", "--json", "audit.json", "--bootstrap", "10"])
    assert audit.exit_code == 0, audit.output
    d = json.loads((project_dir / "audit.json").read_text())
    judge_pos = d["position"]["by_rater"]["judge:tiny-judge"]
    # 12 of 25 judged pairs: the first shown won in both orders; the other 13 were judged on merit
    assert judge_pos["n_swapped"] == 25 and judge_pos["n_favoured_first"] == 12
    assert judge_pos["n_consistent"] == 13
    # first-position rate: 24 lazy verdicts + one of each merit-judged pair's two orders = 37 of 50
    assert judge_pos["rate"] == pytest.approx(37 / 50) and judge_pos["p_value"] < 0.01
    assert d["position"]["by_rater"]["h0"]["rate"] == pytest.approx(0.5)
    assert d["position"]["by_rater"]["h0"]["n_consistent"] == d["position"]["by_rater"]["h0"]["n_swapped"] == 27
    # agreement with the human raters: the judge sides with them except where it picked a lazy pair's first-shown
    # poor answer (12 of its 50 verdicts), and its reliability falls below theirs
    judge_row = d["raters"]["judge:tiny-judge"]
    assert judge_row["n_judgments"] == 50 and judge_row["consensus_agreement"] == pytest.approx(38 / 50)
    assert judge_row["reliability"] < 0.8 < d["raters"]["h0"]["reliability"]

    everything = result.output + audit.output + out.read_text() + caplog.text + \
        (project_dir / "audit.json").read_text()
    assert KEY not in everything
    db_files = list(project_dir.rglob("*.db")) + list(project_dir.rglob("*.sqlite*"))
    assert all(KEY.encode() not in f.read_bytes() for f in db_files)


def test_cli_refuses_a_shared_key_file_and_needs_an_output(tmp_path: Path, endpoint):
    url, _ = endpoint
    pairs = tmp_path / "pairs.jsonl"
    write_jsonl(pairs, [{"prompt": "p", "response_a": "x", "response_b": "y"}])
    rubric = tmp_path / "rubric.md"
    rubric.write_text("r")
    key_file = tmp_path / "key"
    key_file.write_text(KEY)
    os.chmod(key_file, 0o640)
    base = ["raters", "judge", str(pairs), "--base-url", url, "--model", "m", "--rubric", str(rubric)]
    result = runner.invoke(app, [*base, "--api-key-file", str(key_file), "-o", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2 and "readable by others" in result.output and KEY not in result.output
    assert not (tmp_path / "o.jsonl").exists()
    result = runner.invoke(app, base)
    assert result.exit_code == 2 and "nowhere to put the judgments" in result.output


def test_a_refused_key_stops_the_run_without_echoing_it():
    api = FastAPI()

    @api.post("/v1/chat/completions")
    async def chat(request: Request):  # noqa: ANN202
        return JSONResponse({"error": f"bad key {request.headers.get('authorization')}"}, status_code=401)

    with serve_in_thread(api) as port, pytest.raises(JudgeError, match="refused the API key") as exc:
        judge(_items()[:3], JudgeConfig(f"http://127.0.0.1:{port}/v1", "m", "r", retry_wait=0), api_key=KEY)
    assert KEY not in str(exc.value)


def test_rate_limits_and_timeouts_are_retried():
    import asyncio

    api = FastAPI()
    calls: Counter[str] = Counter()

    @api.post("/v1/chat/completions")
    async def chat(request: Request):  # noqa: ANN202
        body = await request.json()
        prompt = body["messages"][1]["content"].split("[User request]\n", 1)[1].split("\n", 1)[0]
        calls[prompt] += 1
        if prompt == "rate limited" and calls[prompt] <= 2:
            return JSONResponse({"error": "slow down"}, status_code=429)
        if prompt == "slow" and calls[prompt] == 1:
            await asyncio.sleep(1.5)  # past the client's timeout: the call is abandoned and retried
        return {"choices": [{"message": {"role": "assistant", "content": "[[B]]"}}]}

    items = [JudgeItem("rate limited", "x", "y"), JudgeItem("slow", "x", "y")]
    with serve_in_thread(api) as port:
        result = judge(items, JudgeConfig(f"http://127.0.0.1:{port}/v1", "m", "r", both_orders=False, retry_wait=0,
                                          timeout=0.4))
    assert result.unjudged == 0 and result.retries == 3
    assert [c.choice for c in result.comparisons] == [Choice.B, Choice.B]


def test_cli_fails_when_no_call_gives_a_verdict(tmp_path: Path):
    pairs = tmp_path / "pairs.jsonl"
    write_jsonl(pairs, [{"prompt": "p", "response_a": "x", "response_b": "y"}])
    rubric = tmp_path / "rubric.md"
    rubric.write_text("r")
    out = tmp_path / "o.jsonl"
    result = runner.invoke(app, ["raters", "judge", str(pairs), "--base-url", "http://127.0.0.1:9/v1", "--model",
                                 "m", "--rubric", str(rubric), "--retry-wait", "0", "-o", str(out)])
    assert result.exit_code == 2 and "gave no usable verdict" in result.output and "2 unjudged" in result.output
    assert not out.exists()
