"""Everything that crosses the workflow/activity boundary, in one place.

Workflows and activities both import these contracts and never each other: a
workflow calls an activity by the name its `ActivityContract` carries, with the
input and result types the contract names, and the worker registers the activity
that a test proves matches it (tests/workflows/test_contracts.py).

The JSON these dataclasses become is the wire format of every running journey and
every recorded history: field names, their meaning and the outcome strings never
change. A new field gets a default, so a journey started before it still decodes.
Every dataclass is keyword-only, so adding a field never shifts another.

These modules do not use `from __future__ import annotations`: their annotations
are real types, so the workflow sandbox decodes a payload without having to look a
name up in a module it may not have imported (which is what the old
`import careflow.activities.outreach  # noqa: F401` in five workflows was for).

Modules: `activity` (the typed activity names), `journeys` (a journey's input, its
plans, its outcomes and bookkeeping), `outreach` (sending a message), `tasks` (staff
tasks and emails), `events` (rule evaluation and dispatch), `scan` (the daily scan).
"""

from careflow.contracts.activity import ActivityContract
from careflow.contracts.events import (
    DispatchInput,
    DispatchResult,
    EvaluateEventInput,
    EvaluateEventResult,
)
from careflow.contracts.journeys import (
    ENDS_BY_MEMO,
    CarePlan,
    ComplaintPlan,
    ComplaintStatusInput,
    ContactChangePlan,
    DueInput,
    JourneyInput,
    JourneyOutcome,
    OnboardingMessage,
    OnboardingPlan,
    OrdersSinceInput,
    PlanInput,
    RecordOutcomeInput,
    RetentionPlan,
    SimpleJourneyPlan,
    SimplePlanInput,
    SurveyPlan,
)
from careflow.contracts.outreach import MessageStatus, ParamValue, SendEmailInput, SendEmailResult
from careflow.contracts.scan import (
    CountCustomersInput,
    DailyScanInput,
    ReconcileInput,
    ReconcileResult,
    ScanPageInput,
    ScanPageResult,
    ScanProgress,
)
from careflow.contracts.tasks import (
    CloseTasksInput,
    CloseTasksResult,
    NotifyStaffInput,
    NotifyStaffResult,
    OpenTaskInput,
    OpenTaskResult,
)

__all__ = [
    "ENDS_BY_MEMO",
    "ActivityContract",
    "CarePlan",
    "CloseTasksInput",
    "CloseTasksResult",
    "ComplaintPlan",
    "ComplaintStatusInput",
    "ContactChangePlan",
    "CountCustomersInput",
    "DailyScanInput",
    "DispatchInput",
    "DispatchResult",
    "DueInput",
    "EvaluateEventInput",
    "EvaluateEventResult",
    "JourneyInput",
    "JourneyOutcome",
    "MessageStatus",
    "NotifyStaffInput",
    "NotifyStaffResult",
    "OnboardingMessage",
    "OnboardingPlan",
    "OpenTaskInput",
    "OpenTaskResult",
    "OrdersSinceInput",
    "ParamValue",
    "PlanInput",
    "ReconcileInput",
    "ReconcileResult",
    "RecordOutcomeInput",
    "RetentionPlan",
    "ScanPageInput",
    "ScanPageResult",
    "ScanProgress",
    "SendEmailInput",
    "SendEmailResult",
    "SimpleJourneyPlan",
    "SimplePlanInput",
    "SurveyPlan",
]
