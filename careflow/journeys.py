"""Finding and signalling a customer's running journeys (the `journeys` table's job).

Used by the dispatcher (rule intents that signal a journey), by opt-outs and by
erasure, so a journey in flight learns what happened at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from careflow.store import Customer, Database, JourneyRecord


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
