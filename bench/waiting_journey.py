"""A journey reduced to its waiting state, for measuring worker memory at 100,000 journeys.

Between its steps a careflow journey is a workflow with the exit signals
(`JourneyExits`) waiting in `wait_until` on a timer days away. That waiting state
is what the worker would have to keep per journey, and what its cache bounds.
This workflow reaches it in one workflow task, with no activities, so a hundred
thousand of them can be started in minutes (a real complaint journey needs
three activities and several round trips first; see bench/memory_bench.py).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from careflow.contracts import JourneyInput
    from careflow.workflows.exits import JourneyExits, wait_until

# Far beyond any measurement: the timer never fires while the benchmark runs.
WAIT = timedelta(days=30)


@workflow.defn(name="BenchWaitingJourneyWorkflow")
class WaitingJourneyWorkflow(JourneyExits):
    """Waits on one timer (or an exit), as a journey between its steps does."""

    @workflow.run
    async def run(self, journey: JourneyInput) -> str:
        await wait_until(lambda: self.exited, workflow.now() + WAIT)
        return self.exit_outcome() or "waited"
