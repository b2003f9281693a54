"""The rater web app: server-rendered pages, one credential dependency per role, CSRF on every form.

Raters sign in with their personal link and see only their own queue; the team signs in
with an admin credential and sees campaign pages. Every POST carries the session's CSRF token.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Cookie, Depends, FastAPI, Form, Header, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from tether.collect import security
from tether.collect.assign import (
    AlreadyAnswered,
    TaskNotFound,
    fill_queue,
    get_task,
    open_tasks,
    rater_campaigns,
    rater_progress,
    submit_answer,
)
from tether.collect.campaign import CampaignError, campaign_names, pause_task_type, publish_rubric
from tether.collect.rater_stats import rater_summary
from tether.collect.render import dialogue, render_markdown
from tether.collect.status import campaign_status
from tether.store import Store

TEMPLATES = Path(__file__).with_name("templates")
RATER_COOKIE = "tether_rater"
ADMIN_COOKIE = "tether_admin"
LOGIN_CSRF_COOKIE = "tether_login_csrf"
LINK_CSRF_COOKIE = "tether_link_csrf"
MAX_ID = 2**31 - 1

AssignmentId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
CampaignName = Annotated[str, PathParam(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_.-]+$")]


ObjectiveName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
MAX_RATIONALE = 5000


class AnswerForm(BaseModel):
    """A task's answer in display terms: one choice per objective (pairwise) or one score per objective (rating),
    an optional confidence (pairwise) and an optional free-text rationale."""

    model_config = ConfigDict(extra="forbid")
    choices: dict[ObjectiveName, Literal["first", "second", "tie"]] = Field(default_factory=dict)
    scores: dict[ObjectiveName, Annotated[int, Field(ge=-1000, le=1000)]] = Field(default_factory=dict)
    confidence: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False)
    rationale: str | None = Field(default=None, max_length=MAX_RATIONALE)

    @model_validator(mode="after")
    def _one_kind(self) -> AnswerForm:
        if self.choices and self.scores:
            raise ValueError("an answer has choices (pairwise) or scores (rating), not both")
        if self.scores and self.confidence is not None:
            raise ValueError("confidence is asked on pairwise tasks only")
        return self

    @property
    def answers(self) -> dict[str, Any]:
        return dict(self.choices or self.scores)


async def app_store(request: Request) -> Store:
    """The app's store (set by `create_app`): the routes' dependency."""
    return request.app.state.store


StoreDep = Annotated[Store, Depends(app_store)]
templates = Jinja2Templates(directory=str(TEMPLATES))


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _cookie_path(request: Request) -> str:
    return request.scope.get("root_path") or "/"


def _set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(name, value, httponly=True, samesite="lax", path=_cookie_path(request),
                        secure=request.app.state.secure_cookies, max_age=int(security.SESSION_LIFETIME.total_seconds()))


# -- credentials: one dependency per role; routes never check credentials by hand ---------------


def rater_session(store: StoreDep, tether_rater: Annotated[str | None, Cookie()] = None) -> security.Session:
    """The signed-in rater, from the session cookie set by their sign-in link."""
    session = security.session_for_cookie(store, tether_rater, "rater") if tether_rater else None
    if session is None:
        raise HTTPException(401, "sign in with your personal link")
    return session


def admin_session(store: StoreDep, tether_admin: Annotated[str | None, Cookie()] = None,
                  authorization: Annotated[str | None, Header()] = None) -> security.Session:
    """A team member: a browser session cookie, or `Authorization: Bearer <admin credential>` for scripts."""
    if authorization and authorization.lower().startswith("bearer "):
        name = security.admin_for_secret(store, authorization[7:].strip())
        if name is not None:
            # header credentials cannot be sent cross-site by a browser, so no CSRF token is needed
            return security.Session(role="admin", subject=name, csrf_token="")
    session = security.session_for_cookie(store, tether_admin, "admin") if tether_admin else None
    if session is None:
        raise HTTPException(401, "admin credential required")
    return session


def _check_csrf(session: security.Session, token: str) -> security.Session:
    if session.csrf_token and not security.same_secret(session.csrf_token, token):
        raise HTTPException(403, "CSRF token missing or wrong: reload the page and try again")
    return session


def rater_post(session: Annotated[security.Session, Depends(rater_session)],
               csrf_token: Annotated[str, Form(max_length=128)] = "") -> security.Session:
    """A rater's form submission: signed in and carrying this session's CSRF token."""
    return _check_csrf(session, csrf_token)


def admin_post(session: Annotated[security.Session, Depends(admin_session)],
               csrf_token: Annotated[str, Form(max_length=128)] = "") -> security.Session:
    """A team member's form submission: signed in and carrying this session's CSRF token."""
    return _check_csrf(session, csrf_token)


async def answer_form(request: Request) -> AnswerForm:
    """Parse `choice_<objective>` / `score_<objective>` radio groups, `confidence` and `rationale` into a validated
    AnswerForm (422 if bad)."""
    form = await request.form()
    choices: dict[str, Any] = {}
    scores: dict[str, Any] = {}
    confidence: Any = None
    rationale: Any = None
    for key, value in form.multi_items():
        if not isinstance(value, str):
            raise RequestValidationError([{"type": "value_error", "loc": ("body", key), "msg": "files not accepted",
                                           "input": None}])
        prefix, _, objective = key.partition("_")
        if prefix in ("choice", "score") and objective:
            into = choices if prefix == "choice" else scores
            if objective in into:
                raise RequestValidationError([{"type": "value_error", "loc": ("body", key),
                                               "msg": "answered twice", "input": value}])
            into[objective] = value
        elif key == "confidence":
            confidence = value or None
        elif key == "rationale":
            rationale = value or None
        elif key not in ("csrf_token",):
            raise RequestValidationError([{"type": "extra_forbidden", "loc": ("body", key),
                                           "msg": "unexpected field", "input": value}])
    try:
        return AnswerForm(choices=choices, scores=scores, confidence=confidence, rationale=rationale)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


RaterSession = Annotated[security.Session, Depends(rater_session)]
RaterPost = Annotated[security.Session, Depends(rater_post)]
AdminSession = Annotated[security.Session, Depends(admin_session)]
AdminPost = Annotated[security.Session, Depends(admin_post)]


router = APIRouter()


@router.get("/", response_class=HTMLResponse, name="home")
def home(request: Request) -> HTMLResponse:
    login = request.url_for("admin_login").path  # the real path, under wherever the app is mounted (/collect)
    return page(request, "message.html", title="Tether",
                message=f"Raters: open your personal sign-in link. Team: sign in at {login}.")


@router.get("/r/{token}", response_class=HTMLResponse, name="rater_sign_in")
def rater_sign_in(request: Request, store: StoreDep, token: Annotated[str, PathParam(max_length=128)]) -> Response:
    # A GET only shows a form: a link opened by a cross-site page, a prefetcher or a mail scanner signs nobody in
    # (login CSRF); the POST carries a double-submit token that a cross-site form cannot know.
    if security.rater_for_token(store, token) is None:
        raise HTTPException(404, "unknown, expired or revoked sign-in link: ask for a new one")
    csrf = security.new_secret()
    response = page(request, "sign_in.html", token=token, csrf_token=csrf)
    _set_cookie(request, response, LINK_CSRF_COOKIE, csrf)
    return response


@router.post("/r", name="rater_sign_in_post")
def rater_sign_in_post(request: Request, store: StoreDep, token: Annotated[str, Form(min_length=1, max_length=128)],
                       csrf_token: Annotated[str, Form(max_length=128)] = "",
                       tether_link_csrf: Annotated[str | None, Cookie()] = None) -> Response:
    if not tether_link_csrf or not security.same_secret(tether_link_csrf, csrf_token):
        raise HTTPException(403, "CSRF token missing or wrong: open your sign-in link again")
    rater_id = security.rater_for_token(store, token)
    if rater_id is None:
        raise HTTPException(404, "unknown, expired or revoked sign-in link: ask for a new one")
    cookie, _ = security.open_session(store, "rater", rater_id)
    response = RedirectResponse(request.url_for("rater_queue"), status_code=303)
    _set_cookie(request, response, RATER_COOKIE, cookie)
    response.delete_cookie(LINK_CSRF_COOKIE, path=_cookie_path(request))
    return response


@router.get("/rater", response_class=HTMLResponse, name="rater_queue")
def rater_queue(request: Request, store: StoreDep, session: RaterSession) -> HTMLResponse:
    for campaign in rater_campaigns(store, session.subject):
        fill_queue(store, campaign, session.subject)
    tasks = open_tasks(store, session.subject)
    answered, issued = rater_progress(store, session.subject)
    return page(request, "queue.html", rater=session.subject, tasks=tasks, answered=answered, issued=issued,
                csrf_token=session.csrf_token)


@router.get("/rater/next", name="rater_next")
def rater_next(request: Request, store: StoreDep, session: RaterSession) -> Response:
    tasks = open_tasks(store, session.subject)
    if not tasks:
        for campaign in rater_campaigns(store, session.subject):
            fill_queue(store, campaign, session.subject)
        tasks = open_tasks(store, session.subject)
    target = request.url_for("task_page", assignment_id=tasks[0][0]) if tasks else request.url_for("rater_queue")
    return RedirectResponse(target, status_code=303)


@router.get("/rater/tasks/{assignment_id}", response_class=HTMLResponse, name="task_page")
def task_page(request: Request, store: StoreDep, assignment_id: AssignmentId, session: RaterSession) -> HTMLResponse:
    try:
        task = get_task(store, assignment_id, session.subject)
    except TaskNotFound:
        raise HTTPException(404, "no such task in your queue") from None
    answered, issued = rater_progress(store, session.subject)
    return page(request, "task.html", task=task, answered=answered, issued=issued, turns=dialogue(task.prompt),
                rubric=render_markdown(task.rubric), csrf_token=session.csrf_token, rater=session.subject,
                max_rationale=MAX_RATIONALE)


@router.get("/rater/me", response_class=HTMLResponse, name="rater_me")
def rater_me(request: Request, store: StoreDep, session: RaterSession) -> HTMLResponse:
    return page(request, "rater_me.html", me=rater_summary(store, session.subject), rater=session.subject,
                csrf_token=session.csrf_token)


@router.post("/rater/tasks/{assignment_id}", name="answer_task")
def answer_task(request: Request, store: StoreDep, assignment_id: AssignmentId, session: RaterPost,
                answer: Annotated[AnswerForm, Depends(answer_form)]) -> Response:
    try:
        submit_answer(store, assignment_id, session.subject, answer.answers, answer.confidence, answer.rationale)
    except TaskNotFound:
        raise HTTPException(404, "no such task in your queue (it may have been withdrawn)") from None
    except AlreadyAnswered:
        raise HTTPException(409, "this task was already answered") from None
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return RedirectResponse(request.url_for("rater_next"), status_code=303)


@router.post("/rater/sign-out", name="rater_sign_out")
def rater_sign_out(request: Request, store: StoreDep, session: RaterPost,
                   tether_rater: Annotated[str | None, Cookie()] = None) -> Response:
    if tether_rater:
        security.close_session(store, tether_rater)
    response = RedirectResponse(request.url_for("home"), status_code=303)
    response.delete_cookie(RATER_COOKIE, path=_cookie_path(request))
    return response


@router.get("/admin/login", response_class=HTMLResponse, name="admin_login")
def admin_login(request: Request) -> HTMLResponse:
    # before a session exists, CSRF is a double-submit cookie: the form echoes the cookie's value
    token = security.new_secret()
    response = page(request, "admin_login.html", csrf_token=token)
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token)
    return response


@router.post("/admin/login", name="admin_login_post")
def admin_login_post(request: Request, store: StoreDep, credential: Annotated[str, Form(min_length=16, max_length=128)],
                     csrf_token: Annotated[str, Form(max_length=128)] = "",
                     tether_login_csrf: Annotated[str | None, Cookie()] = None) -> Response:
    if not tether_login_csrf or not security.same_secret(tether_login_csrf, csrf_token):
        raise HTTPException(403, "CSRF token missing or wrong: reload the sign-in page")
    name = security.admin_for_secret(store, credential)
    if name is None:
        raise HTTPException(401, "unknown admin credential")
    cookie, _ = security.open_session(store, "admin", name)
    response = RedirectResponse(request.url_for("admin_home"), status_code=303)
    _set_cookie(request, response, ADMIN_COOKIE, cookie)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=_cookie_path(request))
    return response


@router.get("/admin", response_class=HTMLResponse, name="admin_home")
def admin_home(request: Request, store: StoreDep, session: AdminSession) -> HTMLResponse:
    return page(request, "admin_home.html", admin=session.subject, campaigns=campaign_names(store))


def _status(store: Store, campaign: str) -> dict[str, Any]:
    try:
        return campaign_status(store, campaign)
    except CampaignError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/admin/campaigns/{campaign}", response_class=HTMLResponse, name="campaign_page")
def campaign_page(request: Request, store: StoreDep, campaign: CampaignName, session: AdminSession) -> HTMLResponse:
    return page(request, "campaign.html", status=_status(store, campaign), admin=session.subject,
                csrf_token=session.csrf_token)


@router.get("/admin/api/campaigns/{campaign}", name="campaign_api")
def campaign_api(store: StoreDep, campaign: CampaignName, _session: AdminSession) -> dict[str, Any]:
    return _status(store, campaign)


@router.post("/admin/campaigns/{campaign}/pause", name="campaign_pause")
def campaign_pause(request: Request, store: StoreDep, campaign: CampaignName, session: AdminPost,
                   task_type: Annotated[str, Form(min_length=1, max_length=128)],
                   reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    try:
        pause_task_type(store, campaign, task_type, reason or f"paused by {session.subject}")
    except CampaignError as exc:
        raise HTTPException(404, str(exc)) from None
    return RedirectResponse(request.url_for("campaign_page", campaign=campaign), status_code=303)


@router.post("/admin/campaigns/{campaign}/rubric", name="campaign_rubric")
def campaign_rubric(request: Request, store: StoreDep, campaign: CampaignName, session: AdminPost,
                    version: Annotated[str, Form(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")],
                    text: Annotated[str, Form(min_length=1, max_length=100_000)],
                    task_type: Annotated[str, Form(min_length=1, max_length=128)] = "*") -> Response:
    try:
        publish_rubric(store, campaign, text, version=version, task_type=task_type)
    except CampaignError as exc:
        raise HTTPException(400, str(exc)) from None
    return RedirectResponse(request.url_for("campaign_page", campaign=campaign), status_code=303)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if request.url.path.startswith(f"{_cookie_path(request).rstrip('/')}/admin/api/"):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
    return page(request, "message.html", exc.status_code, title=f"{exc.status_code}", message=exc.detail)


def _csp(nonce: str) -> str:
    # scripts only from this origin or the page's own nonce-tagged inline script; the app is never framed
    return (f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


class SecurityHeaders:
    """A fresh script nonce per request (templates tag their inline script with it) and hardening headers.

    A plain ASGI middleware: Starlette's `BaseHTTPMiddleware` (`app.middleware("http")`) runs every request
    through an extra task and memory stream, which cost more CPU than some of the pages themselves.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope["state"] = {**scope.get("state", {}), "csp_nonce": nonce}  # request.state.csp_nonce, this request's
        extra = [(b"content-security-policy", _csp(nonce).encode("latin-1")), (b"x-frame-options", b"DENY"),
                 (b"x-content-type-options", b"nosniff"),
                 (b"referrer-policy", b"no-referrer")]  # sign-in links carry a token in the path

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(store_url: str, *, secure_cookies: bool = False) -> FastAPI:
    """The rater web app on the given store; mount it anywhere (links follow the mount path)."""
    store = Store(store_url)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(title="Tether rater app", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.store = store
    app.state.secure_cookies = secure_cookies
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(SecurityHeaders)
    app.include_router(router)
    return app
