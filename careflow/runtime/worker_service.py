"""`careflow worker`: the workflows and activities of careflow's task queue, no HTTP.

Any number of workers may run against one Temporal namespace and one store. Each
makes sure the daily scan's schedule exists, serves the store's active rule release
(careflow/releases/: a new activation is served within a second, and before the
next decision), and on SIGTERM stops polling, lets running activities finish, then
exits. Before any release is activated it serves the configured rules folder,
following its edits.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.worker import Worker

from careflow.config import Settings
from careflow.releases.follower import ReleaseFollower
from careflow.runtime.schedule import ensure_daily_scan_schedule
from careflow.runtime.service import (
    connect_service_temporal,
    follow_releases,
    make_delivery,
    open_store,
    run_until_stopped,
    serve_metrics,
    stop_on_signals,
    unless_stopped,
    warn_if_secret_key_is_local,
)
from careflow.store import Database
from careflow.worker import create_worker

log = logging.getLogger(__name__)


def start_worker(
    settings: Settings,
    client: Client,
    db: Database,
    stack: contextlib.AsyncExitStack,
    follower: ReleaseFollower | None = None,
) -> Worker:
    """The worker with its mail delivery (closed with `stack`); `careflow up` shares it.

    With a release `follower` it serves the store's active release.
    """
    delivery = make_delivery(settings)
    stack.push_async_callback(delivery.close)
    return create_worker(client, settings, db=db, delivery=delivery, follower=follower)


@dataclass
class WorkerProcess:
    """Everything one `careflow worker` process runs."""

    settings: Settings
    db: Database
    client: Client
    worker: Worker


async def build_worker_process(
    settings: Settings, stack: contextlib.AsyncExitStack
) -> WorkerProcess:
    """Build a `careflow worker` process: store (schema checked), Temporal, schedule, worker.

    The one place to add what a worker process carries besides its worker (the
    traced client and the metrics endpoint come from careflow/runtime/service.py).
    Whatever needs closing goes on `stack`.
    """
    db = await open_store(settings, stack, migrate=False)
    follower = await follow_releases(settings, db, stack)
    client = await connect_service_temporal(settings)
    serve_metrics(settings, stack)
    await ensure_daily_scan_schedule(client, settings)
    worker = start_worker(settings, client, db, stack, follower)
    return WorkerProcess(settings=settings, db=db, client=client, worker=worker)


async def run_worker_process(settings: Settings) -> None:
    """Run `careflow worker` until SIGINT or SIGTERM, then shut down gracefully."""
    stop = stop_on_signals()
    async with contextlib.AsyncExitStack() as stack:
        process = await unless_stopped(stop, build_worker_process(settings, stack))
        if process is None:
            log.info("careflow worker stopped while starting")
            return
        warn_if_secret_key_is_local(settings)
        log.info(
            "careflow worker polling task queue %s in namespace %s",
            settings.task_queue,
            process.client.namespace,
        )
        await run_until_stopped(stop, {"the worker": process.worker.run()}, process.worker.shutdown)
    log.info("careflow worker stopped")
