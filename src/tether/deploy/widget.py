"""The feedback widget: thumbs and an optional correction box any web app can embed, posting to `POST /v1/feedback`.

Three guards make a key that sits in a public web page safe:
- it is a *publishable* key (`tether keys create --publishable --origin https://shop.example`): it can post feedback
  and nothing else — no reads, no generations, no other project;
- feedback is accepted only for traces the server issued a token for: `POST /v1/events?feedback_tokens=true` (with the
  application's secret key) answers each logged generation's trace with a token, an HMAC of project and trace under
  the project's key ring (`tether.deploy.keyring`), which the application hands to the page with the answer;
- only pages at the key's origins may post (CORS preflight and the `Origin` header both checked), at most
  `RATE_PER_MINUTE` requests per key and client address (per server process).
Feedback goes through the same redaction and group commit as every event.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
import uuid
from datetime import UTC, datetime
from importlib.resources import files
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from tether.deploy.api import Ingestion, ingestion, read_json_body
from tether.deploy.feedback import THUMBS
from tether.deploy.keyring import Keyring
from tether.deploy.keys import FEEDBACK_SCOPE, KeyInfo, authenticate
from tether.records import Event, EventType

__all__ = ["feedback_token", "check_feedback_token", "router", "RATE_PER_MINUTE"]

RATE_PER_MINUTE = 30
MAX_CORRECTION = 20_000
_LABEL = b"tether-feedback-token\x00"


def feedback_token(keyring: Keyring, project: str, trace_id: str) -> str:
    """The token that lets a page post feedback on `trace_id` of `project`: `<key id>.<128-bit HMAC>`."""
    key = keyring.current(project)
    return f"{key.id}.{_mac(key.secret, project, trace_id)}"


def check_feedback_token(keyring: Keyring, project: str, trace_id: str, token: str) -> bool:
    """Whether `token` was issued for this trace of this project (by any key of the project's ring: rotation-safe)."""
    key_id, _, mac = token.partition(".")
    for key in keyring.keys(project):
        if key.id == key_id and not key.legacy:
            return hmac.compare_digest(mac, _mac(key.secret, project, trace_id))
    return False


def _mac(secret: str, project: str, trace_id: str) -> str:
    digest = hmac.new(secret.encode(), _LABEL + f"{project}\x00{trace_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


class _RateLimiter:
    """A token bucket per (key, client): `rate` requests a minute, bursts up to the same number."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.buckets: dict[tuple[int, str], tuple[float, float]] = {}
        self.lock = threading.Lock()

    def allow(self, key_id: int, client: str) -> bool:
        now = time.monotonic()
        with self.lock:
            if len(self.buckets) > 100_000:  # bounded memory under a flood of client addresses
                self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < 60}
            tokens, last = self.buckets.get((key_id, client), (float(self.rate), now))
            tokens = min(float(self.rate), tokens + (now - last) * self.rate / 60)
            ok = tokens >= 1
            self.buckets[(key_id, client)] = (tokens - 1 if ok else tokens, now)
        return ok


class FeedbackIn(BaseModel):
    """One click of the widget."""

    trace_id: str = Field(min_length=1, max_length=256)
    token: str = Field(min_length=1, max_length=128, description="issued by POST /v1/events?feedback_tokens=true")
    value: int = Field(description="+1 thumbs up, -1 thumbs down", ge=-1, le=1)
    correction: str | None = Field(None, max_length=MAX_CORRECTION, description="what the answer should have said")
    click_id: str = Field(default_factory=lambda: uuid.uuid4().hex, pattern=r"^[0-9a-f]{32}$",
                          description="random per click, so a retried request is stored once")


class FeedbackResult(BaseModel):
    project: str
    stored: int
    duplicates: int


Served = Annotated[Ingestion, Depends(ingestion)]
router = APIRouter(prefix="/v1", tags=["feedback widget"])
_limiter = _RateLimiter(RATE_PER_MINUTE)


async def _publishable(served: Ingestion, key: str | None) -> KeyInfo:
    if not key:
        raise HTTPException(401, "missing key: the widget sends its publishable key as ?key=tpk_...")
    info = await run_in_threadpool(authenticate, served.store, key)
    if info is None:
        raise HTTPException(401, "unknown or revoked key")
    if info.scope != FEEDBACK_SCOPE:
        raise HTTPException(403, "this is a secret ingestion key: never put it in a web page; the widget takes a "
                                 "publishable key (tether keys create --publishable --origin ...)")
    return info


def _cors(response: Response, origin: str) -> None:
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Vary"] = "Origin"


def _allowed_origin(request: Request, info: KeyInfo) -> str:
    origin = request.headers.get("origin")
    if origin is None:
        raise HTTPException(403, "no Origin header: feedback with a publishable key comes from a web page")
    if origin not in info.origins:
        raise HTTPException(403, f"origin {origin!r} is not allowed for this key")
    return origin


KeyParam = Annotated[str | None, Query(description="The publishable key (tpk_...).")]


@router.options("/feedback", include_in_schema=False)
async def feedback_preflight(request: Request, served: Served, key: KeyParam = None) -> Response:
    info = await _publishable(served, key)
    response = Response(status_code=204)
    _cors(response, _allowed_origin(request, info))
    response.headers["Access-Control-Allow-Methods"] = "POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "600"
    return response


@router.post("/feedback", response_model=FeedbackResult, responses={401: {}, 403: {}, 413: {}, 422: {}, 429: {}})
async def post_feedback(request: Request, response: Response, served: Served, key: KeyParam = None) -> Any:
    """Feedback from the widget: thumbs (and a correction) on a trace the server issued a token for."""
    info = await _publishable(served, key)
    origin = _allowed_origin(request, info)
    _cors(response, origin)
    client = request.client.host if request.client else "unknown"
    if not _limiter.allow(info.id, client):
        raise HTTPException(429, f"more than {RATE_PER_MINUTE} feedback requests a minute from this client",
                            headers={"Retry-After": "10", "Access-Control-Allow-Origin": origin})
    try:
        click = FeedbackIn.model_validate(await read_json_body(request, 4 * MAX_CORRECTION))
    except ValidationError as exc:
        raise HTTPException(422, [{"loc": ["body", *e["loc"]], "msg": e["msg"]} for e in exc.errors()]) from None
    keyring = served.committer.ingestor.keyring
    if not await run_in_threadpool(check_feedback_token, keyring, info.project, click.trace_id, click.token):
        raise HTTPException(403, "the token was not issued for this trace of this key's project")
    now = datetime.now(UTC)
    events = [Event(event_id=f"widget-{click.click_id}", type=EventType.FEEDBACK, trace_id=click.trace_id,
                    timestamp=now, name=THUMBS, value=click.value, attributes={"source": "widget"})]
    if click.correction and click.correction.strip():
        events.append(Event(event_id=f"widget-{click.click_id}-c", type=EventType.CORRECTION,
                            trace_id=click.trace_id, timestamp=now, corrected_response=click.correction,
                            attributes={"source": "widget"}))
    res = await served.committer.submit(events, info.project)
    return FeedbackResult(project=info.project, stored=res.stored, duplicates=res.duplicates)


@router.get("/widget.js", include_in_schema=False)
def widget_js() -> Response:
    """The widget's script (public code, no data): `<script src=".../v1/widget.js" data-key="tpk_...">`."""
    body = files("tether.deploy").joinpath("widget.js").read_text(encoding="utf-8")
    return Response(body, media_type="application/javascript",
                    headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})
