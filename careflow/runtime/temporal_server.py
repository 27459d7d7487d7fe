"""The embedded Temporal dev server, persisted to a SQLite file under `var/`."""

from __future__ import annotations

import asyncio
import logging
import subprocess
from collections.abc import Sequence
from pathlib import Path

from temporalio.client import Client, Interceptor

from careflow.runtime.binaries import temporal_cli_path
from careflow.runtime.processes import start_child, stop_child
from careflow.temporal_connection import DEFAULT_NAMESPACE, TemporalConnection, connect_temporal

log = logging.getLogger(__name__)

# How often the supervisor looks at the server process: a crashed server is back
# within about this plus its start-up time.
SUPERVISE_INTERVAL_SECONDS = 1.0

# Search attributes careflow sets on every journey so operators can find them by
# customer or by the rule that started them (`careflow journeys ...`).
SEARCH_ATTRIBUTES = {"CareflowCustomer": "Keyword", "CareflowRule": "Keyword"}


class EmbeddedTemporal:
    """A `temporal server start-dev` child process with a persistent SQLite store.

    `namespace` (TEMPORAL_NAMESPACE with no TEMPORAL_ADDRESS) is created besides
    `default`, with careflow's search attributes.
    """

    def __init__(
        self, home: Path, port: int, ui_port: int, *, namespace: str = DEFAULT_NAMESPACE
    ) -> None:
        self.home = home
        self.port = port
        self.ui_port = ui_port
        self.namespace = namespace
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    async def start(self, within_seconds: float = 60.0) -> None:
        """Start the server and wait until it accepts clients."""
        self.home.mkdir(parents=True, exist_ok=True)
        args = [
            str(temporal_cli_path()),
            "server",
            "start-dev",
            "--db-filename",
            str(self.home / "temporal.db"),
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            "--ui-disable-news-fetch",
            # Measured here: WAL roughly doubles the dev server's throughput.
            "--sqlite-pragma",
            "journal_mode=wal",
            "--log-level",
            "warn",
        ]
        if self.namespace != DEFAULT_NAMESPACE:
            args += ["--namespace", self.namespace]
        for name, kind in SEARCH_ATTRIBUTES.items():
            args += ["--search-attribute", f"{name}={kind}"]
        self.process = start_child(args, self.home / "logs" / "temporal.log")
        await wait_for_temporal(
            self.address, within_seconds, self.process, namespace=self.namespace
        )

    async def supervise(self) -> None:
        """Start the server again, on the same store and port, whenever it dies.

        Workers and clients reconnect by themselves once it is back (the fault suite
        kills it mid-run); without this, `careflow up` would stall for good. Returns
        once `stop()` was called; raises if the server cannot be started again.
        """
        while self.process is not None:
            if self.process.poll() is None:
                await asyncio.sleep(SUPERVISE_INTERVAL_SECONDS)
                continue
            log.warning(
                "the embedded Temporal server exited with code %s; starting it again",
                self.process.returncode,
            )
            self.restarts += 1
            await self.start()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_child(process)


async def wait_for_temporal(
    address: str,
    within_seconds: float,
    process: subprocess.Popen[bytes] | None = None,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """Connect to a local dev server, retrying for `within_seconds`; fail early if it died.

    `interceptors` go on the client (and so on workers built on it): careflow's
    processes pass `careflow.observability.tracing_interceptors()`.
    """

    def still_starting() -> None:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"the Temporal dev server exited with code {process.returncode}; "
                "see var/logs/temporal.log"
            )

    local = TemporalConnection(address=address, namespace=namespace, embedded=True)
    return await connect_temporal(
        local, patience=within_seconds, still_starting=still_starting, interceptors=interceptors
    )
