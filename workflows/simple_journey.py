"""A journey that sends, waits, reminds once and stops on its goal: no plan code of its own.

Most journeys a business adds are this shape (a review request, a renewal nudge):
one message, a reminder a few days later if the goal did not happen, then give up.
`SimpleJourney` is that journey once; a new one is a subclass naming its journey
(the section of `simple_journeys` in `rules/journeys.yaml` it reads) and the signal
that is its goal, registered in `workflows/registry.py`. The templates, topic and
timings come from the journeys file through the generic `plan_simple_journey`
activity, so operators change them without a release.
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from careflow.contracts.journeys import (
        PLAN_SIMPLE_JOURNEY,
        JourneyInput,
        JourneyOutcome,
        SimpleJourneyPlan,
        SimplePlanInput,
    )
    from careflow.contracts.outreach import MessageStatus
    from careflow.workflows.bookkeeping import record_outcome
    from careflow.workflows.calls import call_quick_step
    from careflow.workflows.exits import JourneyExits, wait_until
    from careflow.workflows.journey import journey_start
    from careflow.workflows.sending import send_step


class SimpleJourney(JourneyExits):
    """Send, wait, remind once, stop on the goal; a subclass adds `run` and its goal signal.

    Temporal wants `@workflow.run` and the signal handlers on the class it registers,
    so each subclass defines `run` as `return await self.run_simple(journey)` and a
    signal handler that calls `self.reach_goal()`.
    """

    # The journey's name in the registry and its section under `simple_journeys`.
    journey: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self.goal_reached = False

    def reach_goal(self) -> None:
        """The customer did what the journey asks for: it ends at once."""
        self.goal_reached = True

    def _done(self) -> bool:
        return self.goal_reached or self.exited

    def _outcome(self) -> JourneyOutcome:
        return self.exit_outcome() or JourneyOutcome.GOAL_MET

    async def run_simple(self, journey: JourneyInput) -> JourneyOutcome:
        """Plan, run the journey and record its outcome."""
        plan = await call_quick_step(
            PLAN_SIMPLE_JOURNEY,
            SimplePlanInput(
                journey=self.journey,
                workflow_id=workflow.info().workflow_id,
                customer_id=journey.customer_id,
                now=journey_start(journey),
                subject=journey.subject,
            ),
        )
        return await record_outcome(await self._steps(journey, plan))

    async def _steps(self, journey: JourneyInput, plan: SimpleJourneyPlan) -> JourneyOutcome:
        send_at = journey_start(journey) + timedelta(seconds=plan.delay_seconds)
        self.announce_end(send_at + timedelta(seconds=plan.close_after_seconds))
        if await wait_until(self._done, send_at):
            return self._outcome()
        message = await send_step(
            journey,
            "message",
            plan.template_id,
            topic=plan.topic,
            params=plan.params,
            stop=self._done,
            due_at=send_at,
        )
        if self._done():
            return self._outcome()
        if message.status != MessageStatus.SENT:
            return JourneyOutcome.NOT_SENT
        # Later dates count from when the message really left (after a deferral).
        sent_at = message.sent_at or send_at
        remind_at = sent_at + timedelta(seconds=plan.remind_after_seconds)
        if await wait_until(self._done, remind_at):
            return self._outcome()
        await send_step(
            journey,
            "reminder",
            plan.reminder_template_id,
            topic=plan.topic,
            params=plan.params,
            stop=self._done,
            due_at=remind_at,
        )
        if await wait_until(self._done, sent_at + timedelta(seconds=plan.close_after_seconds)):
            return self._outcome()
        return JourneyOutcome.GOAL_NOT_MET
