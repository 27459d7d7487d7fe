"""A complaint's first response by staff, and resolving a complaint on staff's word.

The first response stops the complaint's response clock: it is stored on the
complaint (who, when, a note), the agents' "respond to complaint" task closes as
done, the audit log has it, and the complaint's journey hears `complaint_responded`,
which meets its response target (workflows/complaint_escalation.py). A response after
the target was missed changes nothing on the ladder: that breach was escalated once
when it happened. Later responses are conversation, not the first response: they
change nothing stored.

Resolving goes through the intake as a `complaint_resolved` event, exactly as the
business's own systems report it, so the rules, the journey and the KPIs see one kind
of resolution.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from careflow.console.audit import add_audit_entry, record_audit
from careflow.intake.events import EventIn, accept_event
from careflow.journeys import running_journeys, signal_journeys
from careflow.staffwork.states import ACTIVE, DONE
from careflow.staffwork.tasks import MAX_NOTE_LENGTH, TaskActionError
from careflow.store import Complaint, Customer, Database, Task

COMPLAINT_RESPONDED = "complaint_responded"
COMPLAINT_RESOLVED = "complaint_resolved"
RESPONDED_SIGNAL = "complaint_responded"
COMPLAINT_JOURNEY = "complaint_escalation"
# The task the complaint journey opens for the agents: "respond to complaint X".
RESPONSE_TASK_KIND = "complaint"
# The outcome the response task closes with.
RESPONSE_OUTCOME = "reached"


@dataclass(frozen=True)
class ComplaintResponse:
    """The complaint's first response (this one, or the earlier one that stands)."""

    complaint_id: str
    customer_id: str
    responded_at: datetime
    responded_by: str
    first: bool
    journeys_told: tuple[str, ...]


async def respond_to_complaint(
    db: Database,
    client: Client,
    complaint_id: str,
    *,
    actor: str,
    person: str,
    note: str = "",
    now: datetime | None = None,
) -> ComplaintResponse:
    """Record the first response to the complaint and tell its journey.

    Raises `TaskActionError` (`not_found`, `person`, `note_long`). Repeating it is
    safe: the first response stands, and the journey is told again (a signal it
    ignores once met), so a retry after Temporal was unreachable still reaches it.
    """
    person, note = person.strip(), note.strip()
    if not person or len(person) > 64:
        raise TaskActionError("person", "by must be 1 to 64 characters", field="by")
    if len(note) > MAX_NOTE_LENGTH:
        raise TaskActionError(
            "note_long", f"note must be at most {MAX_NOTE_LENGTH} characters", field="note"
        )
    now = now or datetime.now(UTC)
    async with db.session() as session:
        found = (
            await session.execute(
                select(Complaint, Customer.external_id)
                .join(Customer, Customer.id == Complaint.customer_id)
                .where(Complaint.external_id == complaint_id, Customer.erased_at.is_(None))
            )
        ).first()
        if found is None:
            raise TaskActionError("not_found", f"no complaint {complaint_id!r}")
        complaint, customer_id = found
        first = complaint.responded_at is None
        if first:
            complaint.responded_at, complaint.responded_by = now, person
            complaint.response_note = note or None
            closed = await _close_response_tasks(session, complaint.id, person, note, now)
            add_audit_entry(
                session,
                actor,
                COMPLAINT_RESPONDED,
                f"complaint {complaint_id}",
                {"customer": customer_id, "by": person, "note": note or None, "tasks": closed},
                at=now,
            )
        responded_at, responded_by = complaint.responded_at, complaint.responded_by
    assert responded_at is not None
    assert responded_by is not None
    records = await running_journeys(
        db, customer_id, journeys=[COMPLAINT_JOURNEY], subject=complaint_id
    )
    told = await signal_journeys(db, client, records, RESPONDED_SIGNAL)
    return ComplaintResponse(
        complaint_id, customer_id, responded_at, responded_by, first, tuple(told)
    )


async def _close_response_tasks(
    session: AsyncSession, complaint_pk: int, person: str, note: str, now: datetime
) -> list[int]:
    """Close the agents' open "respond to complaint" tasks as done; their ids."""
    tasks = list(
        await session.scalars(
            select(Task).where(
                Task.complaint_id == complaint_pk,
                Task.kind == RESPONSE_TASK_KIND,
                Task.status.in_(ACTIVE),
            )
        )
    )
    for task in tasks:
        task.status, task.outcome, task.closed_by, task.completed_at = (
            DONE,
            RESPONSE_OUTCOME,
            person,
            now,
        )
        task.note = note or None
    return [task.id for task in tasks]


async def resolve_complaint(
    db: Database,
    client: Client,
    task_queue: str,
    complaint_id: str,
    *,
    actor: str,
    note: str = "",
) -> str:
    """Resolve the complaint as staff say (a `complaint_resolved` event); its event id.

    Raises `TaskActionError` (`not_found`, `closed` when it is resolved already).
    """
    note = note.strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise TaskActionError(
            "note_long", f"note must be at most {MAX_NOTE_LENGTH} characters", field="note"
        )
    async with db.session() as session:
        found = (
            await session.execute(
                select(Complaint.status, Customer.external_id)
                .join(Customer, Customer.id == Complaint.customer_id)
                .where(Complaint.external_id == complaint_id, Customer.erased_at.is_(None))
            )
        ).first()
    if found is None:
        raise TaskActionError("not_found", f"no complaint {complaint_id!r}")
    status, customer_id = found
    if status == "resolved":
        raise TaskActionError("closed", f"complaint {complaint_id!r} is resolved already")
    event = EventIn(
        type="complaint_resolved",
        customer_id=customer_id,
        occurred_at=datetime.now(UTC),
        event_id=f"staff-{uuid.uuid4()}",
        data={"complaint_id": complaint_id},
    )
    accepted = await accept_event(db, client, task_queue, event)
    await record_audit(
        db,
        actor,
        COMPLAINT_RESOLVED,
        f"complaint {complaint_id}",
        {"customer": customer_id, "note": note or None, "event_id": accepted.event_id},
    )
    return accepted.event_id
