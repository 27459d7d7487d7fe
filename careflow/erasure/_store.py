"""Erasure in the store: the customer's rows, found, closed, cleared and pseudonymised."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Table, Text, cast, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import FromClause

from careflow.erasure._files import local_part
from careflow.erasure._scrub import Scrubber
from careflow.outreach.envelope import message_id_for
from careflow.staffwork.states import ACTIVE
from careflow.store import (
    AuditEntry,
    Base,
    Complaint,
    Consent,
    Customer,
    CustomerTag,
    CustomEvent,
    Database,
    Event,
    JourneyRecord,
    Order,
    OutreachLedger,
    SurveyResponse,
    Task,
    WebhookDelivery,
)
from careflow.workflows.ids import event_workflow_id

ERASED = "erased"


@dataclass(frozen=True)
class StoreErasure:
    """What erasure did in the store."""

    events_deleted: int
    tasks_closed: int


async def erase_rows(
    db: Database,
    customer_pk: int,
    customer_id: str,
    anonymous: str,
    workflow_ids: set[str],
    scrubber: Scrubber,
    now: datetime,
) -> StoreErasure:
    """In one transaction: delete, close, clear and pseudonymise everything of the customer."""
    async with db.session() as session:
        events = await session.execute(
            delete(Event).where(Event.customer_external_id == customer_id)
        )
        # Declared events' properties may be anything the business sent: gone with the events.
        await session.execute(delete(CustomEvent).where(CustomEvent.customer_id == customer_pk))
        await session.execute(delete(Consent).where(Consent.customer_id == customer_pk))
        await session.execute(delete(CustomerTag).where(CustomerTag.customer_id == customer_pk))
        tasks_closed = await close_tasks(session, customer_pk, workflow_ids, now)
        # Free text the person wrote or that describes them: gone, not pseudonymised.
        await session.execute(
            update(SurveyResponse)
            .where(SurveyResponse.customer_id == customer_pk)
            .values(comment=None)
        )
        await session.execute(
            update(Complaint)
            .where(Complaint.customer_id == customer_pk)
            .values(subject=None, response_note=None)
        )
        # Staff's notes on the customer's tasks describe them too.
        await session.execute(
            update(Task).where(owned(Task.__table__, customer_pk, workflow_ids)).values(note=None)
        )
        await session.execute(
            update(Order).where(Order.customer_id == customer_pk).values(items=None)
        )
        await session.execute(
            update(OutreachLedger)
            .where(owned(OutreachLedger.__table__, customer_pk, workflow_ids))
            .values(message_id=None)
        )
        for table in Base.metadata.sorted_tables:
            await scrub_table(session, table, customer_pk, workflow_ids, scrubber)
        customer = await session.get(Customer, customer_pk)
        assert customer is not None
        customer.external_id = anonymous
        customer.name = customer.email = customer.phone = None
        customer.birthday = None
        customer.account_manager = None
        customer.erased_at = customer.updated_at = now
    return StoreErasure(int(getattr(events, "rowcount", 0) or 0), tasks_closed)


async def workflow_ids(db: Database, customer_pk: int, customer_id: str) -> set[str]:
    """Every workflow careflow started for the customer: journeys and event workflows."""
    async with db.session() as session:
        found: set[str] = set()
        for column, owner in (
            (JourneyRecord.workflow_id, JourneyRecord.customer_id),
            (OutreachLedger.workflow_id, OutreachLedger.customer_id),
            (Task.workflow_id, Task.customer_id),
            (SurveyResponse.workflow_id, SurveyResponse.customer_id),
        ):
            found.update(
                value
                for value in await session.scalars(select(column).where(owner == customer_pk))
                if value
            )
        found.update(
            event_workflow_id(event_id)
            for event_id in await session.scalars(
                select(Event.event_id).where(Event.customer_external_id == customer_id)
            )
        )
    return found


async def message_ids(db: Database, customer_pk: int, workflow_ids: set[str]) -> set[str]:
    """The Message-IDs (their part before `@`) of every email to or about the customer."""
    async with db.session() as session:
        ledger = await session.scalars(
            select(OutreachLedger.message_id).where(
                owned(OutreachLedger.__table__, customer_pk, workflow_ids)
            )
        )
        # Staff notifications derive theirs from the task key, as the ledger does.
        keys = await session.scalars(
            select(Task.idempotency_key).where(owned(Task.__table__, customer_pk, workflow_ids))
        )
        return {local_part(value) for value in ledger if value} | {
            local_part(message_id_for(key, "")) for key in keys
        }


def owned(table: FromClause, customer_pk: int, workflow_ids: set[str]) -> Any:
    """The rows of `table` that are the customer's (by customer or by their workflows)."""
    conditions = []
    if "customer_id" in table.c:
        conditions.append(table.c.customer_id == customer_pk)
    if "workflow_id" in table.c and workflow_ids:
        conditions.append(table.c.workflow_id.in_(sorted(workflow_ids)))
    return or_(*conditions) if conditions else None


async def close_tasks(
    session: AsyncSession, customer_pk: int, workflow_ids: set[str], now: datetime
) -> int:
    """Close the customer's open tasks as `erased`; how many were open."""
    result = await session.execute(
        update(Task)
        .where(owned(Task.__table__, customer_pk, workflow_ids), Task.status.in_(ACTIVE))
        .values(status=ERASED, completed_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# Tables whose rows are found by what they say, not by a customer or workflow column.
_SEARCHED: dict[str, tuple[str, ...]] = {
    AuditEntry.__tablename__: ("target", "details"),
    WebhookDelivery.__tablename__: ("body",),
}


async def scrub_table(
    session: AsyncSession,
    table: Table,
    customer_pk: int,
    workflow_ids: set[str],
    scrubber: Scrubber,
) -> None:
    """Rewrite every text and JSON column of the customer's rows in `table`."""
    columns = [
        column
        for column in table.c
        if isinstance(column.type, String | Text | JSON) and not column.primary_key
    ]
    if not columns:
        return
    searched = _SEARCHED.get(table.name)
    if searched is not None:
        # Audit entries name customers and journeys in their target and details, and
        # webhook bodies (built for the CRM) the customer's id: candidates by
        # substring, then only those that really name the person.
        where = or_(
            *(
                cast(table.c[name], Text).contains(value)
                for name in searched
                for value in scrubber.search_terms()
            )
        )
    elif table is Customer.__table__:
        return  # the customer row itself is rewritten field by field
    else:
        where = owned(table, customer_pk, workflow_ids)
        if where is None:
            return
    rows = (await session.execute(select(table.c.id, *columns).where(where))).all()
    if searched is not None:
        rows = [
            row
            for row in rows
            if any(scrubber.names_them(json.dumps(getattr(row, c.name))) for c in columns)
        ]
    for row in rows:
        changes = {}
        for column in columns:
            old = getattr(row, column.name)
            if old is None:
                continue
            new = scrubber.value(old)
            if new != old:
                changes[column.name] = new
        if changes:
            await session.execute(update(table).where(table.c.id == row.id).values(**changes))
