"""The console's staff actions (POST, operators and admins): claim, assign, complete or
cancel a task; respond to or resolve a complaint. Viewers are refused (and that refusal
audited) by `require_form`; each action is `careflow.staffwork`'s, audited there with
the console user as the actor.

`customer_work` gives the customer page its tasks and complaints to act on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlalchemy import select

from careflow.api.limits import RowId
from careflow.api.state import ApiState
from careflow.console.roles import Role
from careflow.console.web import (
    PREFIX,
    FormVisit,
    Visit,
    redirect,
    render,
    require,
    require_form,
)
from careflow.staffwork.approvals import APPROVAL_KIND, decide_approval
from careflow.staffwork.complaints import resolve_complaint, respond_to_complaint
from careflow.staffwork.listing import find_tasks
from careflow.staffwork.states import ACTIVE
from careflow.staffwork.tasks import (
    TaskActionError,
    assign_task,
    cancel_task,
    claim_task,
    complete_task,
)
from careflow.store import Complaint, Customer

router = APIRouter(prefix=PREFIX, include_in_schema=False)

OperatorForm = Annotated[FormVisit, Depends(require_form(Role.OPERATOR))]
Viewer = Annotated[Visit, Depends(require(Role.VIEWER))]
_STATUS = {"not_found": 404, "closed": 409, "taken": 409}


def _back(submitted: FormVisit) -> str:
    """Where the action was started: a customer's page, or the Tasks page."""
    customer = submitted.field("back")
    if customer:
        return f"{PREFIX}/customers/{quote(customer, safe='')}"
    return f"{PREFIX}/tasks"


def _due(value: str) -> datetime | None:
    """The form's due time (a browser's datetime-local, read as UTC, as the pages show)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise TaskActionError("due", f"not a time: {value!r}", field="due") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _acted(
    current: Visit, back: str, act: Callable[[], Awaitable[object]], *, done: str
) -> Response:
    """Run a staff action, then back to where it started with the `done` notice, or the
    page saying why it was refused. `act` reads the form itself, so a field that does
    not parse (a due time) is refused the same way."""
    try:
        await act()
    except TaskActionError as error:
        return _refused(current, error, back)
    return redirect(current, f"{back}?done={done}")


def _refused(current: Visit, error: TaskActionError, back: str) -> Response:
    return render(
        current,
        "staff_problem.html.j2",
        {"code": error.code, "back": back},
        status=_STATUS.get(error.code, 400),
    )


@router.post("/tasks/{task_id}/claim")
async def claim(submitted: OperatorForm, task_id: RowId) -> Response:
    """The console user takes the task."""
    current, back = submitted.visit, _back(submitted)
    return await _acted(
        current,
        back,
        lambda: claim_task(current.api.db, task_id, actor=current.actor, person=current.actor),
        done="task_claimed",
    )


@router.post("/tasks/{task_id}/assign")
async def assign(submitted: OperatorForm, task_id: RowId) -> Response:
    """Give the task to someone else (a reassignment when someone has it)."""
    current, back = submitted.visit, _back(submitted)
    return await _acted(
        current,
        back,
        lambda: assign_task(
            current.api.db,
            task_id,
            actor=current.actor,
            assignee=submitted.field("assignee"),
            due_at=_due(submitted.field("due")),
        ),
        done="task_assigned",
    )


@router.post("/tasks/{task_id}/complete")
async def complete(submitted: OperatorForm, task_id: RowId) -> Response:
    """Close the task as done with the outcome and note chosen; its journey learns it."""
    current, back = submitted.visit, _back(submitted)
    return await _acted(
        current,
        back,
        lambda: complete_task(
            current.api.db,
            current.api.client,
            task_id,
            actor=current.actor,
            person=current.actor,
            outcome=submitted.field("outcome"),
            note=submitted.field("note"),
        ),
        done="task_completed",
    )


@router.post("/tasks/{task_id}/cancel")
async def cancel(submitted: OperatorForm, task_id: RowId) -> Response:
    """Close the task as no longer needed."""
    current, back = submitted.visit, _back(submitted)
    return await _acted(
        current,
        back,
        lambda: cancel_task(
            current.api.db,
            current.api.client,
            task_id,
            actor=current.actor,
            person=current.actor,
            note=submitted.field("note"),
        ),
        done="task_cancelled",
    )


@router.post("/complaints/{complaint_id}/respond")
async def respond(submitted: OperatorForm, complaint_id: str) -> Response:
    """The console user responded to the complaint: its response clock stops."""
    current, back = submitted.visit, _back(submitted)
    return await _acted(
        current,
        back,
        lambda: respond_to_complaint(
            current.api.db,
            current.api.client,
            complaint_id,
            actor=current.actor,
            person=current.actor,
            note=submitted.field("note"),
        ),
        done="complaint_responded",
    )


@router.post("/complaints/{complaint_id}/resolve")
async def resolve(submitted: OperatorForm, complaint_id: str) -> Response:
    """Resolve the complaint (a `complaint_resolved` event, as from any system)."""
    current, back = submitted.visit, _back(submitted)
    return await _acted(
        current,
        back,
        lambda: resolve_complaint(
            current.api.db,
            current.api.client,
            current.api.task_queue,
            complaint_id,
            actor=current.actor,
            note=submitted.field("note"),
        ),
        done="complaint_resolved",
    )


@router.get("/approvals")
async def approvals_page(current: Viewer) -> Response:
    """What journeys wait on approvers for (offers above their value threshold)."""
    pending = [
        task
        for status in ACTIVE
        for task in await find_tasks(current.api.db, status=status, kind=APPROVAL_KIND, limit=500)
    ]
    return render(current, "approvals.html.j2", {"approvals": pending})


@router.post("/approvals/{task_id}")
async def decide(submitted: OperatorForm, task_id: RowId) -> Response:
    """Approve or reject; the journey goes on or ends without sending."""
    current, back = submitted.visit, f"{PREFIX}/approvals"
    decision = submitted.field("decision")
    try:
        if decision not in ("approve", "reject"):
            raise TaskActionError("outcome", "decide approve or reject", field="decision")
        await decide_approval(
            current.api.db,
            current.api.client,
            task_id,
            actor=current.actor,
            person=current.actor,
            approved=decision == "approve",
            reason=submitted.field("reason"),
        )
    except TaskActionError as error:
        return _refused(current, error, back)
    return redirect(current, f"{back}?done=approval_decided")


async def customer_work(api: ApiState, customer_id: str) -> dict[str, Any]:
    """The customer page's tasks (newest first) and complaints, for staff to act on."""
    tasks = await find_tasks(api.db, customer_id=customer_id, limit=200)
    async with api.db.session() as session:
        complaints = list(
            await session.scalars(
                select(Complaint)
                .join(Customer, Customer.id == Complaint.customer_id)
                .where(Customer.external_id == customer_id)
                .order_by(Complaint.opened_at.desc(), Complaint.id.desc())
            )
        )
    return {
        "tasks": [task for task in tasks if task.kind != "notification"],
        "complaints": complaints,
    }
