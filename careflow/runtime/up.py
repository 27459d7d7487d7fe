"""`careflow up`: the store, Temporal, SMTP, the worker and the HTTP API in one process.

Each part is embedded unless configuration points at an external one. SIGINT and
SIGTERM shut everything down in reverse order; the Temporal dev server is a
child process that dies with this one even on SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from rich.console import Console
from temporalio.client import Client

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import KEY_FILE_NAME, Settings
from careflow.outreach.mailer import Delivery, OutboxDelivery, SmtpDelivery
from careflow.runtime.schedule import ensure_daily_scan_schedule
from careflow.runtime.smtp_capture import CaptureSmtpServer
from careflow.runtime.temporal_server import EmbeddedTemporal, wait_for_temporal
from careflow.store import Database, create_database
from careflow.worker import create_worker

log = logging.getLogger("careflow.up")


def make_delivery(settings: Settings) -> Delivery:
    """Dry-run writes to the outbox; otherwise real SMTP (the capture server by default)."""
    if settings.delivery == "dry-run":
        return OutboxDelivery(settings.outbox_dir)
    return SmtpDelivery(settings.smtp_target)


async def run_up(
    settings: Settings,
    *,
    after_start: Callable[[Database, Client], Awaitable[None]] | None = None,
    console: Console | None = None,
) -> None:
    """Run until SIGINT/SIGTERM; `after_start` runs once everything accepts work."""
    console = console or Console()
    home = settings.resolved_home
    home.mkdir(parents=True, exist_ok=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    async with contextlib.AsyncExitStack() as stack:
        db = create_database(settings.sqlalchemy_url)
        stack.push_async_callback(db.dispose)
        await db.migrate()

        if settings.embedded_smtp:
            smtp = CaptureSmtpServer(settings.outbox_dir, settings.smtp_capture_port)
            smtp.start()
            stack.callback(smtp.stop)

        supervisor: asyncio.Task[None] | None = None
        if settings.embedded_temporal:
            temporal = EmbeddedTemporal(home, settings.temporal_port, settings.temporal_ui_port)
            stack.callback(temporal.stop)
            console.print("starting the embedded Temporal server ...")
            await temporal.start()
            supervisor = asyncio.create_task(temporal.supervise(), name="careflow-temporal")
            stack.callback(supervisor.cancel)
        client = await wait_for_temporal(settings.temporal_target, within_seconds=60)

        delivery = make_delivery(settings)
        stack.push_async_callback(delivery.close)
        worker = create_worker(client, settings, db=db, delivery=delivery)
        worker_task = asyncio.create_task(worker.run(), name="careflow-worker")

        api = _ApiServer(
            uvicorn.Config(
                create_app(
                    ApiState(
                        db,
                        client,
                        settings.task_queue,
                        settings.secret_key,
                        api_token=settings.api_token,
                    )
                ),
                host=settings.http_host,
                port=settings.http_port,
                log_level="warning",
                lifespan="off",
            )
        )
        api_task = asyncio.create_task(api.serve(), name="careflow-api")
        while not api.started and not api_task.done():  # noqa: ASYNC110 - uvicorn has no event
            await asyncio.sleep(0.05)
        if api_task.done():
            await api_task  # raises the reason it could not start (port in use, ...)

        await ensure_daily_scan_schedule(client, settings)
        _print_locations(console, settings)
        if settings.configured_secret_key is None and not settings.embedded_temporal:
            # With an external Temporal, workers and the API may run on several hosts:
            # each would generate its own key, and links signed on one fail on another.
            console.print(
                "[yellow]CAREFLOW_SECRET_KEY is not set: links are signed with the key "
                f"generated in {home / KEY_FILE_NAME}; give every host the same key.[/]"
            )
        if after_start is not None:
            await after_start(db, client)

        stopper = asyncio.create_task(stop.wait())
        # A Temporal server that cannot be started again ends careflow up, with the reason.
        watched = {stopper, worker_task, api_task} | ({supervisor} if supervisor else set())
        done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        console.print("shutting down ...")
        api.should_exit = True
        await asyncio.gather(api_task, return_exceptions=True)
        await worker.shutdown()
        stopper.cancel()
        for task in done:
            failure = None if task is stopper else task.exception()
            if failure is not None:
                raise failure
    console.print("careflow stopped.")


class _ApiServer(uvicorn.Server):
    """uvicorn without its own signal handlers: careflow decides when everything stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _print_locations(console: Console, settings: Settings) -> None:
    lines = [
        "[bold green]careflow is up[/]",
        f"  API docs      {settings.base_url}/docs",
        f"  Temporal      {settings.temporal_target}",
        f"  Daily scan    {settings.scan_time} {settings.scan_timezone}",
    ]
    if settings.embedded_temporal:
        lines.append(f"  Temporal UI   http://127.0.0.1:{settings.temporal_ui_port}")
    if settings.embedded_smtp or settings.delivery == "dry-run":
        lines.append(f"  Outbox        {settings.outbox_dir}")
    else:
        lines.append(f"  SMTP          {settings.smtp_target.host}:{settings.smtp_target.port}")
    lines.append(f"  Store         {settings.sqlalchemy_url.split('@')[-1]}")
    lines.append("Press Ctrl-C to stop.")
    console.print("\n".join(lines))
