"""DailyScanWorkflow: every customer, page by page, through the rules, once a day.

Started by a Temporal Schedule (`careflow up` creates it) or on demand by
`careflow scan`. Pages are activities with heartbeats; the workflow continues as
new every few dozen pages so its history stays small at a million customers.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from careflow.contracts.scan import (
        COUNT_CUSTOMERS,
        RECONCILE_JOURNEYS,
        SCAN_PAGE,
        CountCustomersInput,
        DailyScanInput,
        ReconcileInput,
        ScanPageInput,
        ScanProgress,
    )
    from careflow.workflows.calls import call_activity

PAGES_PER_RUN = 50
# Patch ids are an API: running scans replay against them.
RECONCILE_PATCH = "reconcile-journeys-v1"
# How far back each scan looks for journeys Temporal closed abnormally: two days,
# so a scan that did not run one day is covered by the next.
RECONCILE_WINDOW = timedelta(days=2)
PAGE_TIMEOUT = timedelta(minutes=10)
PAGE_HEARTBEAT = timedelta(minutes=1)
PAGE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1)
)


@workflow.defn(name="DailyScanWorkflow")
class DailyScanWorkflow:
    def __init__(self) -> None:
        self.state = DailyScanInput()
        self.done = False

    @workflow.run
    async def run(self, request: DailyScanInput) -> ScanProgress:
        state = self.state = request
        if state.at is None:
            state.at = workflow.now()
        if state.total_customers is None:
            state.total_customers = await call_activity(
                COUNT_CUSTOMERS,
                CountCustomersInput(),
                start_to_close_timeout=PAGE_TIMEOUT,
                retry_policy=PAGE_RETRY,
            )
            # Once a scan (not again after continue-as-new): the store learns of
            # journeys that failed or were terminated outside careflow.
            if workflow.patched(RECONCILE_PATCH):
                await call_activity(
                    RECONCILE_JOURNEYS,
                    ReconcileInput(since=state.at - RECONCILE_WINDOW),
                    start_to_close_timeout=PAGE_TIMEOUT,
                    retry_policy=PAGE_RETRY,
                )
        for _ in range(PAGES_PER_RUN):
            page = await call_activity(
                SCAN_PAGE,
                ScanPageInput(
                    scan_id=f"scan:{state.at.isoformat()}",
                    at=state.at,
                    after_customer_pk=state.after_customer_pk,
                    page_size=state.page_size,
                ),
                start_to_close_timeout=PAGE_TIMEOUT,
                heartbeat_timeout=PAGE_HEARTBEAT,
                retry_policy=PAGE_RETRY,
            )
            if page.last_customer_pk is None:
                self.done = True
                return self.progress()
            state.after_customer_pk = page.last_customer_pk
            state.scanned += page.customers
            state.rules_fired += page.rules_fired
            state.journeys_started += page.journeys_started
        workflow.continue_as_new(state)

    @workflow.query
    def progress(self) -> ScanProgress:
        state = self.state
        return ScanProgress(
            at=state.at,
            total_customers=state.total_customers,
            scanned=state.scanned,
            rules_fired=state.rules_fired,
            journeys_started=state.journeys_started,
            done=self.done,
        )
