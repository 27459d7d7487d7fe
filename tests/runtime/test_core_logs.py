"""No careflow process prints the Temporal SDK core's log lines on standard output.

The SDK's own default runtime writes them there, in the core's format and colours:
into a command's output piped to a file. Every client careflow connects runs on a
runtime that hands them to Python logging instead (careflow/temporal_runtime.py).
"""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.worker import Worker

from careflow.simulate.time_skipping import TimeSkippingServer
from careflow.temporal_connection import DEFAULT_NAMESPACE, TemporalConnection, connect_temporal


@activity.defn
async def _nothing() -> None:
    return None


@workflow.defn(sandboxed=False)
class _CallsNothing:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(_nothing, start_to_close_timeout=timedelta(minutes=1))


async def a_worker_connected_as_commands_connect(log: str) -> None:
    """A worker whose client `connect_temporal` made without a runtime, as careflow's
    commands connect, on a test server (whose age the core warns about when a worker
    starts): in a process of its own, since the core writes straight to its output."""
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
    server = await TimeSkippingServer.start(Path(log))
    try:
        address = server.client.service_client.config.target_host
        client = await connect_temporal(
            TemporalConnection(address=address, namespace=DEFAULT_NAMESPACE, embedded=True)
        )
        async with Worker(
            client, task_queue="commands", workflows=[_CallsNothing], activities=[_nothing]
        ):
            await client.execute_workflow(_CallsNothing.run, id="commands", task_queue="commands")
    finally:
        await server.stop()


def test_the_core_warns_through_python_logging_not_on_standard_output(tmp_path: Path) -> None:
    script = (
        "import asyncio, sys\n"
        "from tests.runtime.test_core_logs import a_worker_connected_as_commands_connect\n"
        "asyncio.run(a_worker_connected_as_commands_connect(sys.argv[1]))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "test-server.log")],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == ""
    # The warning is still told, as a log record of the core's logger (WARNING).
    assert "temporalio.core" in ran.stderr
    assert " WARNING " in ran.stderr
    assert "activity_failure_include_heartbeat" in ran.stderr
