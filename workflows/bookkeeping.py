"""A journey's plan and its outcome: read once at the start, recorded once at the end.

The plan (what `rules/journeys.yaml` says for this customer now) is an activity
result, so it is in the journey's history and a replay sees the same plan; the
outcome goes to the `journeys` table for the KPIs and the timeline.
"""

from __future__ import annotations

from typing import TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from careflow.contracts.activity import ActivityContract
    from careflow.contracts.journeys import (
        RECORD_OUTCOME,
        JourneyInput,
        JourneyOutcome,
        PlanInput,
        RecordOutcomeInput,
    )
    from careflow.workflows.calls import call_quick_step
    from careflow.workflows.journey import journey_start

PlanT = TypeVar("PlanT")


async def plan_journey(plan: ActivityContract[PlanInput, PlanT], journey: JourneyInput) -> PlanT:
    """Ask the journey's plan activity once; the answer is recorded in history."""
    return await call_quick_step(
        plan,
        PlanInput(
            workflow_id=workflow.info().workflow_id,
            customer_id=journey.customer_id,
            now=journey_start(journey),
            subject=journey.subject,
        ),
    )


async def record_outcome(outcome: JourneyOutcome) -> JourneyOutcome:
    """Record how the journey ended (for the KPIs) and return the outcome."""
    await call_quick_step(
        RECORD_OUTCOME,
        RecordOutcomeInput(
            workflow_id=workflow.info().workflow_id, outcome=outcome, at=workflow.now()
        ),
    )
    return outcome
