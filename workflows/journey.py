"""What every journey is started with: ids and the rule that started it, never personal data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from temporalio import workflow

# The memo key under which a journey says when it will have ended (an ISO instant).
ENDS_BY_MEMO = "ends_by"


@dataclass
class JourneyInput:
    """The one argument of every journey workflow.

    `subject` is the business key the journey is about when a customer can have
    several at once (a complaint id, an occasion such as `birthday-2026`).
    `as_of` is the instant of the trigger that started it (the scan's time, the
    event's evaluation time); the plan's dates count from it.
    """

    customer_id: str
    rule_id: str = ""
    ruleset_hash: str = ""
    subject: str = ""
    params: dict[str, str | int | float | bool] = field(default_factory=dict)
    as_of: datetime | None = None


def journey_start(journey: JourneyInput) -> datetime:
    """The instant a journey's plan counts from: its trigger's, else now.

    Not `workflow.now()` alone: that is when a worker ran the task, which on a
    loaded worker (or on the time-skipping server, whose clock runs in real time
    while work is in flight) is a little later each run. Anchored on the trigger,
    a scan's offers remind and give up at the scan's time of day, and the same
    history simulated twice gives the same report.
    """
    return journey.as_of or workflow.now()
