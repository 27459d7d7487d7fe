"""ContactChangeNoticeWorkflow: tell sales, service and marketing that contact data changed.

Which teams hear about it comes from `rules/journeys.yaml`; what changed is read
from the store by the notification activity, so no address enters history.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from careflow.contracts.journeys import (
        PLAN_CONTACT_CHANGE_NOTICE,
        JourneyInput,
        JourneyOutcome,
    )
    from careflow.workflows.bookkeeping import plan_journey, record_outcome
    from careflow.workflows.staff import notify_staff


@workflow.defn(name="ContactChangeNoticeWorkflow")
class ContactChangeNoticeWorkflow:
    """One notice per customer and day; its id comes from `ids.contact_change_workflow_id`."""

    @workflow.run
    async def run(self, journey: JourneyInput) -> JourneyOutcome:
        plan = await plan_journey(PLAN_CONTACT_CHANGE_NOTICE, journey)
        for role in plan.roles:
            await notify_staff(
                journey,
                f"notify-{role.replace(':', '-')}",
                plan.template_id,
                role=role,
                reason="The customer's contact data changed.",
            )
        return await record_outcome(JourneyOutcome.NOTIFIED)
