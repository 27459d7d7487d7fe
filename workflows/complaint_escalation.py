"""ComplaintEscalationWorkflow: acknowledge at once, climb the service-level ladder, follow up.

1. The customer gets an acknowledgement immediately; the case is a task for the agents.
2. Response and resolution targets (by tier and severity, in business hours, from
   `rules/journeys.yaml`) form a ladder: each missed target escalates one level
   (agent -> supervisor -> manager), emails that staff member the case, and tells
   the customer it is being handled.
3. `complaint_resolved` ends the ladder at once: tasks close, the customer gets the
   resolution message, and a day later a satisfaction survey (one reminder).
4. A low score reopens the case to a manager.

Every step is a task row or a ledger row, and the outcome goes to the journeys
table, so the KPIs (time to respond, breaches per level, reopen rate) are queries.
The first shipped version (acknowledge, wait, resolution message) still replays:
the ladder is behind the `SLA_LADDER` patch (workflows/patches.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from careflow.contracts.journeys import (
        BUSINESS_DUE,
        PLAN_COMPLAINT,
        SET_COMPLAINT_STATUS,
        ComplaintPlan,
        ComplaintStatus,
        ComplaintStatusInput,
        DueInput,
        JourneyInput,
        JourneyOutcome,
    )
    from careflow.workflows.bookkeeping import plan_journey, record_outcome
    from careflow.workflows.calls import call_quick_step
    from careflow.workflows.exits import JourneyExits, wait_until
    from careflow.workflows.patches import SLA_LADDER, patched
    from careflow.workflows.sending import send_step
    from careflow.workflows.staff import close_tasks, notify_staff, open_task
    from careflow.workflows.survey import ANSWERED, SurveyAnswers, SurveySteps, ask_survey

# How long the first version waited for its resolution before it gave up quietly.
RESOLUTION_WAIT = timedelta(days=30)
RESOLVED, UNRESOLVED, REOPENED = (
    JourneyOutcome.RESOLVED,
    JourneyOutcome.UNRESOLVED,
    JourneyOutcome.REOPENED,
)


@workflow.defn(name="ComplaintEscalationWorkflow")
class ComplaintEscalationWorkflow(JourneyExits, SurveyAnswers):
    """One complaint's journey; its id comes from `ids.complaint_workflow_id`."""

    def __init__(self) -> None:
        JourneyExits.__init__(self)
        SurveyAnswers.__init__(self)
        self.resolved = False
        self.responded = False
        self.level = 0

    @workflow.run
    async def run(self, journey: JourneyInput) -> JourneyOutcome:
        if patched(SLA_LADDER):
            return await record_outcome(await self._ladder(journey))
        return await self._first_version(journey)

    async def _first_version(self, journey: JourneyInput) -> JourneyOutcome:
        """What journeys started before the ladder shipped still do (they replay this)."""
        case = {"complaint_id": journey.subject}
        await send_step(journey, "ack", "complaint_ack", topic="transactional", params=case)
        try:
            await workflow.wait_condition(
                lambda: self.resolved or self.erased, timeout=RESOLUTION_WAIT
            )
        except TimeoutError:
            return UNRESOLVED
        if self.erased:
            return JourneyOutcome.ERASED
        await send_step(
            journey, "resolved", "complaint_resolved", topic="transactional", params=case
        )
        return RESOLVED

    async def _ladder(self, journey: JourneyInput) -> JourneyOutcome:
        plan = await plan_journey(PLAN_COMPLAINT, journey)
        complaint = journey.subject
        await send_step(
            journey,
            "ack",
            plan.ack_template,
            topic="transactional",
            params={"complaint_id": complaint},
        )
        await open_task(
            journey,
            "task-agent",
            kind="complaint",
            role=plan.levels[0],
            title=f"Respond to complaint {complaint}",
            due_at=plan.response_due,
            complaint_id=complaint,
        )
        for target, due in (("response", plan.response_due), ("resolution", plan.resolution_due)):
            if not await wait_until(partial(self._target_met, target), due):
                await self._escalate(journey, plan, target, due)
            if self.resolved or self.erased:
                break
        if not await wait_until(lambda: self.resolved or self.erased, plan.give_up_at):
            return UNRESOLVED
        if self.erased:
            return JourneyOutcome.ERASED
        return await self._resolved(journey, plan)

    def _target_met(self, target: str) -> bool:
        # Resolving the case (or erasure) meets every target at once.
        return self.resolved or self.erased or (target == "response" and self.responded)

    async def _escalate(
        self, journey: JourneyInput, plan: ComplaintPlan, target: str, missed: datetime
    ) -> None:
        """One rung up: a task and an email for the next level, an update for the customer."""
        self.level = min(self.level + 1, len(plan.levels) - 1)
        role, complaint = plan.levels[self.level], journey.subject
        reason = f"The {target} target ({missed:%Y-%m-%d %H:%M} UTC) was missed."
        due_at = plan.resolution_due if target == "response" else None
        await open_task(
            journey,
            f"task-{role}",
            kind="escalation",
            role=role,
            title=f"Escalated complaint {complaint}: {target} target missed",
            due_at=due_at,
            complaint_id=complaint,
        )
        await self._set_status(journey, "escalated")
        await notify_staff(
            journey,
            f"notify-{role}",
            plan.escalation_template,
            role=role,
            reason=reason,
            due_at=due_at,
            complaint_id=complaint,
        )
        await send_step(
            journey,
            f"update-{target}",
            plan.update_template,
            topic="transactional",
            params={"complaint_id": complaint},
            stop=lambda: self.erased,
        )

    async def _resolved(self, journey: JourneyInput, plan: ComplaintPlan) -> JourneyOutcome:
        """Close the tasks, tell the customer, ask how it went a day later."""
        case = {"complaint_id": journey.subject}
        await close_tasks()
        resolved = await send_step(
            journey, "resolved", plan.resolved_template, topic="transactional", params=case
        )
        survey_at = (resolved.sent_at or workflow.now()) + timedelta(
            seconds=plan.survey_after_seconds
        )
        if await wait_until(lambda: self.exited or self.answered, survey_at) and self.exited:
            return RESOLVED
        steps = SurveySteps(
            template_id=plan.survey_template,
            reminder_template_id=plan.survey_reminder_template,
            remind_after_seconds=plan.survey_remind_after_seconds,
            close_after_seconds=plan.survey_close_after_seconds,
        )
        answer = ANSWERED
        if not self.answered:
            answer = await ask_survey(
                journey,
                steps,
                {**case, **plan.survey_params},
                answers=self,
                stop=lambda: self.exited,
                due_at=survey_at,
            )
        if answer == ANSWERED and self.score is not None and self.score <= plan.low_score_threshold:
            await self._reopen(journey, plan)
            return REOPENED
        return RESOLVED

    async def _reopen(self, journey: JourneyInput, plan: ComplaintPlan) -> None:
        """A low score: the case goes back to a manager."""
        complaint, manager = journey.subject, plan.levels[-1]
        due_at = await call_quick_step(
            BUSINESS_DUE, DueInput(start=workflow.now(), hours=plan.reopen_due_hours)
        )
        await self._set_status(journey, "reopened")
        await open_task(
            journey,
            "task-reopened",
            kind="complaint_reopened",
            role=manager,
            title=f"Reopened complaint {complaint}: low satisfaction score {self.score}",
            due_at=due_at,
            complaint_id=complaint,
        )
        await notify_staff(
            journey,
            "notify-reopened",
            plan.escalation_template,
            role=manager,
            reason=f"The customer rated the resolution {self.score}.",
            due_at=due_at,
            complaint_id=complaint,
        )

    async def _set_status(self, journey: JourneyInput, status: ComplaintStatus) -> None:
        await call_quick_step(
            SET_COMPLAINT_STATUS,
            ComplaintStatusInput(
                customer_id=journey.customer_id, complaint_id=journey.subject, status=status
            ),
        )

    @workflow.signal(name="complaint_resolved")
    def complaint_resolved(self) -> None:
        self.resolved = True

    @workflow.signal(name="complaint_responded")
    def complaint_responded(self) -> None:
        # Staff answered the customer: the response target is met.
        self.responded = True
