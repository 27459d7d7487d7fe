"""Staff tasks and staff emails a journey asks for."""

from dataclasses import dataclass
from datetime import datetime

from careflow.contracts.activity import ActivityContract


@dataclass(kw_only=True)
class OpenTaskInput:
    """A task for a staff role: `agent`, `supervisor`, `manager`, `account_manager`, `team:x`."""

    workflow_id: str
    step_id: str
    kind: str
    role: str
    customer_id: str
    title: str
    due_at: datetime | None = None
    complaint_id: str = ""
    # The workflow's clock when it asked for the step: a local activity stamps with it
    # (its own info carries the worker's clock; see activities/clock.py).
    at: datetime | None = None


@dataclass(kw_only=True)
class OpenTaskResult:
    task_id: int
    created: bool


@dataclass(kw_only=True)
class NotifyStaffInput:
    """One email to the staff member behind `role`, about a customer (and maybe a case)."""

    workflow_id: str
    step_id: str
    role: str
    customer_id: str
    template_id: str
    reason: str = ""
    due_at: datetime | None = None
    complaint_id: str = ""


@dataclass(kw_only=True)
class NotifyStaffResult:
    status: str  # sent | failed | skipped
    reason: str | None = None


@dataclass(kw_only=True)
class CloseTasksInput:
    workflow_id: str
    status: str = "done"
    # The workflow's clock when it asked for the step: a local activity stamps with it
    # (its own info carries the worker's clock; see activities/clock.py).
    at: datetime | None = None


@dataclass(kw_only=True)
class CloseTasksResult:
    closed: int


OPEN_TASK = ActivityContract(name="open_task", input=OpenTaskInput, result=OpenTaskResult)
NOTIFY_STAFF = ActivityContract(
    name="notify_staff", input=NotifyStaffInput, result=NotifyStaffResult
)
CLOSE_TASKS = ActivityContract(name="close_tasks", input=CloseTasksInput, result=CloseTasksResult)


# The signal staff actions send to the journey that opened a task, when it is closed.
TASK_CLOSED = "task_closed"


@dataclass(frozen=True, kw_only=True)
class TaskClosed:
    """The `task_closed` signal's argument: which of the journey's tasks (its step id),
    `done` or `cancelled`, and the outcome code staff chose (never their note)."""

    step_id: str
    status: str
    outcome: str | None = None


# The Update an approver sends to a journey waiting for approval.
DECIDE_APPROVAL = "decide_approval"


@dataclass(frozen=True, kw_only=True)
class ApprovalDecision:
    """An approver's answer: approved or rejected (the reason stays in the store and the
    audit log, never in workflow history)."""

    approved: bool
