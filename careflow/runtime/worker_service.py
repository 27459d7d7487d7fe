"""`careflow worker`: the workflows and activities of careflow's task queue, no HTTP.

Any number of workers may run against one Temporal namespace and one store. Each
makes sure the daily scan's schedule exists, serves the store's active rule release
(careflow/releases/: a new activation is served within a second, and before the
next decision), and on SIGTERM stops polling, lets running activities finish, then
exits. Before any release is activated it serves the configured rules folder,
following its edits.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from careflow.config import Settings
from careflow.intake.sweep import EventSweeper
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
from careflow.webhooks.dispatcher import WebhookDispatcher
from careflow.worker import create_worker

log = logging.getLogger(__name__)


def start_worker(
    settings: Settings,
    client: Client,
    db: Database,
    stack: contextlib.AsyncExitStack,
    follower: ReleaseFollower | None = None,
    *,
    capture_url: str | None = None,
) -> Worker:
    """The worker with its mail delivery (closed with `stack`); `careflow up` shares it,
    with its capture endpoint (`capture_url`) as the SMS gateway of `url: capture`.

    With a release `follower` it serves the store's active release.
    """
    delivery = make_delivery(settings)
    stack.push_async_callback(delivery.close)
    return create_worker(
        client, settings, db=db, delivery=delivery, follower=follower, capture_url=capture_url
    )


def capture_secret(secret_key: str) -> str:
    """The Standard Webhooks secret `careflow up` signs `url: capture` deliveries with:
    derived from CAREFLOW_SECRET_KEY, so a captured file can be verified with it."""
    digest = hmac.new(secret_key.encode(), b"careflow capture webhooks", hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(digest).decode()


def start_webhook_delivery(
    settings: Settings,
    db: Database,
    stack: contextlib.AsyncExitStack,
    follower: ReleaseFollower | None = None,
    *,
    capture_url: str | None = None,
) -> WebhookDispatcher:
    """The loop that fans careflow's events out to webhooks and staff robots and
    delivers them (closed with `stack`); every worker process runs one. With
    `careflow up`'s `capture_url`, endpoints there are signed with `capture_secret`.
    With a release `follower`, the endpoints are the active release's."""
    dispatcher = WebhookDispatcher(
        db,
        follower.rules_dir if follower is not None else settings.rules_dir,
        capture_url=capture_url,
        capture_secret=capture_secret(settings.secret_key) if capture_url else None,
    )
    stack.push_async_callback(dispatcher.close)
    return dispatcher


def start_event_sweep(settings: Settings, db: Database, client: Client) -> EventSweeper:
    """The loop that hands events the direct path left unhandled to their workflows
    (careflow/intake/sweep.py); every worker process runs one."""
    return EventSweeper(
        db,
        client,
        settings.task_queue,
        after=timedelta(seconds=settings.event_sweep_after_seconds),
    )


@dataclass
class WorkerProcess:
    """Everything one `careflow worker` process runs."""

    settings: Settings
    db: Database
    client: Client
    worker: Worker
    webhooks: WebhookDispatcher
    sweeper: EventSweeper


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
    webhooks = start_webhook_delivery(settings, db, stack, follower)
    return WorkerProcess(
        settings=settings,
        db=db,
        client=client,
        worker=worker,
        webhooks=webhooks,
        sweeper=start_event_sweep(settings, db, client),
    )


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

        async def shutdown() -> None:
            process.webhooks.stop()
            process.sweeper.stop()
            await process.worker.shutdown()

        await run_until_stopped(
            stop,
            {
                "the worker": process.worker.run(),
                "webhook delivery": process.webhooks.run(),
                "the event sweep": process.sweeper.run(),
            },
            shutdown,
        )
    log.info("careflow worker stopped")
