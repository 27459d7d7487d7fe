"""Mounting the console on the API app: its routers and its refusal page.

Kept apart from `web.py`, whose helpers the routers import, so that the console's
modules import one another in one direction only (tests/test_import_graph.py).
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from careflow.api.state import ApiState
from careflow.config import load_settings
from careflow.console.actions import router as actions_router
from careflow.console.campaigns_page import router as campaigns_router
from careflow.console.charts import STATIC_DIR
from careflow.console.pages import router as pages_router
from careflow.console.releases import router as releases_router
from careflow.console.segments_page import router as segments_router
from careflow.console.staff_actions import router as staff_router
from careflow.console.web import LOGIN_PATH, PREFIX, Console, ConsoleRefusal, redirect, render
from careflow.console.webhooks_page import router as webhooks_router


def mount_console(app: FastAPI) -> None:
    """Add the console to the API app (its ApiState must be set on `app.state.careflow`)."""
    settings = load_settings()
    api: ApiState = app.state.careflow
    app.state.careflow_console = Console(settings, api)
    app.include_router(pages_router)
    app.include_router(actions_router)
    app.include_router(releases_router)
    app.include_router(staff_router)
    app.include_router(webhooks_router)
    app.include_router(segments_router)
    app.include_router(campaigns_router)
    # The chart library and careflow's chart code: public, static, shipped in the package.
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    app.add_exception_handler(ConsoleRefusal, _refusal_response)  # type: ignore[arg-type]


async def _refusal_response(request: Request, refusal: ConsoleRefusal) -> Response:
    current = refusal.visit
    if refusal.status == 401 and request.method in ("GET", "HEAD"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return redirect(current, f"{LOGIN_PATH}?{urlencode({'next': target})}")
    response = render(current, "refusal.html.j2", {"reason": refusal.reason}, status=refusal.status)
    if refusal.status == 401:
        response.headers["WWW-Authenticate"] = 'FormBased realm="careflow console"'
    return response
