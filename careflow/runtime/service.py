"""What every careflow service process shares: signals, the store, Temporal, mail.

`careflow worker`, `careflow api` and `careflow up` are built from these parts, so
they open the store, connect to Temporal and stop on SIGTERM the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence

from temporalio.client import Client, Interceptor
from temporalio.runtime import Runtime

from careflow.config import Settings
from careflow.outreach.mailer import Delivery, OutboxDelivery, SmtpDelivery
from careflow.store import Database, create_database
from careflow.temporal_connection import connect_temporal, load_temporal_connection

log = logging.getLogger(__name__)

# How long a service waits for a Temporal server that is not up yet (a whole
# deployment started at once); a configuration mistake fails at once instead.
TEMPORAL_PATIENCE_SECONDS = 60.0


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM: the service then stops gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def open_store(
    settings: Settings, stack: contextlib.AsyncExitStack, *, migrate: bool
) -> Database:
    """The configured store, closed with `stack`.

    With `migrate` (only `careflow up`) the schema is brought up to date; otherwise a
    schema older than the code is refused with SchemaBehindError.
    """
    db = create_database(settings.sqlalchemy_url)
    stack.push_async_callback(db.dispose)
    if migrate:
        await db.migrate()
    else:
        await db.require_current_schema()
    return db


async def connect_service_temporal(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """The Temporal client of a service, waiting a while for a server still starting.

    `runtime` (e.g. one with a Prometheus exporter) and `interceptors` (e.g.
    OpenTelemetry tracing) are handed to the client, and so to its worker.
    """
    connection = load_temporal_connection(settings)
    log.info("connecting to Temporal at %s", connection.describe())
    return await connect_temporal(
        connection,
        patience=TEMPORAL_PATIENCE_SECONDS,
        runtime=runtime,
        interceptors=interceptors,
    )


def make_delivery(settings: Settings) -> Delivery:
    """Dry-run writes to the outbox; otherwise real SMTP (the capture server by default)."""
    if settings.delivery == "dry-run":
        return OutboxDelivery(settings.outbox_dir)
    return SmtpDelivery(settings.smtp_target)


async def run_until_stopped(
    stop: asyncio.Event,
    serving: dict[str, Awaitable[None]],
    shutdown: Callable[[], Awaitable[None]],
) -> None:
    """Run `serving` until `stop` is set or one of them ends; then `shutdown()`.

    A part that ended with an error (the API's port taken, the worker failing) stops
    the others and is raised afterwards, so the process exits non-zero.
    """
    tasks = {asyncio.ensure_future(work): name for name, work in serving.items()}
    stopper = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({stopper, *tasks}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    await shutdown()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for task, result in zip(tasks, results, strict=True):
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            log.error("%s failed: %s", tasks[task], result)
            raise result
        if task in done and stopper not in done:
            log.warning("%s ended by itself", tasks[task])
