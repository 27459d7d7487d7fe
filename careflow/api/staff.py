"""Staff acting on their work through the API: tasks and complaint responses.

`POST /tasks/{id}/claim|assign|complete|cancel`, `POST /complaints/{id}/respond`,
`POST /complaints/{id}/resolve` and `POST /approvals/{task id}`. The API token says the
caller is staff, not who: each body names the person acting (`by`), and the audit log
records them as `api:<by>`. The actions themselves are `careflow.staffwork`'s, shared
with the console and the CLI.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from careflow.api.limits import RowId
from careflow.api.state import State
from careflow.intake.records import check_time_range
from careflow.staffwork.approvals import decide_approval
from careflow.staffwork.complaints import (
    ComplaintResponse,
    resolve_complaint,
    respond_to_complaint,
)
from careflow.staffwork.states import TASK_OUTCOMES
from careflow.staffwork.tasks import (
    MAX_ASSIGNEE_LENGTH,
    MAX_NOTE_LENGTH,
    MAX_PERSON_LENGTH,
    TaskActionError,
    TaskChange,
    assign_task,
    cancel_task,
    claim_task,
    complete_task,
)

router = APIRouter()

Person = Annotated[str, Field(min_length=1, max_length=MAX_PERSON_LENGTH)]
Note = Annotated[str, Field(max_length=MAX_NOTE_LENGTH)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    by: Person = Field(description="who is acting (a console user name or staff address)")


class ClaimIn(_Body):
    pass


class AssignIn(_Body):
    assignee: Annotated[str, Field(min_length=1, max_length=MAX_ASSIGNEE_LENGTH)]
    due_at: Annotated[datetime | None, AfterValidator(check_time_range)] = Field(
        default=None, description="a new due time (ISO 8601 with offset)"
    )


class CompleteIn(_Body):
    outcome: str = Field(description=f"one of {', '.join(TASK_OUTCOMES)}")
    note: Note = ""


class CancelIn(_Body):
    note: Note = ""


class RespondIn(_Body):
    note: Note = ""


class DecideIn(_Body):
    approved: bool = Field(description="true approves, false rejects")
    reason: Note = ""


class ApprovalDecided(BaseModel):
    task_id: int
    decision: str


class TaskChanged(BaseModel):
    task_id: int
    status: str
    assignee: str | None
    outcome: str | None
    changed: bool
    journeys_told: list[str]


class ComplaintResponded(BaseModel):
    complaint_id: str
    customer_id: str
    responded_at: datetime
    responded_by: str
    first: bool
    journeys_told: list[str]


class ComplaintResolved(BaseModel):
    complaint_id: str
    event_id: str


def _actor(by: str) -> str:
    return f"api:{by}"


def _refused(error: TaskActionError) -> HTTPException:
    """404 for an unknown task or complaint, 409 for one in the wrong state, else 422."""
    if error.code == "not_found":
        return HTTPException(status_code=404, detail=str(error))
    if error.code in ("closed", "taken"):
        return HTTPException(status_code=409, detail=str(error))
    location = ["body", error.field] if error.field else ["body"]
    return HTTPException(
        status_code=422, detail=[{"loc": location, "msg": str(error), "type": "value_error"}]
    )


def _task_changed(change: TaskChange) -> TaskChanged:
    return TaskChanged(
        task_id=change.task_id,
        status=change.status,
        assignee=change.assignee,
        outcome=change.outcome,
        changed=change.changed,
        journeys_told=list(change.journeys_told),
    )


_TASK_ERRORS: dict[int | str, dict[str, str]] = {
    404: {"description": "no such task"},
    409: {"description": "the task is closed, or someone else has it"},
}


@router.post("/tasks/{task_id}/claim", response_model=TaskChanged, responses=_TASK_ERRORS)
async def claim(task_id: RowId, body: ClaimIn, state: State) -> TaskChanged:
    """`by` takes an open task (claiming one's own again changes nothing)."""
    try:
        change = await claim_task(state.db, task_id, actor=_actor(body.by), person=body.by)
    except TaskActionError as error:
        raise _refused(error) from error
    return _task_changed(change)


@router.post("/tasks/{task_id}/assign", response_model=TaskChanged, responses=_TASK_ERRORS)
async def assign(task_id: RowId, body: AssignIn, state: State) -> TaskChanged:
    """Give an open or assigned task to `assignee` (reassign), optionally with a new due time."""
    try:
        change = await assign_task(
            state.db, task_id, actor=_actor(body.by), assignee=body.assignee, due_at=body.due_at
        )
    except TaskActionError as error:
        raise _refused(error) from error
    return _task_changed(change)


@router.post("/tasks/{task_id}/complete", response_model=TaskChanged, responses=_TASK_ERRORS)
async def complete(task_id: RowId, body: CompleteIn, state: State) -> TaskChanged:
    """Close the task as done with an outcome and a note; its journey learns the outcome."""
    try:
        change = await complete_task(
            state.db,
            state.client,
            task_id,
            actor=_actor(body.by),
            person=body.by,
            outcome=body.outcome,
            note=body.note,
        )
    except TaskActionError as error:
        raise _refused(error) from error
    return _task_changed(change)


@router.post("/tasks/{task_id}/cancel", response_model=TaskChanged, responses=_TASK_ERRORS)
async def cancel(task_id: RowId, body: CancelIn, state: State) -> TaskChanged:
    """Close the task as cancelled, with a note saying why; its journey learns it."""
    try:
        change = await cancel_task(
            state.db, state.client, task_id, actor=_actor(body.by), person=body.by, note=body.note
        )
    except TaskActionError as error:
        raise _refused(error) from error
    return _task_changed(change)


@router.post(
    "/complaints/{complaint_id}/respond",
    response_model=ComplaintResponded,
    responses={404: {"description": "no such complaint"}},
)
async def respond(complaint_id: str, body: RespondIn, state: State) -> ComplaintResponded:
    """Record staff's first response to a complaint: its response clock stops, its journey
    is told, the timeline shows who and when. Repeating it keeps the first response."""
    try:
        response: ComplaintResponse = await respond_to_complaint(
            state.db,
            state.client,
            complaint_id,
            actor=_actor(body.by),
            person=body.by,
            note=body.note,
        )
    except TaskActionError as error:
        raise _refused(error) from error
    return ComplaintResponded(
        complaint_id=response.complaint_id,
        customer_id=response.customer_id,
        responded_at=response.responded_at,
        responded_by=response.responded_by,
        first=response.first,
        journeys_told=list(response.journeys_told),
    )


@router.post(
    "/complaints/{complaint_id}/resolve",
    status_code=202,
    response_model=ComplaintResolved,
    responses={404: {"description": "no such complaint"}, 409: {"description": "resolved"}},
)
async def resolve(complaint_id: str, body: RespondIn, state: State) -> ComplaintResolved:
    """Resolve a complaint on staff's word: a `complaint_resolved` event, as from any system."""
    try:
        event_id = await resolve_complaint(
            state.db,
            state.client,
            state.task_queue,
            complaint_id,
            actor=_actor(body.by),
            note=body.note,
        )
    except TaskActionError as error:
        raise _refused(error) from error
    return ComplaintResolved(complaint_id=complaint_id, event_id=event_id)


@router.post(
    "/approvals/{task_id}",
    response_model=ApprovalDecided,
    responses={404: {"description": "no such approval"}, 409: {"description": "not pending"}},
)
async def decide(task_id: RowId, body: DecideIn, state: State) -> ApprovalDecided:
    """Approve or reject what a journey waits on (an `approval` task): the journey goes on,
    or ends without sending. `409` when it no longer waits (decided, or timed out)."""
    try:
        decision = await decide_approval(
            state.db,
            state.client,
            task_id,
            actor=_actor(body.by),
            person=body.by,
            approved=body.approved,
            reason=body.reason,
        )
    except TaskActionError as error:
        raise _refused(error) from error
    return ApprovalDecided(task_id=task_id, decision=decision)
