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

log = logging.getLogger(__name__)

# How often the supervisor looks at the server process: a crashed server is back
# within about this plus its start-up time.
SUPERVISE_INTERVAL_SECONDS = 1.0

# Search attributes careflow sets on every journey so operators can find them by
# customer or by the rule that started them (`careflow journeys ...`).
SEARCH_ATTRIBUTES = {"CareflowCustomer": "Keyword", "CareflowRule": "Keyword"}


class EmbeddedTemporal:
    """A `temporal server start-dev` child process with a persistent SQLite store."""

    def __init__(self, home: Path, port: int, ui_port: int) -> None:
        self.home = home
        self.port = port
        self.ui_port = ui_port
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
        for name, kind in SEARCH_ATTRIBUTES.items():
            args += ["--search-attribute", f"{name}={kind}"]
        self.process = start_child(args, self.home / "logs" / "temporal.log")
        await wait_for_temporal(self.address, within_seconds, self.process)

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
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """Connect to Temporal, retrying for `within_seconds`; fail early if the server died.

    `interceptors` go on the client (and so on workers built on it): careflow's
    processes pass `careflow.observability.tracing_interceptors()`.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_seconds
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"the Temporal dev server exited with code {process.returncode}; "
                "see var/logs/temporal.log"
            )
        try:
            return await Client.connect(address, interceptors=interceptors)
        except RuntimeError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.25)
