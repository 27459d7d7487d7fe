"""Finding tasks: the one query behind `GET /tasks`, the console's Tasks page and
`careflow tasks list`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import aliased

from careflow.staffwork.states import ACTIVE
from careflow.store import Complaint, Customer, Database, Task


@dataclass(frozen=True)
class TaskView:
    """A task as staff see it: business ids instead of row keys, and whether it is overdue."""

    id: int
    kind: str
    assignee: str | None
    customer_id: str | None
    complaint_id: str | None
    workflow_id: str | None
    title: str
    due_at: datetime | None
    status: str
    created_at: datetime
    completed_at: datetime | None
    assigned_at: datetime | None
    closed_by: str | None
    outcome: str | None
    note: str | None
    overdue: bool


async def find_tasks(
    db: Database,
    *,
    status: str | None = None,
    assignee: str | None = None,
    kind: str | None = None,
    customer_id: str | None = None,
    overdue: bool = False,
    limit: int = 100,
    now: datetime | None = None,
) -> list[TaskView]:
    """Tasks matching every filter given, newest first; `overdue`: only those still to do
    and past their due time."""
    now = now or datetime.now(UTC)
    case = aliased(Complaint)
    query = (
        select(Task, Customer.external_id, case.external_id)
        .outerjoin(Customer, Customer.id == Task.customer_id)
        .outerjoin(case, case.id == Task.complaint_id)
        .order_by(Task.created_at.desc(), Task.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(Task.status == status)
    if assignee is not None:
        query = query.where(Task.assignee == assignee)
    if kind is not None:
        query = query.where(Task.kind == kind)
    if customer_id is not None:
        query = query.where(Customer.external_id == customer_id)
    if overdue:
        query = query.where(Task.status.in_(ACTIVE), Task.due_at < now)
    async with db.session() as session:
        rows = (await session.execute(query)).all()
    return [
        TaskView(
            id=task.id,
            kind=task.kind,
            assignee=task.assignee,
            customer_id=customer,
            complaint_id=complaint,
            workflow_id=task.workflow_id,
            title=task.title,
            due_at=task.due_at,
            status=task.status,
            created_at=task.created_at,
            completed_at=task.completed_at,
            assigned_at=task.assigned_at,
            closed_by=task.closed_by,
            outcome=task.outcome,
            note=task.note,
            overdue=is_overdue(task.status, task.due_at, now),
        )
        for task, customer, complaint in rows
    ]


def is_overdue(status: str, due_at: datetime | None, now: datetime) -> bool:
    """Still to do and past its due time."""
    return due_at is not None and status in ACTIVE and due_at < now
