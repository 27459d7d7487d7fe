"""CareMessageWorkflow: a birthday or holiday greeting at a friendly local hour.

The occasion arrives in `JourneyInput.subject` (`birthday-2026`, `mid_autumn-2026`)
and is part of the workflow id, so a customer gets one greeting per occasion and
year however often the rule fires. A lunar birthday is converted to this year's
solar date by the plan activity; VIPs may find a coupon in their greeting.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from careflow.contracts.journeys import PLAN_CARE_MESSAGE, JourneyInput, JourneyOutcome
    from careflow.workflows.bookkeeping import plan_journey, record_outcome
    from careflow.workflows.exits import JourneyExits, wait_until
    from careflow.workflows.journey import journey_start
    from careflow.workflows.sending import send_step


@workflow.defn(name="CareMessageWorkflow")
class CareMessageWorkflow(JourneyExits):
    """One greeting for one occasion; its id comes from `ids.care_message_workflow_id`."""

    @workflow.run
    async def run(self, journey: JourneyInput) -> JourneyOutcome:
        return await record_outcome(await self._journey(journey))

    async def _journey(self, journey: JourneyInput) -> JourneyOutcome:
        plan = await plan_journey(PLAN_CARE_MESSAGE, journey)
        if plan.skip_reason is not None:
            workflow.logger.info("not greeting %s: %s", journey.customer_id, plan.skip_reason)
            return JourneyOutcome.SKIPPED
        if await wait_until(lambda: self.exited, plan.send_at):
            return self.exit_outcome() or JourneyOutcome.ENDED
        result = await send_step(
            journey,
            "greeting",
            plan.template_id,
            topic="care",
            params=plan.params,
            stop=lambda: self.exited,
            due_at=max(plan.send_at, journey_start(journey)),
        )
        return self.exit_outcome() or JourneyOutcome.of_message(result.status)
