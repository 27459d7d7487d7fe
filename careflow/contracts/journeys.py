"""A journey's input, the plans its plan activities return, its bookkeeping and outcomes."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

from careflow.contracts.activity import ActivityContract
from careflow.contracts.outreach import MessageStatus, ParamValue

# The memo key under which a journey says when it will have ended (an ISO instant).
ENDS_BY_MEMO = "ends_by"
# The memo key of a staggered journey's stagger, in seconds (careflow/stagger.py): set
# by the simulator's dispatcher only, so a live journey's input and memo are unchanged.
STAGGER_MEMO = "stagger_seconds"


class JourneyOutcome(StrEnum):
    """How a journey ended, as recorded in the `journeys` table and returned by `run`.

    The values are an API: the KPIs, the timeline and recorded histories hold them.
    """

    # Any journey
    OPTED_OUT = "opted_out"
    ERASED = "erased"
    ENDED = "ended"  # an exit ended it before its first step
    SKIPPED = "skipped"  # the plan said there is nothing to do
    COMPLETED = "completed"
    # A journey whose outcome is its one message's status (a greeting)
    SENT = "sent"
    FAILED = "failed"
    DEFERRED = "deferred"
    # Retention offer
    GOAL_MET = "goal_met"
    GOAL_NOT_MET = "goal_not_met"
    CALL_TASK = "call_task"  # a call task opened; nobody closed it in time
    # ... and how staff closed it (careflow/staffwork), behind `call-task-outcome-v1`
    CALL_WON_BACK = "call_won_back"
    CALL_REACHED = "call_reached"
    CALL_RESOLVED = "call_resolved"
    CALL_NO_ANSWER = "call_no_answer"
    CALL_DECLINED = "call_declined"
    CALL_DONE = "call_done"
    CALL_CANCELLED = "call_cancelled"
    OFFER_SKIPPED = "offer_skipped"
    OFFER_FAILED = "offer_failed"
    OFFER_DEFERRED = "offer_deferred"
    OFFER_REJECTED = "offer_rejected"  # an approver (or the approval default) said no
    # Complaints
    RESOLVED = "resolved"
    UNRESOLVED = "unresolved"
    REOPENED = "reopened"
    # Surveys and simple journeys that wait for an answer
    ANSWERED = "answered"
    UNANSWERED = "unanswered"
    NOT_SENT = "not_sent"
    LOW_SCORE = "low_score"
    # Staff notices
    NOTIFIED = "notified"

    @classmethod
    def of_message(cls, status: MessageStatus) -> "JourneyOutcome":
        """A journey that is one message ends as that message did."""
        return cls(status.value)

    @classmethod
    def of_offer(cls, status: MessageStatus) -> "JourneyOutcome":
        """A retention offer that was not sent ends as `offer_<status>`."""
        return _OFFER_NOT_SENT[status]


_OFFER_NOT_SENT = {
    MessageStatus.SKIPPED: JourneyOutcome.OFFER_SKIPPED,
    MessageStatus.FAILED: JourneyOutcome.OFFER_FAILED,
    MessageStatus.DEFERRED: JourneyOutcome.OFFER_DEFERRED,
}


@dataclass(kw_only=True)
class JourneyInput:
    """The one argument of every journey workflow.

    `subject` is the business key the journey is about when a customer can have
    several at once (a complaint id, an occasion such as `birthday-2026`).
    `as_of` is the instant of the trigger that started it (the scan's time, the
    event's evaluation time); the plan's dates count from it.
    """

    customer_id: str
    rule_id: str = ""
    ruleset_hash: str = ""
    subject: str = ""
    params: dict[str, ParamValue] = field(default_factory=dict)
    as_of: datetime | None = None


@dataclass(kw_only=True)
class PlanInput:
    """Who the journey is for, what about, and the journey's own clock (`workflow.now()`)."""

    workflow_id: str
    customer_id: str
    now: datetime
    subject: str = ""


@dataclass(kw_only=True)
class RetentionPlan:
    params: dict[str, ParamValue]
    remind_at: datetime
    give_up_at: datetime
    call_task: bool
    call_due_at: datetime
    template_id: str = "retention_offer"
    reminder_template_id: str = "retention_reminder"
    call_template_id: str = "staff_call_task"
    # Who must approve this offer first, in turn (empty: no approval), how long each has,
    # and what happens when nobody answers ("approve" or "reject").
    approvers: list[str] = field(default_factory=list)
    approval_wait_seconds: float = 0
    approval_default: str = "reject"


@dataclass(kw_only=True)
class CarePlan:
    """When and what to send; `skip_reason` when the occasion cannot be honoured."""

    template_id: str
    params: dict[str, ParamValue]
    send_at: datetime
    skip_reason: str | None = None


@dataclass(kw_only=True)
class ComplaintPlan:
    """Deadlines of the service-level ladder, in UTC, counted in business hours."""

    response_due: datetime
    resolution_due: datetime
    give_up_at: datetime
    levels: list[str]
    # Durations are seconds: Temporal's JSON converter carries no timedelta.
    survey_after_seconds: float
    survey_remind_after_seconds: float
    survey_close_after_seconds: float
    low_score_threshold: int
    reopen_due_hours: float
    survey_params: dict[str, ParamValue]
    ack_template: str = "complaint_ack"
    update_template: str = "complaint_update"
    resolved_template: str = "complaint_resolved"
    escalation_template: str = "staff_escalation"
    survey_template: str = "satisfaction_survey"
    survey_reminder_template: str = "survey_reminder"


@dataclass(kw_only=True)
class SurveyPlan:
    delay_seconds: float
    remind_after_seconds: float
    close_after_seconds: float
    low_score_threshold: int
    params: dict[str, ParamValue]
    low_score_task_due_hours: float = 24
    template_id: str = "satisfaction_survey"
    reminder_template_id: str = "survey_reminder"


@dataclass(kw_only=True)
class OnboardingMessage:
    step: str
    template_id: str
    after_seconds: float


@dataclass(kw_only=True)
class OnboardingPlan:
    messages: list[OnboardingMessage] = field(default_factory=list)


@dataclass(kw_only=True)
class ContactChangePlan:
    roles: list[str]
    template_id: str = "staff_contact_change"


@dataclass(kw_only=True)
class SimpleJourneyPlan:
    """A journey that sends, waits, reminds once and stops on its goal.

    Durations are seconds (Temporal's JSON converter carries no timedelta): the
    message goes out `delay_seconds` after the start, the reminder
    `remind_after_seconds` after the message, and the journey gives up
    `close_after_seconds` after the message.
    """

    template_id: str
    reminder_template_id: str
    topic: str  # an outreach `Topic`
    delay_seconds: float
    remind_after_seconds: float
    close_after_seconds: float
    params: dict[str, ParamValue] = field(default_factory=dict)


@dataclass(kw_only=True)
class SimplePlanInput:
    """`PlanInput` for a simple journey: which declared journey's settings to read."""

    journey: str
    workflow_id: str
    customer_id: str
    now: datetime
    subject: str = ""


@dataclass(kw_only=True)
class DueInput:
    """`hours` working hours after `start`, on the configured business calendar."""

    start: datetime
    hours: float


@dataclass(kw_only=True)
class OrdersSinceInput:
    customer_id: str
    since: datetime


@dataclass(kw_only=True)
class RecordOutcomeInput:
    workflow_id: str
    outcome: str  # a `JourneyOutcome`
    # The workflow's clock when it asked for the step: a local activity stamps with it
    # (its own info carries the worker's clock; see activities/clock.py).
    at: datetime | None = None


ComplaintStatus = Literal["escalated", "reopened"]


@dataclass(kw_only=True)
class ComplaintStatusInput:
    customer_id: str
    complaint_id: str
    status: ComplaintStatus


PLAN_RETENTION_OFFER = ActivityContract(
    name="plan_retention_offer", input=PlanInput, result=RetentionPlan
)
PLAN_CARE_MESSAGE = ActivityContract(name="plan_care_message", input=PlanInput, result=CarePlan)
PLAN_COMPLAINT = ActivityContract(name="plan_complaint", input=PlanInput, result=ComplaintPlan)
PLAN_SATISFACTION_SURVEY = ActivityContract(
    name="plan_satisfaction_survey", input=PlanInput, result=SurveyPlan
)
PLAN_ONBOARDING = ActivityContract(name="plan_onboarding", input=PlanInput, result=OnboardingPlan)
PLAN_CONTACT_CHANGE_NOTICE = ActivityContract(
    name="plan_contact_change_notice", input=PlanInput, result=ContactChangePlan
)
PLAN_SIMPLE_JOURNEY = ActivityContract(
    name="plan_simple_journey", input=SimplePlanInput, result=SimpleJourneyPlan
)
BUSINESS_DUE = ActivityContract(name="business_due", input=DueInput, result=datetime)
ORDERS_SINCE = ActivityContract(name="orders_since", input=OrdersSinceInput, result=int)
RECORD_OUTCOME = ActivityContract(
    name="record_outcome", input=RecordOutcomeInput, result=type(None)
)
SET_COMPLAINT_STATUS = ActivityContract(
    name="set_complaint_status", input=ComplaintStatusInput, result=type(None)
)
