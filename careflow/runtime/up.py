"""`careflow up`: the store, Temporal, SMTP, the worker and the HTTP API in one process.

Each part is embedded unless configuration points at an external one. The worker
and the API are the same parts `careflow worker` and `careflow api` run; `up` also
migrates the store. On the embedded store, `up` proposes and activates its rules and
templates folders as a release on every good edit (careflow/releases/); on a
configured store it serves the active release like any worker. SIGINT and SIGTERM
shut everything down in reverse order; the Temporal dev server is a child process
that dies with this one even on SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from rich.console import Console
from temporalio.client import Client

from careflow.config import Settings
from careflow.demo.history import start_history_build, stop_history_build
from careflow.releases.bundle import BundleError
from careflow.releases.lifecycle import sync_local_folder
from careflow.runtime.api_service import api_server
from careflow.runtime.console_access import console_access_lines
from careflow.runtime.http_capture import CaptureHttpServer
from careflow.runtime.private_files import make_private, private_umask
from careflow.runtime.schedule import ensure_daily_scan_schedule
from careflow.runtime.service import (
    connect_service_temporal,
    follow_releases,
    open_store,
    run_until_stopped,
    serve_metrics,
    stop_on_signals,
    warn_if_secret_key_is_local,
)
from careflow.runtime.smtp_capture import CaptureSmtpServer
from careflow.runtime.temporal_server import EmbeddedTemporal
from careflow.runtime.worker_service import (
    start_event_sweep,
    start_webhook_delivery,
    start_worker,
)
from careflow.store import Database
from careflow.temporal_connection import TemporalConnection, load_temporal_connection

log = logging.getLogger("careflow.up")

# How often `careflow up` looks at its rules and templates folders for edits.
LOCAL_EDIT_CHECK_SECONDS = 1.0


async def run_up(
    settings: Settings,
    *,
    after_start: Callable[[Database, Client], Awaitable[None]] | None = None,
    console: Console | None = None,
    demo: bool = False,
) -> None:
    """Run until SIGINT/SIGTERM; `after_start` runs once everything accepts work.

    The banner names the console and how to log in: with `demo`, a demo admin's
    generated password (careflow/runtime/console_access.py). With `demo`, once
    `after_start` has posted the demo's first events, the demo's history is built in
    a background process (careflow/demo/history.py) unless it was built before; it
    is stopped with everything else.

    The caller sets the process up first (`careflow.observability.observe_process`);
    the worker's metrics are also served at `CAREFLOW_METRICS_HTTP` when it is set.
    """
    console = console or Console()
    connection = load_temporal_connection(settings)
    home = settings.resolved_home
    home.mkdir(parents=True, exist_ok=True)
    # Also when run_up is called without the CLI's entry point (tests, embedding).
    private_umask()
    loosened = make_private(home)
    if loosened:
        console.print(
            f"made {len(loosened)} file(s) under {home} private to this account (0700/0600)"
        )
    stop = stop_on_signals()

    async with contextlib.AsyncExitStack() as stack:
        db = await open_store(settings, stack, migrate=True)
        if settings.database_url is None:
            # One machine on the embedded store: the folder's good edits go live at once.
            await propose_local_edits(settings, db, stack)
        follower = await follow_releases(settings, db, stack)

        if settings.embedded_smtp:
            smtp = CaptureSmtpServer(settings.outbox_dir, settings.smtp_capture_port)
            smtp.start()
            stack.callback(smtp.stop)
        # Webhooks and staff robots written `url: capture`, and the embedded SMS gateway:
        # an endpoint of this process's own unless one already runs elsewhere.
        capture_url = settings.capture_url
        if capture_url is None:
            capture = CaptureHttpServer(settings.outbox_dir, settings.capture_http_port)
            await capture.start()
            stack.push_async_callback(capture.stop)
            capture_url = capture.url
        capture_url = capture_url.rstrip("/")

        serving: dict[str, Awaitable[None]] = {}
        supervisor: asyncio.Task[None] | None = None
        if connection.embedded:
            temporal = EmbeddedTemporal(
                home,
                settings.temporal_port,
                settings.temporal_ui_port,
                namespace=connection.namespace,
            )
            stack.callback(temporal.stop)
            console.print("starting the embedded Temporal server ...")
            await temporal.start()
            # A Temporal server that cannot be started again ends careflow up, with the reason.
            supervisor = asyncio.create_task(temporal.supervise(), name="careflow-temporal")
            stack.callback(supervisor.cancel)
            serving["the embedded Temporal server"] = supervisor
        client = await connect_service_temporal(settings, connection)
        serve_metrics(settings, stack)

        api = api_server(settings, db, client, follower)
        serving["the HTTP API"] = await api.serve_until_listening()
        worker = start_worker(settings, client, db, stack, follower, capture_url=capture_url)
        serving["the worker"] = asyncio.create_task(worker.run(), name="careflow-worker")
        webhooks = start_webhook_delivery(
            settings, db, stack, follower, capture_url=f"{capture_url}/webhooks"
        )
        serving["webhook delivery"] = asyncio.create_task(webhooks.run(), name="careflow-webhooks")
        sweeper = start_event_sweep(settings, db, client)
        serving["the event sweep"] = asyncio.create_task(sweeper.run(), name="careflow-sweep")

        await ensure_daily_scan_schedule(client, settings)
        access = await console_access_lines(db, f"{settings.base_url}/console/", demo=demo)
        _print_locations(console, settings, connection, access)
        if not connection.embedded:
            # With an external Temporal, workers and the API may run on several hosts.
            warn_if_secret_key_is_local(settings)
        if after_start is not None:
            await after_start(db, client)
        if demo:
            builder = await start_history_build(settings)
            if builder is not None:
                stack.push_async_callback(stop_history_build, builder)
                console.print(
                    "demo history: six weeks of real purchases are being run through careflow "
                    "in the background (about a minute); the console says when they are in"
                )

        async def shutdown() -> None:
            console.print("shutting down ...")
            await api.stop()
            webhooks.stop()
            sweeper.stop()
            await worker.shutdown()
            # The server outlives the worker's graceful shutdown (in-flight sends report
            # to it); the stack stops it last.
            if supervisor is not None:
                supervisor.cancel()

        await run_until_stopped(stop, serving, shutdown)
    console.print("careflow stopped.")


async def propose_local_edits(
    settings: Settings, db: Database, stack: contextlib.AsyncExitStack
) -> None:
    """Propose and activate the rules and templates folders now and on every change
    (checked every second), stopped with `stack`: today's edit-and-reload loop, as
    releases. A broken edit is logged and the last good release stays active."""
    cache_dir = settings.resolved_home / "releases"

    async def once() -> None:
        try:
            await sync_local_folder(
                db, settings.rules_dir, settings.templates_dir, cache_dir=cache_dir
            )
        except BundleError as error:
            log.error("rule files in %s not read: %s", settings.rules_dir, error)

    async def follow() -> None:
        while True:
            await asyncio.sleep(LOCAL_EDIT_CHECK_SECONDS)
            try:
                await once()
            except Exception:  # a locked store, say: try again next time
                log.exception("could not propose the edited rule files")

    await once()
    task = asyncio.create_task(follow(), name="careflow-local-rules")
    stack.callback(task.cancel)


def _print_locations(
    console: Console, settings: Settings, connection: TemporalConnection, access: list[str]
) -> None:
    lines = [
        "[bold green]careflow is up[/]",
        *access,
        f"  API docs      {settings.base_url}/docs",
        f"  Temporal      {connection.describe()}",
        f"  Daily scan    {settings.scan_time} {settings.scan_timezone}",
    ]
    if connection.embedded:
        lines.append(f"  Temporal UI   http://127.0.0.1:{settings.temporal_ui_port}")
    if settings.embedded_smtp or settings.delivery == "dry-run":
        lines.append(f"  Outbox        {settings.outbox_dir}")
    else:
        lines.append(f"  SMTP          {settings.smtp_target.host}:{settings.smtp_target.port}")
    lines.append(
        f"  Captured HTTP {settings.outbox_dir / 'webhooks'}, {settings.outbox_dir / 'sms'}"
    )
    lines.append(f"  Store         {settings.sqlalchemy_url.split('@')[-1]}")
    lines.append("Press Ctrl-C to stop.")
    console.print("\n".join(lines))
