"""Erasure in Temporal: every execution careflow ran for the customer, deleted."""

from __future__ import annotations

import asyncio
import logging

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

log = logging.getLogger(__name__)

# How long erasure waits for Temporal to finish deleting (it deletes in the background).
DELETE_WAIT_SECONDS = 30.0
_DELETE_POLL_SECONDS = 0.2
_UNSUPPORTED = (RPCStatusCode.UNIMPLEMENTED, RPCStatusCode.INVALID_ARGUMENT)


async def delete_executions(client: Client, workflow_ids: list[str]) -> tuple[int, int]:
    """Delete each execution with its history; (deleted, kept because the server cannot)."""
    deleted: list[str] = []
    kept = 0
    for workflow_id in workflow_ids:
        try:
            await client.workflow_service.delete_workflow_execution(
                DeleteWorkflowExecutionRequest(
                    namespace=client.namespace,
                    workflow_execution=WorkflowExecution(workflow_id=workflow_id),
                )
            )
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                continue
            if error.status not in _UNSUPPORTED:
                raise
            kept += await _terminate(client, workflow_id)
            continue
        deleted.append(workflow_id)
    if kept:
        # Counted, not named: the ids of older journeys carry the customer id.
        log.warning("Temporal cannot delete %d erased execution(s): kept until retention", kept)
    await _wait_until_gone(client, deleted)
    return len(deleted), kept


async def _terminate(client: Client, workflow_id: str) -> int:
    """Stop what cannot be deleted; 1 when its history stays behind."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        description = await handle.describe()
        if description.status == WorkflowExecutionStatus.RUNNING:
            await handle.terminate("customer erased")
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return 0
        raise
    return 1


async def _wait_until_gone(client: Client, workflow_ids: list[str]) -> None:
    """Temporal deletes in the background: wait (bounded) so the report is true when shown."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DELETE_WAIT_SECONDS
    pending = list(workflow_ids)
    while pending and loop.time() < deadline:
        still: list[str] = []
        for workflow_id in pending:
            try:
                await client.get_workflow_handle(workflow_id).describe()
            except RPCError as error:
                if error.status != RPCStatusCode.NOT_FOUND:
                    raise
            else:
                still.append(workflow_id)
        pending = still
        if pending:
            await asyncio.sleep(_DELETE_POLL_SECONDS)
    if pending:
        log.warning("Temporal has not finished deleting %d execution(s) yet", len(pending))
