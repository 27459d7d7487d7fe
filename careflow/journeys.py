"""Finding and signalling a customer's running journeys (the `journeys` table's job).

Used by the dispatcher (rule intents that signal a journey), by opt-outs and by
erasure, so a journey in flight learns what happened at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from careflow.store import Customer, Database, JourneyRecord
from careflow.webhooks.events import JOURNEY_ENDED, record_event_async

log = logging.getLogger(__name__)


async def running_journeys(
    db: Database,
    customer_external_id: str,
    *,
    journeys: Iterable[str] | None = None,
    subject: str | None = None,
) -> list[JourneyRecord]:
    """The customer's journeys careflow believes are running, optionally narrowed."""
    async with db.session() as session:
        query = (
            select(JourneyRecord)
            .join(Customer, Customer.id == JourneyRecord.customer_id)
            .where(
                Customer.external_id == customer_external_id,
                JourneyRecord.status == "running",
            )
        )
        if journeys is not None:
            query = query.where(JourneyRecord.journey.in_(list(journeys)))
        if subject:
            query = query.where(JourneyRecord.subject == subject)
        return list(await session.scalars(query))


async def signal_journeys(
    db: Database,
    client: Client,
    records: Iterable[JourneyRecord],
    signal: str,
    argument: object = None,
) -> list[str]:
    """Send `signal` (with `argument`, if any) to each journey; ones Temporal no longer
    knows are marked ended."""
    signalled: list[str] = []
    for record in records:
        handle = client.get_workflow_handle(record.workflow_id)
        try:
            if argument is None:
                await handle.signal(signal)
            else:
                await handle.signal(signal, argument)
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            await mark_journey_ended(db, record.workflow_id, outcome=None)
            continue
        signalled.append(record.workflow_id)
    return signalled


async def mark_journey_ended(
    db: Database, workflow_id: str, outcome: str | None, *, at: datetime | None = None
) -> None:
    """Record that a running journey ended, `at` the journey's own time (default: now)."""
    async with db.session() as session:
        record = await session.scalar(
            select(JourneyRecord).where(JourneyRecord.workflow_id == workflow_id)
        )
        if record is not None and record.status == "running":
            record.status, record.ended_at = "ended", at or datetime.now(UTC)
            record.outcome = outcome
            await record_event_async(
                session,
                JOURNEY_ENDED,
                workflow_id,
                {"workflow_id": workflow_id},
                customer_pk=record.customer_id,
                at=record.ended_at,
            )


# How a journey Temporal closed without telling the store ended, in the store's words.
CLOSED_OUTCOMES: dict[WorkflowExecutionStatus, str] = {
    WorkflowExecutionStatus.COMPLETED: "completed",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.CANCELED: "cancelled",
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.TIMED_OUT: "timed_out",
}
# Closed executions asked for at once by `reconcile_closed`.
_PAGE = 500


async def reconcile_journeys(
    db: Database, client: Client, records: Iterable[JourneyRecord]
) -> list[str]:
    """Make the store agree with Temporal about journeys the store believes running.

    A journey that failed, timed out, or was terminated or cancelled outside careflow
    (the Temporal UI, `temporal workflow terminate`) never records its own outcome;
    each such journey is marked ended with that outcome (`failed`, `terminated`, ...)
    at the time Temporal closed it. Returns the ids of the journeys it marked.

    A journey Temporal does not know is left as it is: that is as likely a client
    pointed at another namespace or cluster as a journey past its retention, and
    ending every journey because of a wrong address would be worse than waiting.
    """
    marked: list[str] = []
    for record in records:
        try:
            description = await client.get_workflow_handle(record.workflow_id).describe()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            continue
        outcome = CLOSED_OUTCOMES.get(description.status) if description.status else None
        if outcome is None:
            continue  # running (or continued as new: still the same journey)
        await mark_journey_ended(db, record.workflow_id, outcome=outcome, at=description.close_time)
        marked.append(record.workflow_id)
    return marked


async def reconcile_customer(db: Database, client: Client, customer_external_id: str) -> list[str]:
    """`reconcile_journeys` for one customer's running journeys, before showing them.

    When Temporal cannot be reached the store's view is shown as it is (a page that
    reads the store must not fail because Temporal is down); the next read or the
    daily scan reconciles.
    """
    try:
        return await reconcile_journeys(
            db, client, await running_journeys(db, customer_external_id)
        )
    except RPCError as error:
        log.warning("journeys not reconciled with Temporal: %s", error.message)
        return []


async def reconcile_closed(db: Database, client: Client, since: datetime) -> list[str]:
    """Reconcile every journey Temporal closed abnormally since `since`, in one listing.

    The daily scan calls this, so a journey that failed or was terminated outside
    careflow is shown as such even when nobody opens its customer's timeline. One
    visibility query finds the few abnormal closes instead of describing every
    running journey.
    """
    query = (
        "ExecutionStatus IN ('Failed', 'Terminated', 'TimedOut', 'Canceled') "
        f"AND CloseTime >= '{since.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}'"
    )
    closed = [execution.id async for execution in client.list_workflows(query, page_size=_PAGE)]
    records: list[JourneyRecord] = []
    async with db.session() as session:
        for first in range(0, len(closed), _PAGE):
            records += await session.scalars(
                select(JourneyRecord).where(
                    JourneyRecord.workflow_id.in_(closed[first : first + _PAGE]),
                    JourneyRecord.status == "running",
                )
            )
    return await reconcile_journeys(db, client, records)
