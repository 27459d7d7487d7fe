"""`careflow api`: the HTTP API and the console, no worker.

Any number of API processes may run against one Temporal namespace and one store:
they keep no state of their own (console sessions are signed cookies, login limits
are counted in the store's audit log). On SIGTERM the API stops accepting
connections, finishes the requests in flight, then exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI
from temporalio.client import Client

from careflow.activities.registry import build_direct_evaluation
from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.releases.follower import ReleaseFollower
from careflow.rule_references import build_references
from careflow.runtime.service import (
    connect_service_temporal,
    follow_releases,
    open_store,
    run_until_stopped,
    stop_on_signals,
    unless_stopped,
    warn_if_secret_key_is_local,
)
from careflow.store import Database
from careflow.workflows.registry import JOURNEYS

log = logging.getLogger(__name__)


class ApiServer(uvicorn.Server):
    """uvicorn without its own signal handlers: careflow decides when everything stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def serve_until_listening(self) -> asyncio.Task[None]:
        """Start serving; return once it listens, or raise why it could not (port in use)."""
        task = asyncio.create_task(self.serve(), name="careflow-api")
        while not self.started and not task.done():  # noqa: ASYNC110 - uvicorn has no event
            await asyncio.sleep(0.05)
        if task.done():
            await task
            raise RuntimeError(
                f"the HTTP API stopped while starting on {self.config.host}:{self.config.port}"
            )
        return task

    async def stop(self) -> None:
        self.should_exit = True


def api_server_config(app: FastAPI, host: str, port: int) -> uvicorn.Config:
    """How the HTTP API is served, by `careflow api` and `careflow up` alike."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        # careflow.access logs each request by its route template instead: uvicorn's
        # line has the raw path and query (signed tokens, ids).
        access_log=False,
        lifespan="off",
        # The C parser: uvicorn's pure-Python one (h11) showed up in every profile of
        # the event path; side runs put this at about 5% of the careflow process's
        # CPU per event, and nothing else about serving changes.
        http="httptools",
        # careflow reads X-Forwarded-For itself, from CAREFLOW_TRUSTED_PROXIES only
        # (careflow/api/addresses.py); uvicorn would believe it from 127.0.0.1.
        proxy_headers=False,
    )


def api_server(
    settings: Settings, db: Database, client: Client, follower: ReleaseFollower | None = None
) -> ApiServer:
    """The HTTP API and console on `CAREFLOW_HTTP`; `careflow up` shares it.

    On the direct event path (the default) it evaluates events' rules itself, on the
    release its `follower` serves, as the workers do.
    """
    direct = None
    if settings.event_path == "direct":
        direct = build_direct_evaluation(
            settings,
            db=db,
            client=client,
            journeys=JOURNEYS,
            references=build_references(settings),
            follower=follower,
        )
    state = ApiState(
        db,
        client,
        settings.task_queue,
        settings.secret_key,
        api_token=settings.api_token,
        follower=follower,
        direct=direct,
    )
    return ApiServer(api_server_config(create_app(state), settings.http_host, settings.http_port))


@dataclass
class ApiProcess:
    """Everything one `careflow api` process runs."""

    settings: Settings
    db: Database
    client: Client
    server: ApiServer


async def build_api_process(settings: Settings, stack: contextlib.AsyncExitStack) -> ApiProcess:
    """Build a `careflow api` process: store (schema checked), Temporal, the HTTP server.

    The one place to add what an API process carries besides its routes (middleware
    or extra routes on `server.config.app`; the traced client comes from
    careflow/runtime/service.py). Whatever needs closing goes on `stack`.
    """
    db = await open_store(settings, stack, migrate=False)
    follower = await follow_releases(settings, db, stack)
    client = await connect_service_temporal(settings)
    server = api_server(settings, db, client, follower)
    return ApiProcess(settings=settings, db=db, client=client, server=server)


async def run_api_process(settings: Settings) -> None:
    """Run `careflow api` until SIGINT or SIGTERM, then finish requests in flight."""
    stop = stop_on_signals()
    async with contextlib.AsyncExitStack() as stack:
        process = await unless_stopped(stop, build_api_process(settings, stack))
        if process is None:
            log.info("careflow api stopped while starting")
            return
        warn_if_secret_key_is_local(settings)
        serving = await process.server.serve_until_listening()
        log.info(
            "careflow api listening on http://%s (Temporal namespace %s)",
            settings.http,
            process.client.namespace,
        )
        await run_until_stopped(stop, {"the HTTP API": serving}, process.server.stop)
    log.info("careflow api stopped")
