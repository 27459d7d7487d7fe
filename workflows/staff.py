"""Journey steps that involve staff: tasks and staff emails, kept in the `tasks` table.

Each call names its step id, which keys the task or email in the `tasks` table, so
a retried or replayed step never creates a second task or a second email.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from careflow.contracts.journeys import JourneyInput
    from careflow.contracts.tasks import (
        CLOSE_TASKS,
        NOTIFY_STAFF,
        OPEN_TASK,
        CloseTasksInput,
        NotifyStaffInput,
        NotifyStaffResult,
        OpenTaskInput,
        OpenTaskResult,
    )
    from careflow.workflows.calls import call_activity, call_quick_step
    from careflow.workflows.options import SEND_RETRY, SEND_TIMEOUT


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
    return await call_quick_step(
        OPEN_TASK,
        OpenTaskInput(
            workflow_id=workflow.info().workflow_id,
            step_id=step_id,
            kind=kind,
            role=role,
            customer_id=journey.customer_id,
            title=title,
            due_at=due_at,
            complaint_id=complaint_id,
            at=workflow.now(),
        ),
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
    return await call_activity(
        NOTIFY_STAFF,
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
    await call_quick_step(
        CLOSE_TASKS,
        CloseTasksInput(workflow_id=workflow.info().workflow_id, status=status, at=workflow.now()),
    )
