"""`careflow up`: run everything on the embedded defaults (or configured services)."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console
from temporalio.client import Client

from careflow.cli.app import app
from careflow.config import load_settings
from careflow.store import Database


@app.command()
def up(
    demo: bool = typer.Option(
        False, "--demo", help="Load sample customers, orders and complaints and act on them."
    ),
) -> None:
    """Start the store, Temporal, SMTP capture, the worker and the HTTP API; Ctrl-C stops."""
    # Imported here: the other commands start faster without the runtime and telemetry.
    from careflow.observability import observe_process
    from careflow.runtime.up import run_up

    settings = load_settings()
    observe_process(settings, "careflow")
    console = Console()

    async def load_demo(db: Database, client: Client) -> None:
        from careflow.demo import load_demo_data

        summary = await load_demo_data(db, client, settings.task_queue)
        console.print(f"demo data: {summary}")

    asyncio.run(run_up(settings, after_start=load_demo if demo else None, console=console))
