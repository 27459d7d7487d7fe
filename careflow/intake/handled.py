"""Marking an event handled: its rules run and their intents carried out (or the event
handed to its workflow). The event sweep (sweep.py) hands on any event left unmarked.

On the direct path the mark can ride in the last write the event makes anyway (the
evaluation's, when no rule fires; the journey's record, when the last intent starts
one): a `HandledMark` passed down is written there, in the same transaction, and
says so; otherwise the caller writes it on its own with `mark_handled`. One
transaction less per event (docs/benchmarks.md, issue 21 item 2, tenth round).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from careflow.store import Database, Event

_MARK_HANDLED = (
    update(Event)
    .where(Event.event_id == bindparam("marked_id"), Event.handled_at.is_(None))
    .values(handled_at=bindparam("marked_at"))
)


async def mark_handled(db: Database, event_id: str, at: datetime | None = None) -> None:
    """Mark the event's rules as run (or handed to its workflow): the sweep skips it."""
    # A Core statement built once, on a connection: an ORM session and its
    # bulk-update bookkeeping cost more than the statement.
    async with db.engine.begin() as connection:
        await _write(connection, event_id, at or datetime.now(UTC))


@dataclass
class HandledMark:
    """The mark of one event, to be written in a transaction that commits the event's
    last effect; `written` once that transaction committed with it."""

    event_id: str
    written: bool = False

    async def write_in(self, session: AsyncSession) -> None:
        """Add the mark to `session`'s transaction; call `committed` after it commits."""
        await _write(await session.connection(), self.event_id, datetime.now(UTC))

    def committed(self) -> None:
        self.written = True


async def _write(connection: AsyncConnection, event_id: str, at: datetime) -> None:
    await connection.execute(_MARK_HANDLED, {"marked_id": event_id, "marked_at": at})
