"""The loop's routes on `tether serve`: the dashboard page at /collect/admin/loop, behind the same admin credential as
the campaign pages (the admin session cookie, or `Authorization: Bearer <admin credential>` for scripts), and
`GET /v1/assignment`, which tells an application which model version serves a request (a project API key)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Cookie, Header, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from tether.collect import security
from tether.deploy.api import Key
from tether.loop.dashboard import dashboard_data, render_html


def _admin(store, cookie: str | None, authorization: str | None) -> str:  # noqa: ANN001
    if authorization and authorization.lower().startswith("bearer "):
        name = security.admin_for_secret(store, authorization[7:].strip())
        if name:
            return name
    session = security.session_for_cookie(store, cookie, "admin") if cookie else None
    if session is None:
        raise HTTPException(401, "admin credential required: sign in at /collect/admin/login")
    return session.subject


def dashboard_route(default_project: str) -> APIRouter:
    """The router, with the events tenant shown when the URL names none (the server's project). The cookie is the
    rater app's admin session (`tether_admin`, set under /collect, hence this path)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/collect/admin/loop")
    async def loop_dashboard(request: Request, role: Annotated[str, Query(max_length=255)] = "reward",
                             project: Annotated[str | None, Query(max_length=255)] = None,
                             fmt: Annotated[str, Query(alias="format", pattern="^(html|json)$")] = "html",
                             tether_admin: Annotated[str | None, Cookie()] = None,
                             authorization: Annotated[str | None, Header()] = None):  # noqa: ANN202
        store = request.app.state.ingestion.store
        await run_in_threadpool(_admin, store, tether_admin, authorization)
        data = await run_in_threadpool(dashboard_data, store, role=role, project=project or default_project)
        if fmt == "json":
            return JSONResponse(data)
        nonce = secrets.token_urlsafe(16)
        return HTMLResponse(render_html(data, csp_nonce=nonce), headers={
            "Content-Security-Policy": f"default-src 'none'; img-src data:; style-src 'nonce-{nonce}'; "
                                       "frame-ancestors 'none'", "X-Frame-Options": "DENY",
            "Cache-Control": "no-store"})

    return router


def assignment_router() -> APIRouter:
    """`GET /v1/assignment?role=policy&unit=<user or trace id>`: the arm (champion, or the canary's challenger for its
    share of units, sticky per unit) and the version to log back as the generation's `model`."""
    from tether.loop.promotion import PromotionError, assign

    router = APIRouter(prefix="/v1", tags=["loop"])

    @router.get("/assignment", responses={401: {}, 403: {}, 404: {}})
    async def assignment(request: Request, key: Key, role: Annotated[str, Query(min_length=1, max_length=255)],
                         unit: Annotated[str, Query(min_length=1, max_length=256,
                                                    description="user id or trace id: the same unit, the same arm")]
                         ) -> dict:
        store = request.app.state.ingestion.store
        history = await run_in_threadpool(store.promotions, role)
        try:
            arm, decision = assign(history, role, unit)
        except PromotionError as exc:
            raise HTTPException(404, str(exc)) from None
        label = f"{decision.model}@{decision.version}" if decision.model else decision.path
        return {"role": role, "arm": arm, "model": decision.model, "version": decision.version,
                "path": decision.path, "log_as": label}

    return router
