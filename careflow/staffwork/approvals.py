"""Approving or rejecting what a journey waits on (an offer above its value threshold).

The journey opened an `approval` task for the approver whose turn it is and waits on its
`decide_approval` Update (workflows/retention_offer.py). Deciding sends the Update; the
workflow's validator refuses it when the journey no longer waits (decided already, or
its deadline passed and the next approver or the default took over). The decision is
recorded on the task (outcome `approved` or `rejected`, who, the reason as its note)
and in the audit log; the reason never enters workflow history.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from careflow.console.audit import record_audit
from careflow.contracts.tasks import DECIDE_APPROVAL, ApprovalDecision
from careflow.staffwork.states import ACTIVE, DONE
from careflow.staffwork.tasks import MAX_NOTE_LENGTH, TaskActionError
from careflow.store import Database, Task

APPROVAL_KIND = "approval"
APPROVAL_DECIDED = "approval_decided"


async def decide_approval(
    db: Database,
    client: Client,
    task_id: int,
    *,
    actor: str,
    person: str,
    approved: bool,
    reason: str = "",
) -> str:
    """Approve or reject the journey's pending approval; returns `approved` or `rejected`.

    Raises `TaskActionError`: `not_found` (no such approval task), `closed` (the journey
    no longer waits for it), `note_long`.
    """
    reason = reason.strip()
    if len(reason) > MAX_NOTE_LENGTH:
        raise TaskActionError(
            "note_long", f"reason must be at most {MAX_NOTE_LENGTH} characters", field="reason"
        )
    async with db.session() as session:
        task = await session.get(Task, task_id)
        if task is None or task.kind != APPROVAL_KIND or not task.workflow_id:
            raise TaskActionError("not_found", f"no approval task {task_id}")
        if task.status not in ACTIVE:
            raise TaskActionError("closed", f"approval {task_id} is {task.status}")
        workflow_id = task.workflow_id
    handle = client.get_workflow_handle(workflow_id)
    try:
        await handle.execute_update(DECIDE_APPROVAL, ApprovalDecision(approved=approved))
    except (WorkflowUpdateFailedError, RPCError) as error:
        raise TaskActionError(
            "closed", f"journey {workflow_id} no longer waits for this approval"
        ) from error
    outcome = "approved" if approved else "rejected"
    async with db.session() as session:
        row = await session.get(Task, task_id)
        assert row is not None
        # The journey may have closed the task already; the decision is recorded either way.
        row.status, row.outcome, row.closed_by = DONE, outcome, person
        row.note = reason or None
        row.completed_at = row.completed_at or datetime.now(UTC)
    await record_audit(
        db,
        actor,
        APPROVAL_DECIDED,
        f"task {task_id}",
        {"workflow_id": workflow_id, "decision": outcome, "by": person, "reason": reason or None},
    )
    return outcome
