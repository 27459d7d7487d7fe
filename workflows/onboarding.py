"""OnboardingWorkflow: the welcome series for a new customer, step by step.

The steps (message, days after the start) come from `rules/journeys.yaml`; each
step id is the configured step name, so editing the file never resends a step
that a running journey already sent.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from careflow.contracts.journeys import PLAN_ONBOARDING, JourneyInput, JourneyOutcome
    from careflow.workflows.bookkeeping import plan_journey, record_outcome
    from careflow.workflows.exits import JourneyExits, wait_until
    from careflow.workflows.journey import journey_start
    from careflow.workflows.sending import send_step


@workflow.defn(name="OnboardingWorkflow")
class OnboardingWorkflow(JourneyExits):
    """One customer's onboarding series."""

    @workflow.run
    async def run(self, journey: JourneyInput) -> JourneyOutcome:
        return await record_outcome(await self._journey(journey))

    async def _journey(self, journey: JourneyInput) -> JourneyOutcome:
        plan = await plan_journey(PLAN_ONBOARDING, journey)
        started = journey_start(journey)
        if plan.messages:
            self.announce_end(started + timedelta(seconds=plan.messages[-1].after_seconds))
        for message in plan.messages:
            due = started + timedelta(seconds=message.after_seconds)
            if await wait_until(lambda: self.exited, due):
                return self.exit_outcome() or JourneyOutcome.ENDED
            await send_step(
                journey,
                message.step,
                message.template_id,
                topic="care",
                stop=lambda: self.exited,
                due_at=due,
            )
            if self.exited:
                return self.exit_outcome() or JourneyOutcome.ENDED
        return JourneyOutcome.COMPLETED
