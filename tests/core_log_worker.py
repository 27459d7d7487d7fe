"""One workflow run by a worker on a fresh test server, for tests of what the SDK core
prints when a worker starts there (it warns that the test server predates a
capability). Run in a process of its own: the core writes straight to the process's
output, which is what those tests read.

    python -c "...; asyncio.run(one_workflow_on_a_test_server(LOG, as_commands_connect))"
"""

from __future__ import annotations

import logging
import subprocess
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from careflow.simulate.time_skipping import TimeSkippingServer
from careflow.temporal_connection import DEFAULT_NAMESPACE, TemporalConnection, connect_temporal
from tests.subprocesses import run_python


@activity.defn
async def _nothing() -> None:
    return None


@workflow.defn(sandboxed=False)
class _CallsNothing:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(_nothing, start_to_close_timeout=timedelta(minutes=1))


async def one_workflow_on_a_test_server(log: str, as_commands_connect: bool) -> None:
    """The worker's client is the simulator's (`as_commands_connect` False) or one that
    `connect_temporal` made without a runtime, as careflow's commands connect."""
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
    server = await TimeSkippingServer.start(Path(log))
    try:
        client: Client = server.client
        if as_commands_connect:
            address = server.client.service_client.config.target_host
            client = await connect_temporal(
                TemporalConnection(address=address, namespace=DEFAULT_NAMESPACE, embedded=True)
            )
        async with Worker(
            client, task_queue="quiet", workflows=[_CallsNothing], activities=[_nothing]
        ):
            await client.execute_workflow(_CallsNothing.run, id="quiet", task_queue="quiet")
    finally:
        await server.stop()


def run_one_workflow(log: Path, *, as_commands_connect: bool) -> subprocess.CompletedProcess[str]:
    """`one_workflow_on_a_test_server` in a fresh interpreter, to its end."""
    script = (
        "import asyncio, sys\n"
        "from tests.core_log_worker import one_workflow_on_a_test_server\n"
        "asyncio.run(one_workflow_on_a_test_server(sys.argv[1], sys.argv[2] == 'commands'))\n"
    )
    return run_python("-c", script, str(log), "commands" if as_commands_connect else "simulator")
