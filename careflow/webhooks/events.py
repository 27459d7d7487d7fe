"""careflow's own events, as subscribers hear them: one `outbound_events` row each.

The row is written in the same transaction as the change it reports (a message's
ledger outcome, a task, a journey's start or end, a consent), keyed by what it is
about, so a retried activity or a replayed step never writes a second one and a
crash never loses one. The delivery loop (careflow/webhooks/dispatcher.py) fans
each row out to the endpoints and staff robots subscribed at that moment.

An event's `data` holds references (ledger key, task key, workflow id), never
personal data: the payload is built from the store when it is fanned out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from careflow.store.models import OutboundEvent

JOURNEY_STARTED: Final = "journey.started"
JOURNEY_ENDED: Final = "journey.ended"
MESSAGE_SENT: Final = "message.sent"
MESSAGE_FAILED: Final = "message.failed"
TASK_CREATED: Final = "task.created"
CONSENT_CHANGED: Final = "consent.changed"
# Every event type an endpoint may subscribe to, in the order the docs list them.
EVENT_TYPES: Final = (
    JOURNEY_STARTED,
    JOURNEY_ENDED,
    MESSAGE_SENT,
    MESSAGE_FAILED,
    TASK_CREATED,
    CONSENT_CHANGED,
)
# What a rule's `webhook: NAME` action sends.
RULE_FIRED: Final = "rule.fired"


def event_row(
    event_type: str, key: str, data: dict[str, Any], *, customer_pk: int | None, at: datetime
) -> dict[str, Any]:
    """The `outbound_events` row of one event; `key` says what it is about, uniquely."""
    return {
        "event_key": f"{event_type}/{key}",
        "type": event_type,
        "data": data,
        "customer_id": customer_pk,
        "occurred_at": at,
    }


def _insert(dialect_name: str, row: dict[str, Any]) -> Any:
    dialect = sqlite if dialect_name == "sqlite" else postgresql
    return (
        dialect.insert(OutboundEvent)
        .values(**row)
        .on_conflict_do_nothing(index_elements=["event_key"])
    )


# `record_event`'s statement, built once per dialect (the send step writes one event a
# message): on the table, so executing it skips the ORM's handling of `values()`, and
# with the row as parameters, so its compiled form is reused.
_INSERT_ROW = {
    name: dialect.insert(OutboundEvent.__table__).on_conflict_do_nothing(
        index_elements=["event_key"]
    )
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}


def record_event(
    connection: Connection,
    event_type: str,
    key: str,
    data: dict[str, Any],
    *,
    customer_pk: int | None,
    at: datetime,
) -> None:
    """Write the event in the connection's transaction, once per key (synchronous: the
    send step's transaction runs in a thread of its own on SQLite)."""
    row = event_row(event_type, key, data, customer_pk=customer_pk, at=at)
    connection.execute(_INSERT_ROW[connection.dialect.name], row)


async def record_event_async(
    session: AsyncSession,
    event_type: str,
    key: str,
    data: dict[str, Any],
    *,
    customer_pk: int | None,
    at: datetime,
) -> None:
    """`record_event` in an async session's transaction."""
    row = event_row(event_type, key, data, customer_pk=customer_pk, at=at)
    await session.execute(_insert(session.get_bind().dialect.name, row))
