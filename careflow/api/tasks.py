"""`GET /tasks`: staff tasks and notifications the journeys created, newest first.

Call tasks, escalated and reopened complaints, and staff emails are rows of the
`tasks` table (see activities/tasks.py); this is how staff and dashboards see them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import aliased

from careflow.api.state import State
from careflow.staffwork.tasks import is_overdue
from careflow.store import Complaint, Customer, Task


class TaskOut(BaseModel):
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
    # The staff loop (careflow/staffwork/tasks.py).
    assigned_at: datetime | None = None
    closed_by: str | None = None
    outcome: str | None = None
    note: str | None = None
    overdue: bool = False


router = APIRouter()


@router.get("/tasks", response_model=list[TaskOut])
async def list_tasks(
    state: State,
    status: str | None = Query(
        default=None, description="open, assigned, done, cancelled, sent, failed, ..."
    ),
    assignee: str | None = Query(default=None, description="the staff member's address"),
    kind: str | None = Query(default=None, description="call, complaint, escalation, ..."),
    customer_id: str | None = Query(default=None, description="the customer's external id"),
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[TaskOut]:
    """Tasks matching every filter given, newest first."""
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
    async with state.db.session() as session:
        rows = (await session.execute(query)).all()
    now = datetime.now(UTC)
    return [
        TaskOut(
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
            overdue=is_overdue(task, now),
        )
        for task, customer, complaint in rows
    ]
