"""A verl custom reward function backed by a Tether reward model (local, or remote through `tether reward serve`).

verl (volcengine/verl@b178a3c: docs/preparation/reward_function.rst, verl/workers/reward_manager/naive.py and
batch.py) calls `compute_score(data_source=, solution_str=, ground_truth=, extra_info=)` once per response, or, with
`reward_model.reward_manager=batch`, `compute_score_batch(data_sources=, solution_strs=, ground_truths=,
extra_infos=)` once per batch (the faster choice for a neural reward model); both also receive the
`custom_reward_function.reward_kwargs` (and, in verl's reward loop, keys such as `reward_router_address`, ignored
here). Each returns {"score": reward, "tether/<objective>": score, ...}: verl takes `score` and logs the rest.

    custom_reward_function.path=pkg://tether.reward.verl
    custom_reward_function.name=compute_score          # or compute_score_batch with reward_manager=batch

Settings, each a reward_kwargs key or else an environment variable (reward_kwargs travel with verl's config to
every Ray worker; environment variables only where the workers inherit them):

    tether_model  / TETHER_REWARD_MODEL       reward model or ensemble folder, loaded once per process (gated)
    tether_url    / TETHER_REWARD_URL         or a `tether reward serve` endpoint, e.g. http://host:5000/get_reward
                    TETHER_REWARD_TOKEN       its token (sent as a bearer header; never in the config)
    tether_objective / TETHER_REWARD_OBJECTIVE   the objective that is `score` (default: the first head; remote:
                                                 the server's --objective)
    tether_prompt_key / TETHER_REWARD_PROMPT_KEY the extra_info key holding the prompt (default: prompt, then question)

The prompt: verl passes the decoded response only (`solution_str`), never the prompt. A reward model scores a
response *to a prompt*, so the prompt text must be in each row's `extra_info` (written by the data preprocessing;
verl's own GSM8K example stores it as `extra_info["question"]`). A row without it is an error, never a guess:
`data_source` names a data set, not a prompt.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import Any

from tether.reward.tokens import TOKEN_ENV, redact_token

MODEL_ENV, URL_ENV = "TETHER_REWARD_MODEL", "TETHER_REWARD_URL"
OBJECTIVE_ENV, PROMPT_KEY_ENV = "TETHER_REWARD_OBJECTIVE", "TETHER_REWARD_PROMPT_KEY"
GATE_OVERRIDE_ENV = "TETHER_REWARD_GATE_OVERRIDE"  # a reason: score with a model whose gate failed (logged)
PROMPT_KEYS = ("prompt", "question")
REMOTE_CHUNK = 256  # queries per request to the server (its default limit is 1024)


def compute_score(data_source: Any, solution_str: str, ground_truth: Any, extra_info: dict | None = None,
                  **kwargs: Any) -> dict[str, float]:
    """verl's per-response reward function: {"score": reward, "tether/<objective>": score, ...}."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], **kwargs)[0]


def compute_score_batch(data_sources: Sequence[Any], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                        extra_infos: Sequence[dict | None] | None = None, **kwargs: Any) -> list[dict[str, float]]:
    """verl's batch reward function (`reward_model.reward_manager=batch`): one dict per response."""
    n = len(solution_strs)
    extra_infos = list(extra_infos) if extra_infos is not None else [None] * n
    if len(extra_infos) != n:
        raise ValueError(f"{n} solution_strs but {len(extra_infos)} extra_infos")
    key = _setting(kwargs, "tether_prompt_key", PROMPT_KEY_ENV)
    prompts = [prompt_of(e, i, key) for i, e in enumerate(extra_infos)]
    url = _setting(kwargs, "tether_url", URL_ENV)
    objective = _setting(kwargs, "tether_objective", OBJECTIVE_ENV)
    if n == 0:
        return []
    if url:
        rewards, scores = remote_scores(url, prompts, list(solution_strs), list(ground_truths))
        if objective is not None:
            rewards = scores[_pick(list(scores), objective, redact_token(url))]
    else:
        folder = _setting(kwargs, "tether_model", MODEL_ENV)
        if not folder:
            raise ValueError(f"no Tether reward model: set {MODEL_ENV} (a folder) or {URL_ENV} (a `tether reward "
                             "serve` endpoint), or custom_reward_function.reward_kwargs.tether_model")
        scorer = local_scorer(folder)
        scores = scorer(prompts, list(solution_strs))
        rewards = scores[_pick(scorer.objectives, objective, folder)]
    return [{"score": float(rewards[i]), **{f"tether/{o}": float(s[i]) for o, s in scores.items()}}
            for i in range(n)]


def prompt_of(extra_info: dict | None, index: int, key: str | None = None) -> str:
    """The prompt text of one row: `extra_info[key]` (default: the first of `prompt`, `question` present)."""
    keys = (key,) if key else PROMPT_KEYS
    info = extra_info or {}
    for k in keys:
        if isinstance(info.get(k), str):
            return info[k]
    have = ", ".join(sorted(map(str, info))) or "nothing"
    raise ValueError(f"row {index}: extra_info has no prompt text under {' or '.join(map(repr, keys))} (it has "
                     f"{have}); verl passes only the response, so write the prompt into extra_info when preparing the "
                     f"data, or name its key with {PROMPT_KEY_ENV}")


def _setting(kwargs: dict[str, Any], name: str, env: str) -> str | None:
    value = kwargs.get(name)
    return str(value) if value not in (None, "") else os.environ.get(env) or None


def _pick(objectives: Sequence[str], wanted: str | None, source: str) -> str:
    from tether.reward.scoring import pick_objective

    try:
        return pick_objective(objectives, wanted, source)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None


class _LocalScorer:
    def __init__(self, model: Any, normalize: bool) -> None:
        self.model, self.normalize, self.objectives = model, normalize, list(model.objectives)

    def __call__(self, prompts: list[str], responses: list[str]) -> dict[str, Any]:
        from tether.reward.scoring import contract_scores

        return contract_scores(self.model, prompts, responses, normalize=self.normalize)


@functools.cache
def local_scorer(folder: str, normalize: bool = True) -> _LocalScorer:
    """The reward model in `folder`, loaded once per process, after its gate (`TETHER_REWARD_GATE_OVERRIDE`)."""
    from tether.reward import load
    from tether.reward.gate import require_gate
    from tether.reward.scoring import folder_objectives

    folder_objectives(folder)  # a missing or foreign folder: a clear error before anything loads
    require_gate(folder, override=os.environ.get(GATE_OVERRIDE_ENV) or None)
    return _LocalScorer(load(folder), normalize)


def remote_scores(url: str, prompts: list[str], responses: list[str], labels: list[Any] | None = None,
                  *, token: str | None = None, client: Any = None, timeout: float = 180.0
                  ) -> tuple[list[float], dict[str, list[float]]]:
    """The server's `rewards` (its --objective) and {objective: scores} from a `tether reward serve` endpoint, in
    OpenRLHF's request shape (query = prompt + response), in chunks; the token (default: TETHER_REWARD_TOKEN) goes
    in the Authorization header."""
    import httpx

    token = token if token is not None else os.environ.get(TOKEN_ENV)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    labels = labels if labels is not None else [None] * len(prompts)
    rewards: list[float] = []
    scores: dict[str, list[float]] = {}
    http = client or httpx.Client(timeout=timeout)
    try:
        for s in range(0, len(prompts), REMOTE_CHUNK):
            p, r = prompts[s:s + REMOTE_CHUNK], responses[s:s + REMOTE_CHUNK]
            payload = {"query": [a + b for a, b in zip(p, r, strict=True)], "prompts": p,
                       "labels": _jsonable(labels[s:s + REMOTE_CHUNK])}
            res = http.post(url, json=payload, headers=headers)
            if res.status_code != 200:
                raise RuntimeError(f"{redact_token(url)}: HTTP {res.status_code}: {res.text[:500]}")
            body = res.json()
            rewards.extend(body["rewards"])
            for key, values in body["extra_logs"].items():
                scores.setdefault(key.removeprefix("tether/"), []).extend(values)
    finally:
        if client is None:
            http.close()
    return rewards, scores


def _jsonable(labels: list[Any]) -> list[Any]:
    """verl's ground truths can be numpy values; the server ignores labels, so anything else becomes a string."""
    return [x if x is None or isinstance(x, str | int | float | bool) else str(x) for x in labels]
