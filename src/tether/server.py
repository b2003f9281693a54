"""The FastAPI app that mounts every stage's web routes: the rater app at /collect, ingestion at /v1."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from tether.config import Project, find_project

COLLECT_PREFIX = "/collect"


def create_app(project: Project | str | None = None, *, secure_cookies: bool = False) -> FastAPI:
    """The global server for a project (or a database URL); stages mount their apps under their prefix.

    `secure_cookies`: session cookies only over HTTPS (set it when TLS terminates in front of Tether)."""
    from tether.collect.web import create_app as create_collect_app
    from tether.deploy.api import serve_ingestion

    if project is None:
        project = find_project()
    url = project if isinstance(project, str) else project.database_url
    app = FastAPI(title="Tether", docs_url=None, redoc_url=None)
    serve_ingestion(app, url)
    app.mount(COLLECT_PREFIX, create_collect_app(url, secure_cookies=secure_cookies))

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{COLLECT_PREFIX}/", status_code=307)

    return app
