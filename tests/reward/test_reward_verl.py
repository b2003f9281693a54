"""`tether.reward.verl`: verl's custom reward function, called the way verl calls it, local and remote."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tether.reward import load
from tether.reward.gate import GateFailed
from tether.reward.scoring import contract_scores
from tether.reward.serve import Served, create_app
from tether.reward.verl import compute_score, compute_score_batch, local_scorer, prompt_of

TOKEN = "verl-token-0123456789abcdef"
QUESTIONS = ["What do you think of the weather?", "What do you think of my code?", "Rate the trip."]
# one response at a time vs a padded batch of three: the same model, float32 sums in another order
BATCHED = 1e-5
ANSWERS = ["It is very excellent.", "It is so terrible.", "It is quite fine, really."]


def _call_with_kwargs(raw_fn, extra_kwargs, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    """verl's wrapper of a custom reward function (volcengine/verl@b178a3c, verl/trainer/ppo/reward.py):
    `custom_reward_function.reward_kwargs` merged into the call's keyword arguments, taking precedence."""
    return raw_fn(*args, **{**kwargs, **extra_kwargs})


def _naive_calls(fn):  # noqa: ANN001, ANN202
    """What verl's NaiveRewardManager (verl/workers/reward_manager/naive.py) passes per response: keywords only,
    extra_info from the data set plus the `num_turns` and `rollout_reward_scores` it adds."""
    out = []
    for q, a in zip(QUESTIONS, ANSWERS, strict=True):
        extra_info = {"split": "test", "index": 0, "question": q}  # the shape of verl's GSM8K preprocessing
        extra_info["num_turns"] = None
        extra_info["rollout_reward_scores"] = {}
        out.append(fn(data_source="openai/gsm8k", solution_str=a, ground_truth="42", extra_info=extra_info))
    return out


@pytest.fixture
def model_env(gated_rm: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("TETHER_REWARD_URL", "TETHER_REWARD_OBJECTIVE", "TETHER_REWARD_PROMPT_KEY", "TETHER_REWARD_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TETHER_REWARD_MODEL", str(gated_rm))
    return gated_rm


def test_per_response_calls_score_like_the_python_api(model_env: Path) -> None:
    expected = contract_scores(load(model_env), QUESTIONS, ANSWERS)
    results = _naive_calls(compute_score)
    assert [r["score"] for r in results] == pytest.approx(expected["quality"].tolist(), abs=BATCHED)
    assert [r["tether/safety"] for r in results] == pytest.approx(expected["safety"].tolist(), abs=BATCHED)
    # reward_kwargs pick the objective; the reward loop's extra keywords are accepted and ignored
    fn = partial(_call_with_kwargs, compute_score, {"tether_objective": "safety", "reward_router_address": None,
                                                    "reward_model_tokenizer": None})
    assert [r["score"] for r in _naive_calls(fn)] == pytest.approx(expected["safety"].tolist(), abs=BATCHED)


def test_batch_calls_equal_per_response_calls(model_env: Path) -> None:
    """verl's BatchRewardManager (verl/workers/reward_manager/batch.py) passes whole lists by keyword."""
    extras = [{"question": q, "rollout_reward_scores": {}} for q in QUESTIONS]
    batch = compute_score_batch(data_sources=["hh"] * 3, solution_strs=ANSWERS, ground_truths=[None] * 3,
                                extra_infos=extras)
    single = _naive_calls(compute_score)
    assert [b["score"] for b in batch] == pytest.approx([s["score"] for s in single], abs=BATCHED)
    assert set(batch[0]) == {"score", "tether/quality", "tether/safety"}
    assert compute_score_batch(data_sources=[], solution_strs=[], ground_truths=[], extra_infos=[]) == []


def test_the_prompt_comes_from_extra_info(model_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert prompt_of({"prompt": "p", "question": "q"}, 0) == "p"
    assert prompt_of({"question": "q"}, 0) == "q"
    with pytest.raises(ValueError, match=r"row 3: extra_info has no prompt text .*it has answer, index"):
        prompt_of({"index": 1, "answer": "42"}, 3)
    with pytest.raises(ValueError, match="no prompt text"):
        compute_score("hh", "It is fine.", None, None)
    monkeypatch.setenv("TETHER_REWARD_PROMPT_KEY", "user_turn")
    a = compute_score("hh", ANSWERS[0], None, {"user_turn": QUESTIONS[0], "question": "ignored"})
    b = compute_score("hh", ANSWERS[0], None, {"question": QUESTIONS[0]}, tether_prompt_key="question")
    assert a == b


def test_clear_errors(model_env: Path, gated_rm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = {"question": QUESTIONS[0]}
    with pytest.raises(ValueError, match="no objective 'honesty'"):
        compute_score("hh", "x", None, info, tether_objective="honesty")
    monkeypatch.delenv("TETHER_REWARD_MODEL")
    with pytest.raises(ValueError, match="TETHER_REWARD_MODEL"):
        compute_score("hh", "x", None, info)
    with pytest.raises(FileNotFoundError, match="no such reward model folder"):
        compute_score("hh", "x", None, info, tether_model=str(tmp_path / "missing"))
    ungated = tmp_path / "rm"
    shutil.copytree(gated_rm, ungated)
    (ungated / "reward_gate.json").unlink()
    with pytest.raises(GateFailed, match="no gate result"):
        local_scorer(str(ungated))


def test_remote_mode_through_tether_reward_serve(gated_rm: Path, model_env: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    model = load(gated_rm)
    app = create_app(Served(model, "safety", token=TOKEN))
    monkeypatch.setattr(httpx, "Client", lambda **kw: TestClient(app))  # requests go to the app in this process
    monkeypatch.setenv("TETHER_REWARD_URL", "http://testserver/get_reward")
    monkeypatch.setenv("TETHER_REWARD_TOKEN", TOKEN)
    expected = contract_scores(model, QUESTIONS, ANSWERS)
    remote = _naive_calls(compute_score)
    assert [r["score"] for r in remote] == pytest.approx(expected["safety"].tolist(), abs=BATCHED)  # the server's
    chosen = [compute_score("hh", a, None, {"question": q}, tether_objective="quality")["score"]
              for q, a in zip(QUESTIONS, ANSWERS, strict=True)]
    assert chosen == pytest.approx(expected["quality"].tolist(), abs=BATCHED)
    monkeypatch.setenv("TETHER_REWARD_TOKEN", "wrong-token-0123456789")
    with pytest.raises(RuntimeError, match="HTTP 401"):
        compute_score("hh", "x", None, {"question": "q"})
