"""The instant a journey counts from (its input, `JourneyInput`, is in careflow.contracts)."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from careflow.contracts.journeys import STAGGER_MEMO, JourneyInput
    from careflow.workflows.patches import STAGGER_PATCH, patched


def journey_start(journey: JourneyInput) -> datetime:
    """The instant a journey's plan counts from: its trigger's, else now.

    Not `workflow.now()` alone: that is when a worker ran the task, which on a
    loaded worker (or on the time-skipping server, whose clock runs in real time
    while work is in flight) is a little later each run. Anchored on the trigger,
    a scan's offers remind and give up at the scan's time of day, and the same
    history simulated twice gives the same report. A staggered journey counts from
    its trigger plus its stagger.
    """
    start = journey.as_of or workflow.now()
    return start + stagger()


def stagger() -> timedelta:
    """How far past its trigger this journey's clock runs (zero unless staggered)."""
    seconds = workflow.memo_value(STAGGER_MEMO, 0, type_hint=int)
    # Journeys started with a stagger count from their trigger plus it, and wait for
    # it; journeys without one never ask, so they replay as they were recorded.
    if seconds > 0 and patched(STAGGER_PATCH):
        return timedelta(seconds=seconds)
    return timedelta(0)
