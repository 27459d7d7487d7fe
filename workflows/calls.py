"""Calling an activity from a workflow by its contract, not by importing its class.

Workflow code depends on `careflow.contracts` only: the activity's registered name
and its result type come from the contract, so a workflow module never imports the
activities (and their store, SMTP and template dependencies) into the sandbox.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from careflow.contracts.activity import ActivityContract

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
