"""Sending from a journey: one call that honours deferrals and stops early on an exit.

Every journey sends through `send_step`, so quiet hours and the contact budget
(which answer "deferred until T") and exits such as an opt-out behave the same
everywhere.

Each attempt to send runs first as a local activity, inside the workflow task that
reaches the step: when the store and the mail server answer (nearly always), the
message costs the Temporal server one marker event instead of an activity task, its
dispatch and one more workflow task to hand the result back. Only when that one
attempt fails or times out does the send become a regular activity, whose retries
for up to a day the server tracks (`SEND_RETRY`). A repeat is no worse than an
activity retry: the ledger's `sending` mark makes it resend with the same
Message-ID, the one repeat careflow allows (careflow/outreach/ledger.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import datetime

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import FailureError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from careflow.contracts.journeys import JourneyInput
    from careflow.contracts.outreach import (
        SEND_EMAIL,
        MessageStatus,
        ParamValue,
        SendEmailInput,
        SendEmailResult,
    )
    from careflow.workflows.calls import call_activity, call_local_activity
    from careflow.workflows.journey import stagger
    from careflow.workflows.options import (
        LOCAL_SEND_TIMEOUT,
        SEND_RETRY,
        SEND_SCHEDULE_TO_CLOSE,
        SEND_TIMEOUT,
    )
    from careflow.workflows.patches import SEND_FIRST_LOCAL, patched

# The local attempt is one attempt: its retries are the regular activity's.
_ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)


async def send_step(
    journey: JourneyInput,
    step_id: str,
    template_id: str,
    *,
    topic: str,
    params: Mapping[str, ParamValue] | None = None,
    stop: Callable[[], bool] = lambda: False,
    due_at: datetime | None = None,
) -> SendEmailResult:
    """Send one message of this journey, waiting out deferrals unless `stop()` turns true.

    `step_id` must be deterministic and unique within the journey: it is half of the
    ledger's idempotency key, so the same step can never send twice. `due_at` is
    the instant the step is due on the journey's own clock (its start, or the
    deadline it waited for); the policies decide as of it, or as of now when None.
    """
    request = SendEmailInput(
        workflow_id=workflow.info().workflow_id,
        step_id=step_id,
        customer_id=journey.customer_id,
        template_id=template_id,
        topic=topic,
        params={**journey.params, **(params or {})},
        rule_id=journey.rule_id or None,
        ruleset_hash=journey.ruleset_hash or None,
    )
    # The journey's instants, not `workflow.now()`: that is when a worker ran the task,
    # later by however long the worker took (see `journey_start`); after a deferral the
    # step is due at the `retry_at` it waited for.
    request.planned_at = due_at or workflow.now()
    # A staggered journey's step is not sent before its (staggered) due instant, nor
    # does a deferral end before its own share of the stagger: the journeys of one
    # customer, all due at a trigger or at the end of quiet hours, go one at a time.
    offset = stagger()
    if offset and await _stopped_before(request.planned_at, stop):
        return _skipped("journey ended before the message was due")
    while True:
        result = await _send_once(request)
        if result.status != MessageStatus.DEFERRED or result.retry_at is None:
            return result
        retry_at = result.retry_at + offset
        if await _stopped_before(retry_at, stop):
            return _skipped(ENDED_WHILE_DEFERRED)
        request.planned_at = retry_at


async def _send_once(request: SendEmailInput) -> SendEmailResult:
    """One decision and delivery of the step: locally first, then as a regular activity."""
    # Journeys whose first send ran before this patch keep sending as regular activities.
    if patched(SEND_FIRST_LOCAL):
        try:
            return await call_local_activity(
                SEND_EMAIL,
                request,
                start_to_close_timeout=LOCAL_SEND_TIMEOUT,
                retry_policy=_ONE_ATTEMPT,
            )
        except FailureError as error:
            # A local activity's failure arrives as its own error (the application's,
            # or a timeout), not wrapped in an ActivityError.
            if is_cancelled_exception(error):
                raise
            # Left to the server from here: its retries outlast this workflow task.
            workflow.logger.info(
                "step %s: the local attempt failed (%s); sending as an activity",
                request.step_id,
                type(error).__name__,
            )
    return await call_activity(
        SEND_EMAIL,
        request,
        start_to_close_timeout=SEND_TIMEOUT,
        schedule_to_close_timeout=SEND_SCHEDULE_TO_CLOSE,
        retry_policy=SEND_RETRY,
    )


ENDED_WHILE_DEFERRED = "journey ended while the message was deferred"


def _skipped(reason: str) -> SendEmailResult:
    return SendEmailResult(status=MessageStatus.SKIPPED, reason=reason)


async def _stopped_before(instant: datetime, stop: Callable[[], bool]) -> bool:
    """Wait until `instant` (at once when it has passed); True when `stop()` turned true."""
    wait = instant - workflow.now()
    if wait.total_seconds() > 0:
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(stop, timeout=wait)
    return stop()
