"""`careflow up`, `careflow worker` and `careflow api`: the service processes.

`up` runs everything on one machine (embedded defaults, migrating the store);
`worker` and `api` are the separate services of a deployment, any number of each
against one Temporal namespace and one store, whose schema they check but never
change (`careflow db upgrade` does).
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any

import typer
from rich.console import Console
from temporalio.client import Client

from careflow.cli.app import app
from careflow.cli.temporal import exit_with
from careflow.config import Settings, load_settings
from careflow.store import Database, SchemaBehindError
from careflow.temporal_connection import TemporalConnectionError


def observed_settings(service_name: str) -> Settings:
    """Settings, with the process's logs, traces and SDK metrics set up for `service_name`.

    Before any Temporal client exists: a client made earlier would keep a runtime
    without the metrics exporter.
    """
    # Imported here: the other commands start faster without the telemetry stack.
    from careflow.observability import observe_process

    settings = load_settings()
    observe_process(settings, service_name)
    # Alembic's per-connection chatter ("Context impl ...") says nothing to an operator.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return settings


def run_service(service: Coroutine[Any, Any, None], settings: Settings) -> None:
    """Run a service on the loop `settings` name (careflow/runtime/event_loop.py); a
    setup mistake is one line on stderr and exit code 2."""
    from careflow.runtime.event_loop import chosen_loop, run_on

    try:
        run_on(chosen_loop(settings.event_loop), service)
    except (TemporalConnectionError, SchemaBehindError) as error:
        exit_with(error)


@app.command()
def up(
    demo: bool = typer.Option(
        False,
        "--demo",
        help="Load sample customers, orders and complaints and act on them; make a demo "
        "console admin whose password the banner prints.",
    ),
) -> None:
    """Start the store, Temporal, SMTP capture, the worker and the HTTP API; Ctrl-C stops."""
    from careflow.runtime.up import run_up

    settings = observed_settings("careflow")
    console = Console()

    async def load_demo(db: Database, client: Client) -> None:
        from careflow.demo import load_demo_data

        summary = await load_demo_data(db, client, settings.task_queue)
        console.print(f"demo data: {summary}")

    run_service(
        run_up(
            settings,
            after_start=load_demo if demo else None,
            console=console,
            demo=demo,
        ),
        settings,
    )


@app.command()
def worker() -> None:
    """Run workflows and activities on the task queue (no HTTP API); SIGTERM stops gracefully."""
    from careflow.runtime.worker_service import run_worker_process

    settings = observed_settings("careflow-worker")
    run_service(run_worker_process(settings), settings)


@app.command()
def api() -> None:
    """Serve the HTTP API and console on CAREFLOW_HTTP (no worker); SIGTERM stops gracefully."""
    from careflow.runtime.api_service import run_api_process

    settings = observed_settings("careflow-api")
    run_service(run_api_process(settings), settings)
