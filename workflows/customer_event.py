"""CustomerEventWorkflow: evaluate the rules for one intake event and act on the intents."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from careflow.contracts.events import (
        DISPATCH_INTENTS,
        EVALUATE_EVENT,
        DispatchInput,
        DispatchResult,
        EvaluateEventInput,
    )
    from careflow.workflows.calls import call_activity
    from careflow.workflows.options import QUICK_RETRY, QUICK_TIMEOUT


@workflow.defn(name="CustomerEventWorkflow")
class CustomerEventWorkflow:
    """Its id is `ids.event_workflow_id(event_id)`, so an event is acted on once."""

    @workflow.run
    async def run(self, request: EvaluateEventInput) -> DispatchResult:
        # Live intake leaves `at` unset: the event is evaluated as of now. A simulation
        # sets it to the event's own time, which must not move with the worker's speed.
        at = request.at or workflow.now()
        evaluation = await call_activity(
            EVALUATE_EVENT,
            EvaluateEventInput(event_id=request.event_id, at=at),
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
        if not evaluation.intents:
            return DispatchResult(not_acted_reason=evaluation.not_acted_reason or "no rule fired")
        return await call_activity(
            DISPATCH_INTENTS,
            DispatchInput(
                customer_id=evaluation.customer_id,
                intents=evaluation.intents,
                subject=evaluation.subject,
                at=at,
            ),
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
