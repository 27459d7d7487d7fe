"""ComplaintEscalationWorkflow: acknowledge a new complaint at once, close it when resolved."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.outreach import OutreachActivities, SendEmailInput, SendEmailResult
    from workflows.journey import JourneyInput
    from workflows.options import SEND_RETRY, SEND_SCHEDULE_TO_CLOSE, SEND_TIMEOUT

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
        await self._send(journey, "ack", "complaint_ack")
        try:
            await workflow.wait_condition(
                lambda: self.resolved or self.erased, timeout=RESOLUTION_WAIT
            )
        except TimeoutError:
            return "unresolved"
        if self.erased:
            return "erased"
        await self._send(journey, "resolved", "complaint_resolved")
        return "resolved"

    async def _send(self, journey: JourneyInput, step: str, template: str) -> SendEmailResult:
        return await workflow.execute_activity_method(
            OutreachActivities.send_email,
            SendEmailInput(
                workflow_id=workflow.info().workflow_id,
                step_id=step,
                customer_id=journey.customer_id,
                template_id=template,
                topic="transactional",
                params={"complaint_id": journey.subject},
                rule_id=journey.rule_id,
                ruleset_hash=journey.ruleset_hash,
            ),
            start_to_close_timeout=SEND_TIMEOUT,
            schedule_to_close_timeout=SEND_SCHEDULE_TO_CLOSE,
            retry_policy=SEND_RETRY,
        )

    @workflow.signal(name="complaint_resolved")
    def complaint_resolved(self) -> None:
        self.resolved = True

    @workflow.signal(name="customer_erased")
    def customer_erased(self) -> None:
        self.erased = True
