"""Journey steps that involve staff: tasks and staff emails, kept in the `tasks` table.

Each call names its step id, which keys the task or email in the `tasks` table, so
a retried or replayed step never creates a second task or a second email.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from careflow.activities.tasks import (
        CloseTasksInput,
        NotifyStaffInput,
        NotifyStaffResult,
        OpenTaskInput,
        OpenTaskResult,
        TaskActivities,
    )
    from careflow.workflows.journey import JourneyInput
    from careflow.workflows.options import QUICK_RETRY, QUICK_TIMEOUT, SEND_RETRY, SEND_TIMEOUT

# The signal staff actions send to the journey that opened a task, when it is closed.
TASK_CLOSED = "task_closed"


@dataclass(frozen=True)
class TaskClosed:
    """The `task_closed` signal's argument: which of the journey's tasks (its step id),
    `done` or `cancelled`, and the outcome code staff chose (never their note)."""

    step_id: str
    status: str
    outcome: str | None = None


# The Update an approver sends to a journey waiting for approval.
DECIDE_APPROVAL = "decide_approval"


@dataclass(frozen=True)
class ApprovalDecision:
    """An approver's answer: approved or rejected (the reason stays in the store and the
    audit log, never in workflow history)."""

    approved: bool


async def open_task(
    journey: JourneyInput,
    step_id: str,
    *,
    kind: str,
    role: str,
    title: str,
    due_at: datetime | None = None,
    complaint_id: str = "",
) -> OpenTaskResult:
    """Create a staff task once (keyed by this journey and `step_id`)."""
    return await workflow.execute_activity_method(
        TaskActivities.open_task,
        OpenTaskInput(
            workflow_id=workflow.info().workflow_id,
            step_id=step_id,
            kind=kind,
            role=role,
            customer_id=journey.customer_id,
            title=title,
            due_at=due_at,
            complaint_id=complaint_id,
        ),
        start_to_close_timeout=QUICK_TIMEOUT,
        retry_policy=QUICK_RETRY,
    )


async def notify_staff(
    journey: JourneyInput,
    step_id: str,
    template_id: str,
    *,
    role: str,
    reason: str,
    due_at: datetime | None = None,
    complaint_id: str = "",
) -> NotifyStaffResult:
    """Email the staff member behind `role` once (keyed by this journey and `step_id`)."""
    return await workflow.execute_activity_method(
        TaskActivities.notify_staff,
        NotifyStaffInput(
            workflow_id=workflow.info().workflow_id,
            step_id=step_id,
            role=role,
            customer_id=journey.customer_id,
            template_id=template_id,
            reason=reason,
            due_at=due_at,
            complaint_id=complaint_id,
        ),
        start_to_close_timeout=SEND_TIMEOUT,
        retry_policy=SEND_RETRY,
    )


async def close_tasks(status: str = "done") -> None:
    """Close this journey's open staff tasks."""
    await workflow.execute_activity_method(
        TaskActivities.close_tasks,
        CloseTasksInput(workflow_id=workflow.info().workflow_id, status=status),
        start_to_close_timeout=QUICK_TIMEOUT,
        retry_policy=QUICK_RETRY,
    )
