"""The FastAPI app that mounts every stage's web routes: the rater app at /collect, ingestion at /v1, the loop's
dashboard at /collect/admin/loop."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from tether.config import Project, find_project

COLLECT_PREFIX = "/collect"


def create_app(project: Project | str | None = None, *, secure_cookies: bool = False) -> FastAPI:
    """The global server for a project (or a database URL); stages mount their apps under their prefix.

    `secure_cookies`: session cookies only over HTTPS (set it when TLS terminates in front of Tether)."""
    from tether.collect.web import create_app as create_collect_app
    from tether.deploy.api import serve_ingestion
    from tether.loop.web import assignment_router, dashboard_route

    if project is None:
        project = find_project()
    url = project if isinstance(project, str) else project.database_url
    app = FastAPI(title="Tether", docs_url=None, redoc_url=None)
    serve_ingestion(app, url)
    app.include_router(assignment_router())
    app.include_router(dashboard_route("default" if isinstance(project, str) else project.name))  # before the mount
    app.mount(COLLECT_PREFIX, create_collect_app(url, secure_cookies=secure_cookies))

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{COLLECT_PREFIX}/", status_code=307)

    return app


def server_config(project: Project | str | None = None, *, host: str = "127.0.0.1", port: int = 8000,
                  secure_cookies: bool = False, **uvicorn_options: Any):  # noqa: ANN201 - uvicorn imported lazily
    """The uvicorn config `tether serve` runs: the global app, and an access log that never shows a sign-in token
    (`/collect/r/***`)."""
    import uvicorn

    from tether.collect.security import hide_sign_in_tokens

    uvicorn_options.setdefault("log_level", "info")
    config = uvicorn.Config(create_app(project, secure_cookies=secure_cookies), host=host, port=port,
                            **uvicorn_options)  # configures logging
    hide_sign_in_tokens()  # after, so that nothing replaces it
    return config
