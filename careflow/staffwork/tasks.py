"""A staff task's lifecycle: claim, assign (and reassign), complete with an outcome, cancel.

```
open --claim/assign--> assigned --complete--> done (outcome, note)
  |                      |   ^--assign (reassign)
  +------cancel----------+--cancel--> cancelled (note)
```

Each action changes the row and writes its audit entry in one transaction, so a
change is never without its entry. Afterwards the journey that opened the task is
told how it ended (the `task_closed` signal, with the outcome code, never the note)
when that journey listens for it: a completed "call the VIP" task ends the retention
offer's wait for it. Notifications (staff emails) are rows of the same table but are
not work to act on; their statuses are not in `ACTIVE`, so they cannot be acted on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from careflow.console.audit import add_audit_entry
from careflow.contracts.tasks import TASK_CLOSED, TaskClosed
from careflow.journeys import signal_journeys
from careflow.staffwork.states import ACTIVE, ASSIGNED, CANCELLED, DONE, TASK_OUTCOMES
from careflow.store import Customer, Database, JourneyRecord, Task
from careflow.workflows.registry import JOURNEYS

# Audit actions, as the console's audit page shows and filters them.
TASK_CLAIMED = "task_claimed"
TASK_ASSIGNED = "task_assigned"
TASK_COMPLETED = "task_completed"
TASK_CANCELLED = "task_cancelled"
# Long enough for "phoned 2026-11-23 10:05, she will order next week"; the note is kept
# on the task and in the audit log.
MAX_NOTE_LENGTH = 500
# Who acted (as the audit log and `closed_by` keep it) and whom a task is for (a person
# or an address, as journeys assign them).
MAX_PERSON_LENGTH = 64
MAX_ASSIGNEE_LENGTH = 320
# A due time staff can mean (and that converts to UTC without overflowing).
MIN_DUE_YEAR, MAX_DUE_YEAR = 1900, 2999


class TaskActionError(ValueError):
    """An action that cannot be done; `code` says why, `field` names the input at fault.

    Codes: `not_found`, `closed` (done or cancelled already), `taken` (someone else
    has it), `outcome`, `person`, `note_long`, `due` (a due time without an offset).
    """

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        self.code = code
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class TaskChange:
    """What an action left: the task's status and assignee, and the journeys told."""

    task_id: int
    action: str
    status: str
    assignee: str | None
    outcome: str | None
    changed: bool
    journeys_told: tuple[str, ...] = ()


async def claim_task(db: Database, task_id: int, *, actor: str, person: str) -> TaskChange:
    """`person` takes the open task; claiming one's own task again changes nothing."""
    person = _person(person, "person")
    async with db.session() as session:
        task = await _active_task(session, task_id)
        if task.status == ASSIGNED and task.assignee == person:
            return _change(task, TASK_CLAIMED, changed=False)
        if task.status == ASSIGNED:
            raise TaskActionError(
                "taken",
                f"task {task_id} is assigned to {task.assignee}; assign it to reassign it",
            )
        before = task.assignee
        task.status, task.assignee, task.assigned_at = ASSIGNED, person, _now()
        await _audit(session, task, actor, TASK_CLAIMED, {"from": before, "to": person})
        return _change(task, TASK_CLAIMED)


async def assign_task(
    db: Database,
    task_id: int,
    *,
    actor: str,
    assignee: str,
    due_at: datetime | None = None,
) -> TaskChange:
    """Give the task to `assignee` (a reassignment when someone has it), optionally with
    a new due time."""
    assignee = _person(assignee, "assignee", MAX_ASSIGNEE_LENGTH)
    if due_at is not None and due_at.tzinfo is None:
        raise TaskActionError("due", "due_at needs a UTC offset", field="due_at")
    if due_at is not None and not MIN_DUE_YEAR <= due_at.year <= MAX_DUE_YEAR:
        raise TaskActionError(
            "due", f"due_at must be in the years {MIN_DUE_YEAR}-{MAX_DUE_YEAR}", field="due_at"
        )
    async with db.session() as session:
        task = await _active_task(session, task_id)
        before, before_due = task.assignee, task.due_at
        if task.status == ASSIGNED and before == assignee and due_at in (None, before_due):
            return _change(task, TASK_ASSIGNED, changed=False)
        task.status, task.assignee, task.assigned_at = ASSIGNED, assignee, _now()
        details: dict[str, Any] = {"from": before, "to": assignee}
        if due_at is not None:
            task.due_at = due_at
            details["due_at"] = due_at.isoformat()
            details["due_at_before"] = before_due.isoformat() if before_due else None
        await _audit(session, task, actor, TASK_ASSIGNED, details)
        return _change(task, TASK_ASSIGNED)


async def complete_task(
    db: Database,
    client: Client,
    task_id: int,
    *,
    actor: str,
    person: str,
    outcome: str,
    note: str = "",
) -> TaskChange:
    """Close the task as done with `outcome` (one of `TASK_OUTCOMES`) and a note; the
    journey that opened it learns the outcome."""
    if outcome not in TASK_OUTCOMES:
        raise TaskActionError(
            "outcome",
            f"outcome must be one of {', '.join(TASK_OUTCOMES)}, not {outcome!r}",
            field="outcome",
        )
    async with db.session() as session:
        if await session.scalar(select(Task.kind).where(Task.id == task_id)) == "approval":
            raise TaskActionError(
                "outcome", "an approval is approved or rejected, not completed", field="outcome"
            )
    return await _close(db, client, task_id, DONE, TASK_COMPLETED, actor, person, outcome, note)


async def cancel_task(
    db: Database, client: Client, task_id: int, *, actor: str, person: str, note: str = ""
) -> TaskChange:
    """Close the task as cancelled (no longer needed), with a note saying why."""
    return await _close(db, client, task_id, CANCELLED, TASK_CANCELLED, actor, person, None, note)


async def _close(
    db: Database,
    client: Client,
    task_id: int,
    status: str,
    action: str,
    actor: str,
    person: str,
    outcome: str | None,
    note: str,
) -> TaskChange:
    person = _person(person, "person")
    note = _note(note)
    async with db.session() as session:
        task = await _active_task(session, task_id)
        task.status, task.outcome, task.note = status, outcome, note or None
        task.closed_by, task.completed_at = person, _now()
        await _audit(
            session, task, actor, action, {"by": person, "outcome": outcome, "note": note or None}
        )
        change = _change(task, action)
        workflow_id, key = task.workflow_id, task.idempotency_key
    told = await _tell_journey(
        db, client, workflow_id, key, TaskClosed(step_id="", status=status, outcome=outcome)
    )
    return replace(change, journeys_told=tuple(told))


async def _tell_journey(
    db: Database, client: Client, workflow_id: str | None, key: str, closed: TaskClosed
) -> list[str]:
    """Signal `task_closed` to the running journey that opened the task, if it listens."""
    if not workflow_id or not key.startswith(f"{workflow_id}/"):
        return []
    listening = [name for name, journey in JOURNEYS.items() if TASK_CLOSED in journey.staff_signals]
    async with db.session() as session:
        records = list(
            await session.scalars(
                select(JourneyRecord).where(
                    JourneyRecord.workflow_id == workflow_id,
                    JourneyRecord.status == "running",
                    JourneyRecord.journey.in_(listening),
                )
            )
        )
    step_id = key[len(workflow_id) + 1 :]
    signal = TaskClosed(step_id=step_id, status=closed.status, outcome=closed.outcome)
    return await signal_journeys(db, client, records, TASK_CLOSED, signal)


async def _active_task(session: AsyncSession, task_id: int) -> Task:
    task = await session.get(Task, task_id, with_for_update=True)
    if task is None:
        raise TaskActionError("not_found", f"no task {task_id}")
    if task.status not in ACTIVE:
        raise TaskActionError(
            "closed", f"task {task_id} is {task.status}; only open or assigned tasks can change"
        )
    return task


async def _audit(
    session: AsyncSession, task: Task, actor: str, action: str, details: dict[str, Any]
) -> None:
    customer = (
        await session.scalar(select(Customer.external_id).where(Customer.id == task.customer_id))
        if task.customer_id is not None
        else None
    )
    add_audit_entry(
        session,
        actor,
        action,
        f"task {task.id}",
        {"kind": task.kind, "customer": customer, "workflow_id": task.workflow_id, **details},
    )


def _change(task: Task, action: str, *, changed: bool = True) -> TaskChange:
    return TaskChange(task.id, action, task.status, task.assignee, task.outcome, changed)


def _person(value: str, field: str, limit: int = MAX_PERSON_LENGTH) -> str:
    value = value.strip()
    if not value or len(value) > limit:
        raise TaskActionError("person", f"{field} must be 1 to {limit} characters", field=field)
    return value


def _note(value: str) -> str:
    value = value.strip()
    if len(value) > MAX_NOTE_LENGTH:
        raise TaskActionError(
            "note_long", f"note must be at most {MAX_NOTE_LENGTH} characters", field="note"
        )
    return value


def _now() -> datetime:
    return datetime.now(UTC)
