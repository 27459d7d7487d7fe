"""careflow as the benchmarks run it: `careflow up` in its own process on a prepared store.

The benchmark process only drives load and listens on the SMTP sink, so what is
measured (latency, throughput, resident memory) belongs to careflow's process
alone, exactly as an operator would run it: worker and HTTP API together,
pointed at a Temporal server, a database and an SMTP server of the benchmark's
choosing.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx

from careflow.intake.apply import open_complaint, upsert_customer
from careflow.intake.records import ComplaintFields, CustomerFields
from careflow.runtime.processes import stop_child
from careflow.store import create_database
from tests.smtp_sink import free_port


def customer_id(number: int) -> str:
    return f"c{number}"


def complaint_id(number: int) -> str:
    return f"k{number}"


def customer_email(number: int) -> str:
    """Every benchmark customer has their own address, so a message names its event."""
    return f"c{number}@example.com"


async def prepare_store(database_url: str, customers: int, *, complaints: bool = False) -> None:
    """Migrate the store and create customers 0..customers-1, each with an email
    (and, with `complaints`, an open complaint `k<number>` each).

    Written straight to the store, not posted as events: a `customer_upserted`
    event would start journeys of its own (onboarding) and add load nobody asked for.
    """
    db = create_database(database_url)
    try:
        await db.migrate()
        now = datetime.now(UTC)
        async with db.session() as session:
            for number in range(customers):
                customer, _ = await upsert_customer(
                    session,
                    customer_id(number),
                    CustomerFields(email=customer_email(number), locale="en", timezone="UTC"),
                    now,
                )
                if complaints:
                    await open_complaint(
                        session, customer, ComplaintFields(complaint_id=complaint_id(number)), now
                    )
    finally:
        await db.dispose()


def resident_kb(pid: int) -> int:
    """VmRSS of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, from /proc (Linux)."""
    return stat_ticks(Path(f"/proc/{pid}/stat"))[1] / os.sysconf("SC_CLK_TCK")


def stat_ticks(stat: Path) -> tuple[str, int]:
    """The name and the user + system clock ticks so far of a process or thread, from
    its /proc `stat` file (`/proc/PID/stat`, `/proc/PID/task/TID/stat`)."""
    text = stat.read_text()
    # The name (field 2) is in parentheses and may contain spaces; the fields after do not.
    name, _, rest = text[text.index("(") + 1 :].rpartition(")")
    fields = rest.split()
    return name, int(fields[11]) + int(fields[12])


class CareflowProcess:
    """`python -m careflow up` against the given Temporal, store and SMTP server."""

    def __init__(self, home: Path, *, temporal: str, database_url: str, smtp_port: int) -> None:
        self.home = home
        self.port = free_port()
        self.env = {
            **os.environ,
            "CAREFLOW_HOME": str(home),
            "TEMPORAL_ADDRESS": temporal,
            "CAREFLOW_DATABASE_URL": database_url,
            "CAREFLOW_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "CAREFLOW_HTTP": f"127.0.0.1:{self.port}",
            # careflow up's capture endpoint (SMS, webhooks): a port of its own per run.
            "CAREFLOW_CAPTURE_HTTP_PORT": str(free_port()),
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def _launch(self) -> subprocess.Popen[bytes]:
        self.home.mkdir(parents=True, exist_ok=True)
        with (self.home / "careflow.log").open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "careflow", "up"], env=self.env, stdout=log, stderr=log
            )

    async def start(self, within_seconds: float = 90.0) -> None:
        """Start the process and wait until its API answers."""
        # A fork takes milliseconds, once per run: not worth a thread.
        self.process = self._launch()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_seconds
        async with httpx.AsyncClient(base_url=self.base_url) as http:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"careflow up exited with {self.process.returncode};"
                        f" see {self.home / 'careflow.log'}"
                    )
                try:
                    if (await http.get("/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if loop.time() > deadline:
                    raise TimeoutError(f"careflow's API did not answer within {within_seconds} s")
                await asyncio.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM, as an operator stops it; SIGKILL if it does not stop in time."""
        if self.process is not None:
            stop_child(self.process, timeout=60)
