"""Calling an activity from a workflow by its contract, not by importing its class.

Workflow code depends on `careflow.contracts` only: the activity's registered name
and its result type come from the contract, so a workflow module never imports the
activities (and their store, SMTP and template dependencies) into the sandbox.

Quick steps (a plan, a lookup, a task row, the outcome) run as local activities
(`call_quick_step`): in the worker, inside the workflow task that asks for them. A
regular activity costs the Temporal server a task dispatch, about six history
events and one more workflow task to hand its result back; a local one costs a
marker event, which is what a complaint's quick steps cost the event path
(docs/benchmarks.md, "Issue 21 item 2"). Sending may wait on a mail server and
retries for a day, which is the server's job to track: its first attempt runs
locally, and only a failed one becomes a regular activity (workflows/sending.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from careflow.contracts.activity import ActivityContract
    from careflow.workflows.options import QUICK_RETRY, QUICK_TIMEOUT
    from careflow.workflows.patches import QUICK_STEPS_LOCAL, patched

InputT = TypeVar("InputT")
ResultT = TypeVar("ResultT")


async def call_activity(
    contract: ActivityContract[InputT, ResultT],
    request: InputT,
    *,
    start_to_close_timeout: timedelta,
    retry_policy: RetryPolicy,
    schedule_to_close_timeout: timedelta | None = None,
    heartbeat_timeout: timedelta | None = None,
) -> ResultT:
    """Run the activity `contract` names with `request`; its result decoded as the contract says."""
    result: ResultT = await workflow.execute_activity(
        contract.name,
        request,
        result_type=contract.result,
        start_to_close_timeout=start_to_close_timeout,
        schedule_to_close_timeout=schedule_to_close_timeout,
        heartbeat_timeout=heartbeat_timeout,
        retry_policy=retry_policy,
    )
    return result


async def call_quick_step(contract: ActivityContract[InputT, ResultT], request: InputT) -> ResultT:
    """Run a quick store read or write (`QUICK_TIMEOUT`, `QUICK_RETRY`) as a local activity.

    Only for steps that finish in well under a second and are idempotent: a local
    activity whose workflow task is lost runs again with it. Activities that stamp
    rows take the instant from their input (`at`), since a local activity's info
    carries the worker's clock, not the server's (see activities/clock.py).
    """
    # Journeys that ran their quick steps as regular activities still replay that way.
    if not patched(QUICK_STEPS_LOCAL):
        return await call_activity(
            contract, request, start_to_close_timeout=QUICK_TIMEOUT, retry_policy=QUICK_RETRY
        )
    return await call_local_activity(
        contract, request, start_to_close_timeout=QUICK_TIMEOUT, retry_policy=QUICK_RETRY
    )


async def call_local_activity(
    contract: ActivityContract[InputT, ResultT],
    request: InputT,
    *,
    start_to_close_timeout: timedelta,
    retry_policy: RetryPolicy,
) -> ResultT:
    """Run the activity `contract` names as a local activity, in this workflow task."""
    result: ResultT = await workflow.execute_local_activity(
        contract.name,
        request,
        result_type=contract.result,
        start_to_close_timeout=start_to_close_timeout,
        retry_policy=retry_policy,
    )
    return result
