"""`GET /tasks`: staff tasks and notifications the journeys created, newest first.

Call tasks, escalated and reopened complaints, and staff emails are rows of the
`tasks` table (see activities/tasks.py); this is how staff and dashboards see them.
Staff act on them with `POST /tasks/{id}/...` (careflow/api/staff.py).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel

from careflow.api.state import State
from careflow.staffwork.listing import find_tasks


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
    assigned_at: datetime | None
    closed_by: str | None
    outcome: str | None
    note: str | None
    overdue: bool


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
    overdue: bool = Query(default=False, description="only tasks still to do past their due time"),
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[TaskOut]:
    """Tasks matching every filter given, newest first."""
    found = await find_tasks(
        state.db,
        status=status,
        assignee=assignee,
        kind=kind,
        customer_id=customer_id,
        overdue=overdue,
        limit=limit,
    )
    return [TaskOut(**asdict(task)) for task in found]
