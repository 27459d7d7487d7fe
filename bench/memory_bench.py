"""Worker memory with many journeys waiting on timers: bounded by the cache, not the count.

    python -m bench.memory_bench                         # 1,000 / 2,000 / 4,000 journeys
    python -m bench.memory_bench --batches 300 600 --cache 100

careflow's real worker (`create_worker`, every workflow and activity, SQLite store,
SMTP to a sink) runs in its own process with `max_cached_workflows` fixed at
`--cache`, against a fresh Temporal dev server. Complaint journeys are started in
batches; each sends its acknowledgement, opens its agent task and then waits on
its service-level timers for hours. Once the batch has settled (every journey's
task row is written), the worker's resident memory (VmRSS) is read.

Past the cache size, the worker keeps nothing per waiting journey: evicted
workflows live only in Temporal's history. So from the first batch to the last
the journeys multiply while resident memory should stay flat. The figure is the
last batch's RSS next to the first's (target: at most 1.25x while the number of
journeys grew several times).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.worker import Worker

from bench.careflow_process import complaint_id, customer_id, prepare_store, resident_kb
from bench.harness import Figure
from careflow.config import Settings
from careflow.outreach.mailer import SmtpDelivery
from careflow.runtime.processes import start_child, stop_child
from careflow.runtime.temporal_server import EmbeddedTemporal
from careflow.store import Task, create_database
from tests.smtp_sink import SmtpSink, free_port
from worker import create_worker
from workflows.complaint_escalation import ComplaintEscalationWorkflow
from workflows.ids import complaint_workflow_id
from workflows.journey import JourneyInput

TASK_QUEUE = "careflow"
# Journeys started at once by the driver; more only queue up in the server.
STARTING_AT_ONCE = 50


@dataclass(frozen=True)
class MemoryFigures:
    cache: int
    idle_kb: int
    # (journeys waiting, worker VmRSS in kB) after each batch settled.
    samples: list[tuple[int, int]]

    @property
    def growth(self) -> float:
        """RSS growth over journey growth from the first batch to the last (0 = flat)."""
        (first_journeys, first_kb), (last_journeys, last_kb) = self.samples[0], self.samples[-1]
        return (last_kb / first_kb - 1) / (last_journeys / first_journeys - 1)

    def figures(self) -> list[Figure]:
        (first_journeys, first_kb), (last_journeys, last_kb) = self.samples[0], self.samples[-1]
        return [
            Figure(
                "memory",
                f"worker RSS, {last_journeys:,} vs {first_journeys:,} journeys on timers",
                "MB",
                last_kb / 1024,
                first_kb / 1024,
                "lower",
                target_ratio=1.25,
                note=f"cache {self.cache}, RSS growth/journey growth {self.growth:.2f}",
            )
        ]


async def serve(address: str, database_url: str, smtp_port: int, cache: int) -> None:
    """The worker process: careflow's worker, its workflow cache fixed at `cache`."""
    settings = Settings(
        temporal_address=address,
        database_url=database_url,
        smtp_url=f"smtp://127.0.0.1:{smtp_port}",
        task_queue=TASK_QUEUE,
    )
    client = await Client.connect(address)
    db = create_database(settings.sqlalchemy_url)
    delivery = SmtpDelivery(settings.smtp_target)
    # careflow's worker exactly as `careflow up` builds it, with only the cache changed.
    # The template is built for a queue nobody polls: the SDK refuses two workers
    # on one task queue in one process, even one that never runs.
    template = create_worker(client, settings, db=db, delivery=delivery, task_queue="template")
    config = template.config()
    config["task_queue"] = TASK_QUEUE
    config["max_cached_workflows"] = cache
    worker = Worker(**config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with worker:
        await stop.wait()
    await delivery.close()
    await db.dispose()


async def _settled(database_url: str, journeys: int, within_seconds: float) -> None:
    """Wait until `journeys` agent tasks exist: each journey's last step before its timers."""
    db = create_database(database_url)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_seconds
    try:
        while True:
            async with db.session() as session:
                tasks = int(await session.scalar(select(func.count()).select_from(Task)) or 0)
            if tasks >= journeys:
                return
            if loop.time() > deadline:
                raise TimeoutError(f"{tasks} of {journeys} journeys reached their timers")
            await asyncio.sleep(0.5)
    finally:
        await db.dispose()


async def _start_journeys(client: Client, numbers: range) -> None:
    gate = asyncio.Semaphore(STARTING_AT_ONCE)

    async def start(number: int) -> None:
        async with gate:
            await client.start_workflow(
                ComplaintEscalationWorkflow.run,
                JourneyInput(
                    customer_id=customer_id(number),
                    rule_id="memory-bench",
                    subject=complaint_id(number),
                ),
                id=complaint_workflow_id(customer_id(number), complaint_id(number)),
                task_queue=TASK_QUEUE,
            )

    await asyncio.gather(*(start(number) for number in numbers))


async def measure(batches: Sequence[int], cache: int, *, quiet: bool = False) -> MemoryFigures:
    """Start journeys up to each batch size in turn; worker RSS after each has settled."""
    sink = SmtpSink()
    sink.start()
    with tempfile.TemporaryDirectory(prefix="careflow-memory-") as name:
        folder = Path(name)
        temporal = EmbeddedTemporal(folder / "temporal", free_port(), free_port())
        await temporal.start()
        database_url = f"sqlite+aiosqlite:///{folder / 'careflow.db'}"
        await prepare_store(database_url, batches[-1], complaints=True)
        worker = start_child(
            [
                sys.executable,
                "-m",
                "bench.memory_bench",
                "--serve",
                temporal.address,
                database_url,
                str(sink.port),
                str(cache),
            ],
            folder / "worker.log",
        )
        try:
            client = await Client.connect(temporal.address)
            # A few journeys first, so imports and connections are not counted as growth.
            await _start_journeys(client, range(10))
            await _settled(database_url, 10, within_seconds=120)
            idle_kb = resident_kb(worker.pid)
            samples: list[tuple[int, int]] = []
            started = 10
            for size in batches:
                await _start_journeys(client, range(started, size))
                await _settled(database_url, size, within_seconds=60 + (size - started) / 2)
                await asyncio.sleep(1)  # let the last workflow tasks finish and be cached
                started = size
                samples.append((size, resident_kb(worker.pid)))
                if not quiet:
                    print(f"  {size:>8,} journeys waiting  {samples[-1][1] / 1024:7.1f} MB RSS")
        except BaseException:
            # The worker's own words are the quickest way to the cause.
            print((folder / "worker.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            stop_child(worker, timeout=60)
            temporal.stop()
            sink.stop()
    return MemoryFigures(cache, idle_kb, samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--batches", type=int, nargs="+", default=[1000, 2000, 4000])
    parser.add_argument("--cache", type=int, default=250)
    parser.add_argument("--serve", nargs=4, metavar=("ADDRESS", "DB", "SMTP_PORT", "CACHE"))
    options = parser.parse_args()
    if options.serve:
        address, database_url, smtp_port, cache = options.serve
        asyncio.run(serve(address, database_url, int(smtp_port), int(cache)))
        return
    result = asyncio.run(measure(options.batches, options.cache))
    print(f"idle (10 journeys)  {result.idle_kb / 1024:7.1f} MB RSS")
    print(f"RSS growth / journey growth, first to last batch: {result.growth:.2f} (0 = flat)")


if __name__ == "__main__":
    main()
