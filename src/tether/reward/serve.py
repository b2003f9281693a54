"""`tether reward serve`: a reward model as the remote reward model of OpenRLHF (and the verl function's remote mode).

The shape is OpenRLHF's own (openrlhf/cli/serve_rm.py and the client in openrlhf/utils/agent.py,
OpenRLHF/OpenRLHF@3c3be62): `POST /get_reward` with

    {"query": [prompt + response, ...], "prompts": [prompt, ...], "labels": [...]}

answers

    {"rewards": [...], "scores": [...], "extra_logs": {"tether/<objective>": [...], ...}}

`query` is the prompt followed by the response (OpenRLHF decodes the whole sequence, special tokens kept); the
response is what follows `prompts[i]` in `query[i]`, less a trailing end-of-sequence marker. `rewards` (and
`scores`, the same numbers, as OpenRLHF's own server sends) are the chosen objective's scores through its contract
(z-scored, higher is better); `extra_logs` has every objective's. `labels` are accepted and ignored. Requests
that arrive together are scored in one batch (`tether.reward.batcher`): OpenRLHF's newest client sends one query
per request, many at once.

Credentials: OpenRLHF sends no header, so the token also travels as `?token=` in `--reward.remote_url`. A server on
a loopback address may run without one; any other address needs one. The token is compared in constant time and
never logged (the access log shows `token=***`).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict

from tether.reward.batcher import Batcher
from tether.reward.scoring import contract_scores
from tether.reward.tokens import RedactToken, require_token_for

DEFAULT_MAX_BATCH = 1024
# end-of-sequence markers of common tokenizers: OpenRLHF decodes with special tokens, a reward model never saw them
EOS_MARKERS = ("</s>", "<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<eos>", "<|end|>",
               "<end_of_turn>")


def split_response(query: str, prompt: str, markers: Sequence[str] = EOS_MARKERS) -> str | None:
    """The response in `query` (prompt + response): what follows the prompt, trailing end markers removed;
    None when `query` does not start with `prompt`."""
    if not query.startswith(prompt):
        return None
    response = query[len(prompt):]
    stripped = True
    while stripped:  # e.g. "...</s><pad>": every trailing marker goes
        stripped = False
        for m in markers:
            if m and response.endswith(m):
                response, stripped = response[:-len(m)], True
    return response


class RewardRequest(BaseModel):
    """OpenRLHF's remote reward-model request; any further keys are ignored."""

    model_config = ConfigDict(extra="ignore")
    query: list[str]
    prompts: list[str]
    labels: list[Any] | None = None


@dataclass
class Served:
    """What the app scores with: the loaded model, the objective `rewards` carries, the settings."""

    model: Any
    objective: str
    normalize: bool = True
    token: str | None = None
    max_batch: int = DEFAULT_MAX_BATCH
    markers: Sequence[str] = EOS_MARKERS

    def __post_init__(self) -> None:
        # FastAPI runs sync routes on a thread pool: concurrent requests meet in the batcher, one worker on the model
        self.batcher = Batcher(self._score_now, self.max_batch)

    def score(self, prompts: list[str], responses: list[str]) -> dict[str, list[float]]:
        """{objective: scores}, scored together with any other requests waiting now."""
        return self.batcher(prompts, responses)

    def _score_now(self, prompts: list[str], responses: list[str]) -> dict[str, list[float]]:
        scores = contract_scores(self.model, prompts, responses, normalize=self.normalize)
        return {o: [float(x) for x in s] for o, s in scores.items()}


def create_app(served: Served) -> Any:
    """The FastAPI app: `POST /get_reward` (credential when a token is set) and `GET /health` (no data, no token)."""
    def credential(request: Request) -> None:
        if served.token is None:
            return
        header = request.headers.get("authorization", "")
        given = header[7:].strip() if header[:7].lower() == "bearer " else request.query_params.get("token", "")
        if not given or not hmac.compare_digest(given.encode(), served.token.encode()):
            raise HTTPException(401, "missing or wrong token: send 'Authorization: Bearer <token>' or ?token=<token>",
                                headers={"WWW-Authenticate": "Bearer"})

    def invalid(loc: list[Any], msg: str) -> HTTPException:
        return HTTPException(422, [{"type": "value_error", "loc": ["body", *loc], "msg": msg}])

    app = FastAPI(title="Tether reward model", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "objective": served.objective, "objectives": list(served.model.objectives)}

    @app.post("/get_reward", dependencies=[Depends(credential)])
    def get_reward(body: RewardRequest) -> dict[str, Any]:
        n = len(body.query)
        if n > served.max_batch:
            raise HTTPException(413, f"{n} queries in one request; this server takes at most {served.max_batch} "
                                     "(tether reward serve --max-batch)")
        if len(body.prompts) != n:
            raise invalid(["prompts"], f"{len(body.prompts)} prompts for {n} queries; give one prompt per query")
        responses = []
        for i, (q, p) in enumerate(zip(body.query, body.prompts, strict=True)):
            r = split_response(q, p, served.markers)
            if r is None:
                raise invalid(["query", i], f"query[{i}] does not start with prompts[{i}]; the query must be the "
                                            "prompt followed by the response")
            responses.append(r)
        scores = served.score(list(body.prompts), responses) if n else {o: [] for o in served.model.objectives}
        rewards = scores[served.objective]
        return {"rewards": rewards, "scores": rewards, "extra_logs": {f"tether/{o}": s for o, s in scores.items()}}

    return app


def run(served: Served, host: str = "127.0.0.1", port: int = 5000) -> None:  # pragma: no cover - blocks
    """Serve until interrupted; refuses a non-loopback address without a token."""
    import uvicorn

    require_token_for(host, served.token)
    config = uvicorn.Config(create_app(served), host=host, port=port, log_level="info")  # configures logging
    logging.getLogger("uvicorn.access").addFilter(RedactToken())  # after, so that nothing replaces it
    uvicorn.Server(config).run()
