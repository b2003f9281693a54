"""The ingestion API: `POST /v1/events`, `POST /v1/traces` (OTLP GenAI), `GET /v1/events?trace_id=`.

Serve it on any app with `serve_ingestion(app, database_url)` (the global server does), or run it alone:
`uvicorn --factory tether.deploy.api:app_from_env` (reads $TETHER_DATABASE_URL).
Every route authenticates through the one `project_key` dependency; the key decides the project.
"""

import os
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from tether.deploy.event_rules import MAX_BATCH, MAX_BODY_BYTES, problems_as_detail
from tether.deploy.ingest import GroupCommitter, Ingestor
from tether.deploy.keys import KeyInfo, authenticate
from tether.deploy.otel import MAX_DEPTH, OtlpError, otlp_to_events, too_deep
from tether.deploy.otlp_body import (
    JSON_TYPES,
    PROTOBUF_TYPES,
    BadBody,
    BodyTooLarge,
    UnsupportedMedia,
    check_encoding,
    decompress,
    media_type,
    protobuf_response,
    protobuf_traces,
)
from tether.records import Event, EventType
from tether.store import Store, StoreError, deploy_repo

__all__ = ["MAX_BATCH", "MAX_BODY_BYTES", "app_from_env", "create_app", "freeze_startup_objects", "router",
           "serve_ingestion"]

class IngestResult(BaseModel):
    """What a batch did: stored now, already there (same event_id), and the key's project."""

    project: str
    received: int
    stored: int
    duplicates: int
    skipped_spans: int = 0
    feedback_tokens: dict[str, str] | None = None  # trace -> token for the widget, when asked for


class EventsPage(BaseModel):
    project: str
    events: list[dict[str, Any]]


_EVENT_SCHEMA = {"$ref": "#/components/schemas/Event"}
_BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"oneOf": [
            {"type": "array", "items": _EVENT_SCHEMA, "maxItems": MAX_BATCH},
            {"type": "object", "properties": {"events": {"type": "array", "items": _EVENT_SCHEMA,
                                                         "maxItems": MAX_BATCH}}, "required": ["events"]},
        ]}}},
    }
}
_OTLP_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "properties": {
        "resourceSpans": {"type": "array", "items": {"type": "object"}}}, "required": ["resourceSpans"]}},
    "application/x-protobuf": {"schema": {"type": "string", "format": "binary",
                                          "description": "opentelemetry.proto ExportTraceServiceRequest"}}}}}


def _validation_detail(exc: ValidationError, prefix: str) -> list[dict[str, Any]]:
    return [{"loc": [prefix, *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]


async def _raw_body(request: Request, max_bytes: int) -> bytes:
    """The body as sent, decompressed (gzip, deflate), refusing oversized ones before reading them whole and
    decompressing only up to the same limit (413), unknown encodings (415) and corrupt data (400)."""
    try:
        coding = check_encoding(request.headers.get("content-encoding"))
    except UnsupportedMedia as exc:
        raise HTTPException(415, str(exc)) from None
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > max_bytes:
                raise HTTPException(413, f"body larger than {max_bytes} bytes; send smaller batches")
        except ValueError:
            raise HTTPException(400, "Content-Length is not a number") from None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HTTPException(413, f"body larger than {max_bytes} bytes; send smaller batches")
        chunks.append(chunk)
    try:
        return decompress(b"".join(chunks), coding, max_bytes)
    except BodyTooLarge as exc:
        raise HTTPException(413, str(exc)) from None
    except BadBody as exc:
        raise HTTPException(400, str(exc)) from None


def _parse_json(data: bytes) -> Any:
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise HTTPException(422, f"body is not valid JSON: {exc}") from None
    if too_deep(body):
        raise HTTPException(422, f"body nests deeper than {MAX_DEPTH} levels")
    return body


async def read_json_body(request: Request, max_bytes: int) -> Any:
    """The parsed JSON body (413 oversized, 422 bad JSON)."""
    return _parse_json(await _raw_body(request, max_bytes))


@dataclass(frozen=True)
class Ingestion:
    """What the routes serve from: the store, its group committer, the request limits (on `app.state`)."""

    store: Store
    committer: GroupCommitter
    max_body_bytes: int = MAX_BODY_BYTES
    max_batch: int = MAX_BATCH


async def ingestion(request: Request) -> Ingestion:
    """The app's ingestion state (set by `serve_ingestion`)."""
    return request.app.state.ingestion


bearer = HTTPBearer(auto_error=False, description="A project API key from `tether keys create`.")
Served = Annotated[Ingestion, Depends(ingestion)]


async def project_key(
    served: Served,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    project: Annotated[str | None, Query(description="Optional; must be the key's own project.")] = None,
) -> KeyInfo:
    """The one authentication dependency: a valid, unrevoked key, scoped to its own project."""
    # the lookup runs in the threadpool, never on the event loop: a slow or locked `api_keys` table must stall only
    # this request, not every other one; no cache, so a revoked key is refused from the next request on
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise HTTPException(401, "missing API key: send 'Authorization: Bearer <key>'",
                            headers={"WWW-Authenticate": "Bearer"})
    info = await run_in_threadpool(authenticate, served.store, credentials.credentials)
    if info is None:
        raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    if info.scope != "ingest":
        raise HTTPException(403, "a publishable key may only post feedback (POST /v1/feedback); use a secret key")
    if project is not None and project != info.project:
        raise HTTPException(403, f"this key belongs to another project, not {project!r}")
    return info


Key = Annotated[KeyInfo, Depends(project_key)]
router = APIRouter(prefix="/v1", tags=["ingestion"])


async def _ingest(served: Ingestion, events: list[Event], key: KeyInfo, skipped: int = 0) -> IngestResult:
    # the rules the SDK checks too (`event_rules`); a large batch is checked off the event loop (~25 us an event)
    problems = await run_in_threadpool(problems_as_detail, events) if len(events) > 64 else problems_as_detail(events)
    if problems:
        raise HTTPException(422, problems)
    try:
        res = await served.committer.submit(events, key.project)  # returns after the commit: durable before the 2xx
    except StoreError as exc:
        # the store, not the client, failed: say so and let the client retry (its event ids make that safe)
        raise HTTPException(503, f"store unavailable, retry later ({type(exc).__name__})",
                            headers={"Retry-After": "1"}) from None
    return IngestResult(project=key.project, received=len(events), stored=res.stored,
                        duplicates=res.duplicates, skipped_spans=skipped)


@router.post("/events", response_model=IngestResult, response_model_exclude_none=True, openapi_extra=_BATCH_BODY,
             responses={401: {}, 403: {}, 413: {}, 422: {}})
async def post_events(request: Request, key: Key, served: Served, feedback_tokens: Annotated[bool, Query(
        description="Answer each generation's trace with a token the feedback widget posts back.")] = False,
                      ) -> IngestResult:
    """Store a batch of v1 events (JSON array or {"events": [...]}); idempotent by event_id."""
    body = await read_json_body(request, served.max_body_bytes)
    items = body.get("events") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise HTTPException(422, "body must be a JSON array of events or an object with an 'events' array")
    if len(items) > served.max_batch:
        raise HTTPException(413, f"batch of {len(items)} events; at most {served.max_batch} per request")
    events, errors = [], []
    for i, item in enumerate(items):
        try:
            events.append(Event.model_validate(item))
        except ValidationError as exc:
            errors.extend(_validation_detail(exc, f"events[{i}]"))
    if errors:
        raise HTTPException(422, errors[:50])
    seen: dict[str, Event] = {}
    for e in events:  # a batch repeating an id stores the first one, as a retry would
        seen.setdefault(e.event_id, e)
    result = await _ingest(served, list(seen.values()), key)
    if feedback_tokens:
        from tether.deploy.widget import feedback_token

        keyring = served.committer.ingestor.keyring
        traces = {e.trace_id for e in seen.values() if e.type is EventType.GENERATION}
        result.feedback_tokens = {t: feedback_token(keyring, key.project, t) for t in sorted(traces)}
    return result


@router.post("/traces", response_model=IngestResult, openapi_extra=_OTLP_BODY,
             responses={401: {}, 403: {}, 413: {}, 415: {}, 422: {}})
async def post_traces(request: Request, key: Key, served: Served) -> Any:
    """OTLP/HTTP spans (JSON or protobuf, plain or gzip/deflate) with OpenTelemetry GenAI attributes, stored as
    generation events. A protobuf request is answered in protobuf, as OTLP asks."""
    kind = media_type(request.headers.get("content-type"))
    if kind not in JSON_TYPES and kind not in PROTOBUF_TYPES:
        raise HTTPException(415, f"Content-Type {kind!r} is not OTLP/HTTP; send application/x-protobuf or "
                                 "application/json")
    data = await _raw_body(request, served.max_body_bytes)
    if kind in PROTOBUF_TYPES:
        try:
            body = protobuf_traces(data)
        except BadBody as exc:
            raise HTTPException(422, str(exc)) from None
        if too_deep(body):
            raise HTTPException(422, f"body nests deeper than {MAX_DEPTH} levels")
    else:
        body = _parse_json(data)
    try:
        events, skipped = otlp_to_events(body)
    except OtlpError as exc:
        raise HTTPException(422, str(exc)) from None
    except ValidationError as exc:
        raise HTTPException(422, _validation_detail(exc, "span")) from None
    if len(events) > served.max_batch:
        raise HTTPException(413, f"{len(events)} GenAI spans; at most {served.max_batch} per request")
    result = await _ingest(served, events, key, skipped)
    if kind in PROTOBUF_TYPES:
        return Response(protobuf_response(), media_type="application/x-protobuf")
    return result


@router.get("/events", response_model=EventsPage, responses={401: {}, 403: {}})
def get_events(key: Key, served: Served, trace_id: Annotated[str, Query(min_length=1, max_length=256)],
               limit: Annotated[int, Query(ge=1, le=1000)] = 1000) -> EventsPage:
    """A trace's events in the key's own project (as stored: redacted)."""
    events = deploy_repo.events_for_trace(served.store, key.project, trace_id, limit)
    return EventsPage(project=key.project, events=[e.model_dump(mode="json") for e in events])


def serve_ingestion(app: FastAPI, store: Store | str, *, max_body_bytes: int = MAX_BODY_BYTES,
                    max_batch: int = MAX_BATCH) -> None:
    """Serve the /v1 ingestion routes on `app` over one store (a Store or a database URL)."""
    store = Store(store) if isinstance(store, str) else store
    from tether.deploy.widget import router as widget_router

    app.state.ingestion = Ingestion(store, GroupCommitter(Ingestor(store)), max_body_bytes, max_batch)
    app.include_router(router)
    app.include_router(widget_router)
    add_event_schema(app)


def create_app(store: Store | str, **limits: int) -> FastAPI:
    """A standalone app serving only the ingestion API (OpenAPI at /openapi.json, docs at /docs)."""
    app = FastAPI(title="Tether ingestion API", version="1")
    serve_ingestion(app, store, **limits)
    return app


def add_event_schema(app: FastAPI) -> None:
    """Put the v1 Event schema into the app's OpenAPI spec (the batch body is parsed by hand, size first)."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = original()
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            event_schema = Event.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(event_schema.pop("$defs", {}))
            schemas["Event"] = event_schema
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def app_from_env() -> FastAPI:
    """For `uvicorn --factory`: the store at $TETHER_DATABASE_URL."""
    url = os.environ.get("TETHER_DATABASE_URL")
    if not url:
        raise RuntimeError("set TETHER_DATABASE_URL to the store's SQLAlchemy URL")
    app = create_app(url)
    freeze_startup_objects()
    return app


def freeze_startup_objects() -> None:
    """Call once a server process has imported and built its app: the hundreds of thousands of objects made so far
    (modules, schemas, the ORM's tables) live as long as the process, and moved out of the collector's reach
    they are no longer traversed by every full collection that request traffic triggers (-6 to -11% server CPU per
    ingested event, benchmarks/RESULTS.md). Not for a process that builds apps repeatedly (tests): frozen
    objects are never freed."""
    import gc

    gc.collect()  # what is garbage already is freed, not frozen
    gc.freeze()
