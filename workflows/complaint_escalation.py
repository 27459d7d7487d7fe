"""ComplaintEscalationWorkflow: acknowledge a new complaint at once, close it when resolved."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.journey import JourneyInput
    from workflows.sending import send_step

# How long a complaint journey waits for its resolution before it gives up quietly.
RESOLUTION_WAIT = timedelta(days=30)


@workflow.defn(name="ComplaintEscalationWorkflow")
class ComplaintEscalationWorkflow:
    """One complaint's journey; its id comes from `ids.complaint_workflow_id`."""

    def __init__(self) -> None:
        self.resolved = False
        self.erased = False

    @workflow.run
    async def run(self, journey: JourneyInput) -> str:
        case = {"complaint_id": journey.subject}
        await send_step(journey, "ack", "complaint_ack", topic="transactional", params=case)
        try:
            await workflow.wait_condition(
                lambda: self.resolved or self.erased, timeout=RESOLUTION_WAIT
            )
        except TimeoutError:
            return "unresolved"
        if self.erased:
            return "erased"
        await send_step(
            journey, "resolved", "complaint_resolved", topic="transactional", params=case
        )
        return "resolved"

    @workflow.signal(name="complaint_resolved")
    def complaint_resolved(self) -> None:
        self.resolved = True

    @workflow.signal(name="customer_erased")
    def customer_erased(self) -> None:
        self.erased = True
