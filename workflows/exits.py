"""Exits every journey honours at once: the customer opted out or was erased.

A journey class inherits `JourneyExits` for the two signals, and waits with
`wait_until`, which returns as soon as an exit (or the journey's goal) happens
rather than when the current wait ends.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from careflow.contracts.journeys import ENDS_BY_MEMO, JourneyOutcome
    from careflow.workflows.journey import stagger
    from careflow.workflows.patches import ENDS_BY_PATCH, patched

OPTED_OUT, ERASED = JourneyOutcome.OPTED_OUT, JourneyOutcome.ERASED


class JourneyExits:
    """The `opted_out` and `customer_erased` signals and the flags they set."""

    def __init__(self) -> None:
        self.opted_out = False
        self.erased = False

    @property
    def exited(self) -> bool:
        return self.opted_out or self.erased

    def exit_outcome(self) -> JourneyOutcome | None:
        """The outcome to record when an exit ended the journey, else None."""
        if self.erased:
            return ERASED
        if self.opted_out:
            return OPTED_OUT
        return None

    def announce_end(self, ends_by: datetime) -> None:
        """Say in the journey's memo when it will have ended, for the dispatcher.

        A trigger at or after that instant may start the next journey of this kind
        for the customer even if this one's last step has not run yet. A staggered
        journey says it on its trigger's clock (without its stagger): the next journey
        of its kind runs as far behind its own trigger, so the two compare alike.
        """
        if patched(ENDS_BY_PATCH):
            workflow.upsert_memo({ENDS_BY_MEMO: (ends_by - stagger()).isoformat()})

    @workflow.signal(name="opted_out")
    def signal_opted_out(self) -> None:
        self.opted_out = True

    @workflow.signal(name="customer_erased")
    def signal_customer_erased(self) -> None:
        self.erased = True


async def wait_until(condition: Callable[[], bool], deadline: datetime) -> bool:
    """Wait until `condition()` holds or `deadline` passes; True when the condition held."""
    if condition():
        return True
    remaining = deadline - workflow.now()
    if remaining.total_seconds() <= 0:
        return False
    try:
        await workflow.wait_condition(condition, timeout=remaining)
    except TimeoutError:
        return condition()
    return True
