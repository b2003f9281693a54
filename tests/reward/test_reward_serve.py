"""`tether reward serve`: OpenRLHF's remote reward-model shape, scores equal to the Python API's, credentials."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tether.cli import app as cli_app
from tether.reward import load
from tether.reward.serve import Served, create_app, split_response
from tether.reward.tokens import RedactToken, TokenError, read_token, require_token_for

TOKEN = "s3cret-token-0123456789abcdef"
PROMPTS = ["What do you think of the weather?", "What do you think of my code?", "Rate the trip."]
RESPONSES = ["It is very excellent.", "It is so terrible.", "It is quite fine, really."]


@pytest.fixture(scope="module")
def model(gated_rm: Path):  # noqa: ANN201
    return load(gated_rm)


def _client(model, **kw) -> TestClient:  # noqa: ANN001
    return TestClient(create_app(Served(model, kw.pop("objective", "quality"), **kw)))


def _payload(prompts: list[str], responses: list[str], eos: str = "") -> dict:
    return {"query": [p + r + eos for p, r in zip(prompts, responses, strict=True)], "prompts": prompts,
            "labels": [None] * len(prompts)}


def test_scores_equal_the_python_api(model, gated_rm: Path) -> None:  # noqa: ANN001
    """The served numbers are the evaluator's that `tether policy rl` optimizes: contract-normalized and signed."""
    from tether.policy.evaluators import load_evaluator

    expected = load_evaluator(gated_rm)(PROMPTS, RESPONSES)
    raw = model.score(PROMPTS, RESPONSES)
    for objective in ("quality", "safety"):
        res = _client(model, objective=objective).post("/get_reward", json=_payload(PROMPTS, RESPONSES, "</s>"))
        assert res.status_code == 200, res.text
        body = res.json()
        assert body["rewards"] == pytest.approx(expected[objective].tolist(), abs=1e-9)
        assert body["scores"] == body["rewards"]
        assert set(body["extra_logs"]) == {"tether/quality", "tether/safety"}
        for o in ("quality", "safety"):
            assert body["extra_logs"][f"tether/{o}"] == pytest.approx(expected[o].tolist(), abs=1e-9)
    # by hand: z-score with the contract's stats, safety (lower is better) negated
    c = model.contract("safety")
    by_hand = -(raw["safety"] - c.normalization["mean"]) / c.normalization["std"]
    assert body["extra_logs"]["tether/safety"] == pytest.approx(by_hand.tolist(), abs=1e-9)
    raw_body = _client(model, normalize=False).post("/get_reward", json=_payload(PROMPTS, RESPONSES)).json()
    assert raw_body["rewards"] == pytest.approx(raw["quality"].tolist(), abs=1e-9)


def test_the_payload_openrlhf_builds(model) -> None:  # noqa: ANN001
    """The request exactly as OpenRLHF's client builds it and the response read as it reads it.

    Copied in shape from OpenRLHF/OpenRLHF@3c3be6234e0cb353e76bb8019947db9dfe99fca7, openrlhf/utils/agent.py:
    `SingleTurnAgentExecutor.execute` decodes prompt + response tokens with `skip_special_tokens=False` as the query
    and `_fetch_rewards_via_http` posts `{"query", "prompts", "labels"}` slices (one server: the whole list), then
    reads `rewards`, `scores` (falling back to `rewards`) and `extra_logs`."""
    prompt, label = "<|im_start|>user\nWhat do you think of the movie?<|im_end|>\n<|im_start|>assistant\n", "gold"
    query = prompt + "It is really excellent." + "<|im_end|>"  # hf_tokenizer.decode(observation_tokens)
    queries_list, prompts_list, labels_list = [query], [prompt], [label]
    reward_endpoints = ["http://127.0.0.1:5000/get_reward?token=" + TOKEN]
    num_servers = len(reward_endpoints)
    batch_size = (len(queries_list) + num_servers - 1) // num_servers
    payloads = []
    for i, rm in enumerate(reward_endpoints):
        start_idx, end_idx = i * batch_size, min((i + 1) * batch_size, len(queries_list))
        payloads.append((rm, {"query": queries_list[start_idx:end_idx], "prompts": prompts_list[start_idx:end_idx],
                              "labels": labels_list[start_idx:end_idx]}))

    client = _client(model, token=TOKEN)
    url, payload = payloads[0]
    res = client.post(url.removeprefix("http://127.0.0.1:5000"), json=payload)  # no header: the token is in the URL
    assert res.status_code == 200, res.text
    rewards_info = res.json()
    score_value = rewards_info.get("scores")
    if score_value is None:
        score_value = rewards_info.get("rewards")
    expected = load_expected(model, [prompt], ["It is really excellent."])
    assert rewards_info["rewards"] == pytest.approx(expected["quality"], abs=1e-9)
    assert score_value == rewards_info["rewards"]
    assert all(len(v) == 1 for v in (rewards_info.get("extra_logs") or {}).values())


def load_expected(model, prompts: list[str], responses: list[str]) -> dict[str, list[float]]:  # noqa: ANN001
    from tether.reward.scoring import contract_scores

    return {o: s.tolist() for o, s in contract_scores(model, prompts, responses).items()}


def test_concurrent_requests_each_get_their_own_scores(model) -> None:  # noqa: ANN001
    """OpenRLHF's newest client posts one query per request, many at once; the server batches them."""
    from concurrent.futures import ThreadPoolExecutor

    client = _client(model)
    prompts, responses = PROMPTS * 3, [r + "!" * i for i, r in enumerate(RESPONSES * 3)]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda i: client.post("/get_reward", json=_payload([prompts[i]], [responses[i]])).json(),
                            range(len(prompts))))
    expected = load_expected(model, prompts, responses)["quality"]
    # alone or in a padded batch with others: the same model, float32 sums in another order
    assert [g["rewards"][0] for g in got] == pytest.approx(expected, abs=1e-5)


def test_an_ensemble_is_scored_as_its_evaluator(gated_rm: Path, tmp_path: Path) -> None:
    from tether.policy.evaluators import load_evaluator

    folder = tmp_path / "ens"
    for i in range(2):
        shutil.copytree(gated_rm, folder / f"member-{i}")
    (folder / "reward_ensemble.json").write_text(json.dumps(
        {"members": ["member-0", "member-1"], "aggregation": "mean_var", "lam": 0.5, "bootstrap": True}))
    ens = load(folder)
    body = _client(ens, objective="safety").post("/get_reward", json=_payload(PROMPTS, RESPONSES)).json()
    assert body["rewards"] == pytest.approx(load_evaluator(folder)(PROMPTS, RESPONSES)["safety"].tolist(), abs=1e-9)


def test_credentials(model) -> None:  # noqa: ANN001
    client = _client(model, token=TOKEN)
    payload = _payload(PROMPTS[:1], RESPONSES[:1])
    assert client.post("/get_reward", json=payload).status_code == 401
    assert client.post("/get_reward", json={"query": 3}).status_code == 401  # no credential, no word on the body
    assert client.post("/get_reward?token=wrong-token-0123456789", json=payload).status_code == 401
    assert client.post("/get_reward", json=payload, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.post("/get_reward", json=payload, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.post(f"/get_reward?token={TOKEN}", json=payload).status_code == 200
    health = client.get("/health")  # no data, no credential
    assert health.status_code == 200 and health.json()["objectives"] == ["quality", "safety"]
    assert _client(model).post("/get_reward", json=payload).status_code == 200  # loopback, no token set


def test_malformed_and_oversized_requests(model) -> None:  # noqa: ANN001
    client = _client(model, max_batch=2)
    res = client.post("/get_reward", json={"query": ["a"]})
    assert res.status_code == 422 and res.json()["detail"][0]["loc"] == ["body", "prompts"]
    res = client.post("/get_reward", json={"query": [1, "x"], "prompts": ["", ""]})
    assert res.status_code == 422 and res.json()["detail"][0]["loc"] == ["body", "query", 0]
    res = client.post("/get_reward", json={"query": ["pa", "pb"], "prompts": ["p"]})
    assert res.status_code == 422 and res.json()["detail"][0]["loc"] == ["body", "prompts"]
    res = client.post("/get_reward", json={"query": ["pa", "xb"], "prompts": ["p", "p"]})
    detail = res.json()["detail"][0]
    assert res.status_code == 422 and detail["loc"] == ["body", "query", 1] and "prompts[1]" in detail["msg"]
    res = client.post("/get_reward", json=_payload(PROMPTS, RESPONSES))
    assert res.status_code == 413 and "at most 2" in res.json()["detail"]
    assert client.post("/get_reward", json={"query": [], "prompts": []}).json()["rewards"] == []


def test_split_response_drops_end_markers() -> None:
    assert split_response("Q: hi\nA: fine</s><|endoftext|>", "Q: hi\nA:") == " fine"
    assert split_response("Q: hi\nA: fine", "Q: hi\nA:", markers=()) == " fine"
    assert split_response("other", "Q:") is None


def test_token_sources_and_rules(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o644)
    with pytest.raises(TokenError, match="readable by others"):
        read_token(path)
    path.chmod(0o600)
    assert read_token(path) == TOKEN
    assert read_token(env={"TETHER_REWARD_TOKEN": TOKEN}) == TOKEN
    assert read_token(env={}) is None
    with pytest.raises(TokenError, match="at least 16"):
        read_token(env={"TETHER_REWARD_TOKEN": "short"})
    with pytest.raises(TokenError, match="letters, digits"):
        read_token(env={"TETHER_REWARD_TOKEN": "comma,separated,0123456789"})
    with pytest.raises(TokenError, match="no such token file"):
        read_token(tmp_path / "missing")
    require_token_for("127.0.0.1", None)
    require_token_for("::1", None)
    require_token_for("0.0.0.0", TOKEN)
    with pytest.raises(TokenError, match="reachable from other machines"):
        require_token_for("0.0.0.0", None)


def test_the_token_never_reaches_the_log() -> None:
    # uvicorn's access log: '%s - "%s %s HTTP/%s" %d' % (client, method, path with query, version, status)
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "POST", f"/get_reward?token={TOKEN}&x=1", "1.1", 200), None)
    RedactToken().filter(record)
    line = record.getMessage()
    assert TOKEN not in line and "token=***&x=1" in line


def test_cli_checks_before_serving(gated_rm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tether.reward.serve as serve_module

    runner = CliRunner()
    started = []
    monkeypatch.setattr(serve_module, "run", lambda served, host, port: started.append((served, host, port)))
    monkeypatch.delenv("TETHER_REWARD_TOKEN", raising=False)
    res = runner.invoke(cli_app, ["reward", "serve", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "no such reward model folder" in res.output
    res = runner.invoke(cli_app, ["reward", "serve", str(gated_rm), "--objective", "honesty"])
    assert res.exit_code == 2 and "no objective 'honesty'" in res.output and "quality, safety" in res.output
    res = runner.invoke(cli_app, ["reward", "serve", str(gated_rm), "--host", "0.0.0.0"])
    assert res.exit_code == 2 and "reachable from other machines" in " ".join(res.output.split())
    assert not started
    monkeypatch.setenv("TETHER_REWARD_TOKEN", TOKEN)
    res = runner.invoke(cli_app, ["reward", "serve", str(gated_rm), "--host", "0.0.0.0", "--objective", "safety",
                                  "--port", "5055"])
    assert res.exit_code == 0, res.output
    served, host, port = started[0]
    assert (served.objective, served.token, host, port) == ("safety", TOKEN, "0.0.0.0", 5055)
    assert TOKEN not in res.output and "token=..." in res.output


def test_cli_refuses_an_ungated_model(gated_rm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tether.reward.serve as serve_module

    monkeypatch.setattr(serve_module, "run", lambda served, host, port: None)
    folder = tmp_path / "rm"
    shutil.copytree(gated_rm, folder)
    (folder / "reward_gate.json").unlink()
    runner = CliRunner()
    res = runner.invoke(cli_app, ["reward", "serve", str(folder)])
    assert res.exit_code == 2 and "no gate result" in " ".join(res.output.split())
    res = runner.invoke(cli_app, ["reward", "serve", str(folder), "--gate-override", "smoke test"])
    assert res.exit_code == 0, res.output
