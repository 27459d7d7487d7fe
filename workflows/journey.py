"""The instant a journey counts from (its input, `JourneyInput`, is in careflow.contracts)."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from careflow.contracts.journeys import JourneyInput


def journey_start(journey: JourneyInput) -> datetime:
    """The instant a journey's plan counts from: its trigger's, else now.

    Not `workflow.now()` alone: that is when a worker ran the task, which on a
    loaded worker (or on the time-skipping server, whose clock runs in real time
    while work is in flight) is a little later each run. Anchored on the trigger,
    a scan's offers remind and give up at the scan's time of day, and the same
    history simulated twice gives the same report.
    """
    return journey.as_of or workflow.now()
