"""Can the code installed here carry on every workflow the cluster is running?

Journeys wait for weeks, so each deployment meets thousands of them halfway. This
fetches the histories of careflow's open (and recently closed) workflows from the
connected namespace and replays them against the installed workflow code, with
the worker's own workflow list and sandbox, before any worker is rolled: a change
that is not replay-compatible shows up here, with the workflow ids it would fail,
instead of as failed workflow tasks after the deployment.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer

from careflow.worker import WORKFLOW_RUNNER
from careflow.workflows.registry import WORKFLOWS

# Histories fetched at once: enough to hide the round trips, few enough not to
# crowd a busy frontend.
_CONCURRENT_FETCHES = 8
# The first `message: "..."` of the SDK core's failure is the mismatch itself.
_CORE_MESSAGE = re.compile(r'message: "((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class ReplayFailure:
    """One workflow run the installed code cannot carry on."""

    workflow_type: str
    workflow_id: str
    run_id: str
    mismatch: str  # the first mismatch, on one line


@dataclass
class UpgradeCheck:
    """Per workflow type, how many runs replayed, and every run that did not."""

    replayed: Counter[str] = field(default_factory=Counter)
    failures: list[ReplayFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def failed(self) -> Counter[str]:
        return Counter(failure.workflow_type for failure in self.failures)

    def workflow_types(self) -> list[str]:
        return sorted(set(self.replayed) | set(self.failed()))


def visibility_query(task_queue: str, closed_since: datetime) -> str:
    """careflow's workflows (its task queue) running now or closed since `closed_since`."""
    if any(char in task_queue for char in "\"'\\"):
        raise ValueError(f"task queue {task_queue!r}: quotes and backslashes cannot be queried")
    return (
        f'TaskQueue = "{task_queue}" AND '
        f'(ExecutionStatus = "Running" OR CloseTime > "{closed_since.isoformat()}")'
    )


async def count_workflows(client: Client, query: str) -> int | None:
    """How many workflows `query` matches (for the progress bar); None when the
    server cannot count them."""
    try:
        return (await client.count_workflows(query)).count
    except RPCError:
        return None


async def fetch_histories(
    client: Client,
    query: str,
    *,
    limit: int | None,
    on_fetched: Callable[[WorkflowHistory], None] = lambda _history: None,
) -> AsyncIterator[WorkflowHistory]:
    """The history of every run `query` lists (at most `limit`), a few fetched at once.

    A closed run deleted between listing and fetching (the namespace's retention
    period ran out) is skipped: there is nothing left to carry on.
    """
    pending: set[asyncio.Task[WorkflowHistory | None]] = set()

    async def fetch(workflow_id: str, run_id: str | None) -> WorkflowHistory | None:
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        try:
            return await handle.fetch_history()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return None
            raise

    async def finish(return_when: str) -> AsyncIterator[WorkflowHistory]:
        nonlocal pending
        done, pending = await asyncio.wait(pending, return_when=return_when)
        for task in done:
            history = task.result()
            if history is not None:
                on_fetched(history)
                yield history

    try:
        async for execution in client.list_workflows(query, limit=limit):
            pending.add(asyncio.create_task(fetch(execution.id, execution.run_id)))
            if len(pending) >= _CONCURRENT_FETCHES:
                async for history in finish(asyncio.FIRST_COMPLETED):
                    yield history
        while pending:
            async for history in finish(asyncio.ALL_COMPLETED):
                yield history
    finally:
        for task in pending:
            task.cancel()


def workflow_type_of(history: WorkflowHistory) -> str:
    started = history.events[0].workflow_execution_started_event_attributes
    return started.workflow_type.name


def first_mismatch(failure: BaseException) -> str:
    """The line that says what did not match, out of the SDK's nested failure text."""
    text = str(failure)
    found = _CORE_MESSAGE.search(text)
    line = found.group(1) if found else (text.strip().splitlines() or [repr(failure)])[0]
    return line.replace('\\"', '"')


async def replay_histories(histories: AsyncIterator[WorkflowHistory]) -> UpgradeCheck:
    """Replay each history against the installed workflows, as the worker runs them."""
    check = UpgradeCheck()
    replayer = Replayer(workflows=WORKFLOWS, workflow_runner=WORKFLOW_RUNNER)
    async with replayer.workflow_replay_iterator(histories) as results:
        async for result in results:
            history = result.history
            kind = workflow_type_of(history)
            if result.replay_failure is None:
                check.replayed[kind] += 1
                continue
            run_id = history.events[0].workflow_execution_started_event_attributes
            check.failures.append(
                ReplayFailure(
                    kind,
                    history.workflow_id,
                    run_id.original_execution_run_id,
                    first_mismatch(result.replay_failure),
                )
            )
    return check


def save_history(history: WorkflowHistory, folder: Path) -> Path:
    """Write `history` as `<workflow id>.<run id>.json` (the id escaped, never altered)."""
    run_id = history.events[0].workflow_execution_started_event_attributes
    name = f"{quote(history.workflow_id, safe='')}.{run_id.original_execution_run_id}.json"
    path = folder / name
    path.write_text(history.to_json(), encoding="utf-8")
    return path
