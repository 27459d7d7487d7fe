"""What every careflow service process shares: signals, the store, Temporal, mail.

`careflow worker`, `careflow api` and `careflow up` are built from these parts, so
they open the store, connect to Temporal and stop on SIGTERM the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from temporalio.client import Client

from careflow.config import KEY_FILE_NAME, Settings
from careflow.gc_tuning import long_run_collection
from careflow.observability import start_metrics_server, tracing_interceptors
from careflow.outreach.mailer import Delivery, OutboxDelivery, SmtpDelivery
from careflow.releases.follower import ReleaseFollower, start_follower
from careflow.rule_references import folder_references
from careflow.store import Database, create_database
from careflow.temporal_connection import (
    TemporalConnection,
    connect_temporal,
    load_temporal_connection,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

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


async def unless_stopped(stop: asyncio.Event, work: Coroutine[Any, Any, T]) -> T | None:
    """`work`'s result, or None if a stop signal comes first (then `work` is cancelled).

    A service still starting (waiting for Temporal, say) stops at once on SIGTERM
    instead of making its service manager wait and then kill it.
    """
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


def warn_if_secret_key_is_local(settings: Settings) -> None:
    """Say so when links and sessions are signed with a key generated on this host.

    Workers and API processes may run on several hosts: each would generate its own
    key, and a link signed on one would fail on another.
    """
    if settings.configured_secret_key is None:
        log.warning(
            "CAREFLOW_SECRET_KEY is not set: links are signed with the key generated in %s; "
            "give every host the same key",
            settings.resolved_home / KEY_FILE_NAME,
        )


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
    settings: Settings, connection: TemporalConnection | None = None
) -> Client:
    """The Temporal client of a service, traced, waiting a while for a server still
    starting.

    The tracing interceptor goes on every service's client (and so on its worker), so
    one trace follows an event from the API through the journeys it starts. The SDK's
    metrics runtime is the process's default, installed by `observe_process` first.
    """
    connection = connection or load_temporal_connection(settings)
    log.info("connecting to Temporal at %s", connection.describe())
    return await connect_temporal(
        connection, patience=TEMPORAL_PATIENCE_SECONDS, interceptors=tracing_interceptors()
    )


async def follow_releases(
    settings: Settings, db: Database, stack: contextlib.AsyncExitStack
) -> ReleaseFollower:
    """This process's follower of the active rule release, stopped with `stack`.

    Releases are written out under `CAREFLOW_HOME/releases` on this process's own disk.
    """
    return await start_follower(
        db,
        stack,
        cache_dir=settings.resolved_home / "releases",
        local_rules=settings.rules_dir,
        local_templates=settings.templates_dir,
        references=folder_references,
    )


def serve_metrics(settings: Settings, stack: contextlib.AsyncExitStack) -> None:
    """The process's metrics at `CAREFLOW_METRICS_HTTP` when it is set, closed with `stack`."""
    server = start_metrics_server(settings)
    if server is not None:
        stack.callback(server.close)


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
    the others and is raised afterwards, so the process exits non-zero. While they
    run, what the process built to start is left out of garbage collections
    (careflow/gc_tuning.py).
    """
    tasks = {asyncio.ensure_future(work): name for name, work in serving.items()}
    stopper = asyncio.ensure_future(stop.wait())
    with long_run_collection():
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
