"""Sending from a journey: one call that honours deferrals and stops early on an exit.

Every journey sends through `send_step`, so quiet hours and the contact budget
(which answer "deferred until T") and exits such as an opt-out behave the same
everywhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.outreach import OutreachActivities, SendEmailInput, SendEmailResult
    from workflows.journey import JourneyInput
    from workflows.options import SEND_RETRY, SEND_SCHEDULE_TO_CLOSE, SEND_TIMEOUT

ParamValue = str | int | float | bool


async def send_step(
    journey: JourneyInput,
    step_id: str,
    template_id: str,
    *,
    topic: str,
    params: Mapping[str, ParamValue] | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> SendEmailResult:
    """Send one message of this journey, waiting out deferrals unless `stop()` turns true.

    `step_id` must be deterministic and unique within the journey: it is half of the
    ledger's idempotency key, so the same step can never send twice.
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
    while True:
        request.planned_at = workflow.now()
        result = await workflow.execute_activity_method(
            OutreachActivities.send_email,
            request,
            start_to_close_timeout=SEND_TIMEOUT,
            schedule_to_close_timeout=SEND_SCHEDULE_TO_CLOSE,
            retry_policy=SEND_RETRY,
        )
        if result.status != "deferred" or result.retry_at is None:
            return result
        wait = result.retry_at - workflow.now()
        if wait.total_seconds() > 0:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(stop, timeout=wait)
        if stop():
            return SendEmailResult("skipped", None, "journey ended while the message was deferred")
