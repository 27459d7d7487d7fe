"""CampaignWorkflow: one broadcast to a segment, paced, resumable, at most once per customer.

Started by `careflow campaign launch NAME` (or the console) under the campaign's own
id (`ids.campaign_workflow_id`), so a second launch finds this one. It pages through
the segment as it stood at launch; each page is one activity that sends to its
members through the send step (consent, suppression, budget, quiet hours, ledger),
with the idempotency key `<this workflow id>/<customer id>`: a retried page, a
killed worker or a second launch finds the key already final and sends nothing.

Members outside their send window (or deferred by the policy) are not waited for
one by one: a pass goes on through the segment, and when it ends the workflow
sleeps until the earliest time one of them may be tried and makes another pass,
which skips everyone already done in one ledger read per page. History stays at a
few events per page, and the workflow continues as new every `PAGES_PER_RUN`.

Pacing: after a page that sent `n` messages the workflow waits until `n` minutes
divided by the rate have passed since the page began (a durable timer); pages are
never larger than one minute's worth, so the rate holds within a minute.
Cancel (a signal) stops after the current page.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from careflow.contracts.campaigns import (
        PLAN_CAMPAIGN,
        SEND_CAMPAIGN_PAGE,
        CampaignInput,
        CampaignPageInput,
        CampaignPageResult,
        CampaignProgress,
        PlanCampaignInput,
    )
    from careflow.workflows.calls import call_activity

PAGES_PER_RUN = 20
# A page of 2,000 sends takes seconds to minutes; a heartbeat after every few sends.
PAGE_TIMEOUT = timedelta(minutes=30)
PAGE_HEARTBEAT = timedelta(minutes=1)
PAGE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["CampaignGone"],
)


@workflow.defn(name="CampaignWorkflow")
class CampaignWorkflow:
    def __init__(self) -> None:
        self.state = CampaignInput(campaign="")

    @workflow.run
    async def run(self, request: CampaignInput) -> CampaignProgress:
        state = self.state = request
        progress = state.progress
        if state.audience_at is None:
            state.audience_at = workflow.now()
            plan = await call_activity(
                PLAN_CAMPAIGN,
                PlanCampaignInput(campaign=state.campaign, at=state.audience_at),
                start_to_close_timeout=PAGE_TIMEOUT,
                retry_policy=PAGE_RETRY,
            )
            state.start_at, state.per_minute = plan.start_at, plan.per_minute
            state.page_size = min(plan.page_size, plan.per_minute or plan.page_size)
            progress.audience = plan.audience
        if state.start_at is not None and state.start_at > workflow.now():
            progress.state = "scheduled"
            await self._pause_until_cancelled(state.start_at - workflow.now())
        for _ in range(PAGES_PER_RUN):
            if state.cancelled:
                progress.state = "cancelled"
                return progress
            progress.state = "sending"
            began = workflow.now()
            page = await call_activity(
                SEND_CAMPAIGN_PAGE,
                CampaignPageInput(
                    campaign=state.campaign,
                    workflow_id=workflow.info().workflow_id,
                    audience_at=state.audience_at,
                    planned_at=began,
                    after_pk=state.after_pk,
                    limit=state.page_size,
                    first_pass=progress.passes == 0,
                ),
                start_to_close_timeout=PAGE_TIMEOUT,
                heartbeat_timeout=PAGE_HEARTBEAT,
                retry_policy=PAGE_RETRY,
            )
            _add(progress, page)
            if page.last_pk is None:
                if not progress.waiting or progress.next_try is None:
                    progress.state = "done"
                    return progress
                # The pass is over and some members wait for their window: sleep until
                # the first of them may be tried, then go through the segment again.
                progress.state = "waiting"
                await self._pause_until_cancelled(progress.next_try - workflow.now())
                state.after_pk = None
                progress.passes += 1
                progress.processed = progress.waiting = 0
                progress.next_try = None
                continue
            state.after_pk = page.last_pk
            if state.per_minute and page.sent:
                due = began + timedelta(minutes=page.sent / state.per_minute)
                await self._pause_until_cancelled(due - workflow.now())
        workflow.continue_as_new(state)

    async def _pause_until_cancelled(self, wait: timedelta) -> None:
        """Wait `wait` unless the campaign is cancelled first."""
        if wait > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self.state.cancelled, timeout=wait)

    @workflow.signal
    def cancel(self) -> None:
        """Stop after the current page; nothing already sent is undone."""
        self.state.cancelled = True

    @workflow.query
    def progress(self) -> CampaignProgress:
        return self.state.progress


def _add(progress: CampaignProgress, page: CampaignPageResult) -> None:
    progress.processed += page.members
    progress.sent += page.sent
    progress.failed += page.failed
    progress.waiting += page.waiting
    for reason, count in page.skipped.items():
        progress.skipped[reason] = progress.skipped.get(reason, 0) + count
    if page.next_try is not None and (
        progress.next_try is None or page.next_try < progress.next_try
    ):
        progress.next_try = page.next_try
