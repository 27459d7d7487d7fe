"""Worker memory with many journeys waiting on timers: bounded by the cache, not the count.

    python -m bench.memory_bench                         # 1,000 / 2,000 / 4,000 journeys
    python -m bench.memory_bench --batches 300 600 --cache 100
    python -m bench.memory_bench --waiting --batches 1000 10000 50000 100000

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

`--waiting` reaches 100,000 journeys. The dev server here starts about five
complaint journeys a second (each runs three activities, with store writes and an
SMTP exchange, before it waits), so 100,000 would take hours. Instead the same
worker process, with a `BenchWaitingJourneyWorkflow` registered beside careflow's
own, runs journeys that reach the waiting state in one workflow task
(bench/waiting_journey.py), against the in-memory time-skipping test server with
time skipping off, where hundreds start per second. What is measured is the same
question, the worker's memory per waiting journey, at the issue's size.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.careflow_process import complaint_id, customer_id, prepare_store, resident_kb
from bench.harness import Figure
from bench.waiting_journey import WaitingJourneyWorkflow
from careflow.config import Settings
from careflow.contracts import JourneyInput
from careflow.outreach.mailer import SmtpDelivery
from careflow.runtime.binaries import temporal_test_server_path
from careflow.runtime.processes import start_child, stop_child
from careflow.runtime.temporal_server import EmbeddedTemporal
from careflow.store import Task, create_database
from careflow.worker import create_worker
from careflow.workflows.complaint_escalation import ComplaintEscalationWorkflow
from careflow.workflows.ids import complaint_workflow_id
from tests.smtp_sink import SmtpSink, free_port

TASK_QUEUE = "careflow"
# Journeys started at once by the driver; more only queue up in the server.
STARTING_AT_ONCE = 50
# Waiting journeys are cheap to start: more at once keep the test server busy.
WAITING_STARTING_AT_ONCE = 100
# Journeys whose histories are read to see that a batch reached its timers: the
# newest ones (the server hands out tasks in order) and a random spread.
SETTLED_NEWEST, SETTLED_SPREAD = 20, 30


@dataclass(frozen=True)
class MemoryFigures:
    cache: int
    idle_kb: int
    # (journeys waiting, worker VmRSS in kB) after each batch settled.
    samples: list[tuple[int, int]]
    kind: str = "journeys"
    # Journeys started and settled per second over the whole run.
    rate: float = 0.0

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
                f"worker RSS, {last_journeys:,} vs {first_journeys:,} {self.kind} on timers",
                "MB",
                last_kb / 1024,
                first_kb / 1024,
                "lower",
                target_ratio=1.25,
                note=f"cache {self.cache}, RSS growth/journey growth {self.growth:.2f}",
            )
        ]


async def serve(
    address: str, database_url: str, smtp_port: int, cache: int, *, waiting: bool = False
) -> None:
    """The worker process: careflow's worker, its workflow cache fixed at `cache`
    (with `waiting`, also running the benchmark's waiting journeys)."""
    settings = Settings(
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
    if waiting:
        config["workflows"] = [*config["workflows"], WaitingJourneyWorkflow]
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
        worker = _worker_process(folder, temporal.address, database_url, sink.port, cache)
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


def _worker_process(
    folder: Path, address: str, database_url: str, smtp_port: int, cache: int, *extra: str
) -> subprocess.Popen[bytes]:
    return start_child(
        [
            sys.executable,
            "-m",
            "bench.memory_bench",
            "--serve",
            address,
            database_url,
            str(smtp_port),
            str(cache),
            *extra,
        ],
        folder / "worker.log",
    )


def _waiting_id(number: int) -> str:
    return f"waiting-{number}"


async def _start_waiting(client: Client, numbers: range) -> None:
    gate = asyncio.Semaphore(WAITING_STARTING_AT_ONCE)

    async def start(number: int) -> None:
        async with gate:
            await client.start_workflow(
                WaitingJourneyWorkflow.run,
                JourneyInput(customer_id=customer_id(number), rule_id="memory-bench"),
                id=_waiting_id(number),
                task_queue=TASK_QUEUE,
            )

    await asyncio.gather(*(start(number) for number in numbers))


async def _waiting_settled(client: Client, numbers: range, within_seconds: float) -> None:
    """Until the newest journeys of the batch and a random spread of it wait on their timer."""
    chaos = random.Random(len(numbers))
    sample = set(numbers[-SETTLED_NEWEST:])
    sample |= set(chaos.sample(numbers, min(SETTLED_SPREAD, len(numbers))))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_seconds
    while sample:
        number = min(sample)
        history = await client.get_workflow_handle(_waiting_id(number)).fetch_history()
        if any(event.event_type == EventType.EVENT_TYPE_TIMER_STARTED for event in history.events):
            sample.discard(number)
            continue
        if loop.time() > deadline:
            raise TimeoutError(f"journey {number} has not reached its timer")
        await asyncio.sleep(0.5)


async def measure_waiting(
    batches: Sequence[int], cache: int, *, quiet: bool = False
) -> MemoryFigures:
    """Waiting journeys up to each batch size on the test server; worker RSS after each."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(temporal_test_server_path())
    )
    address = env.client.service_client.config.target_host
    with tempfile.TemporaryDirectory(prefix="careflow-memory-") as name:
        folder = Path(name)
        database_url = f"sqlite+aiosqlite:///{folder / 'careflow.db'}"
        await prepare_store(database_url, 0)
        # Nothing is sent: the waiting journeys run no activities.
        worker = _worker_process(folder, address, database_url, free_port(), cache, "--waiting")
        try:
            client = env.client
            loop = asyncio.get_running_loop()
            began = loop.time()
            await _start_waiting(client, range(10))
            await _waiting_settled(client, range(10), within_seconds=120)
            idle_kb = resident_kb(worker.pid)
            samples: list[tuple[int, int]] = []
            started = 10
            for size in batches:
                await _start_waiting(client, range(started, size))
                await _waiting_settled(
                    client, range(started, size), within_seconds=120 + (size - started) / 20
                )
                await asyncio.sleep(1)  # let the last workflow tasks finish and be cached
                started = size
                samples.append((size, resident_kb(worker.pid)))
                if not quiet:
                    print(f"  {size:>8,} journeys waiting  {samples[-1][1] / 1024:7.1f} MB RSS")
            rate = batches[-1] / (loop.time() - began)
        except BaseException:
            print((folder / "worker.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            stop_child(worker, timeout=60)
            await env.shutdown()
    return MemoryFigures(cache, idle_kb, samples, kind="waiting journeys", rate=rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--batches", type=int, nargs="+", default=[1000, 2000, 4000])
    parser.add_argument("--cache", type=int, default=250)
    parser.add_argument("--serve", nargs=4, metavar=("ADDRESS", "DB", "SMTP_PORT", "CACHE"))
    parser.add_argument(
        "--waiting",
        action="store_true",
        help="lightweight waiting journeys on the test server (reaches 100,000)",
    )
    options = parser.parse_args()
    if options.serve:
        address, database_url, smtp_port, cache = options.serve
        asyncio.run(
            serve(address, database_url, int(smtp_port), int(cache), waiting=options.waiting)
        )
        return
    if options.waiting:
        result = asyncio.run(measure_waiting(options.batches, options.cache))
        print(f"started and settled {result.rate:.0f} journeys/s")
    else:
        result = asyncio.run(measure(options.batches, options.cache))
    print(f"idle (10 journeys)  {result.idle_kb / 1024:7.1f} MB RSS")
    print(f"RSS growth / journey growth, first to last batch: {result.growth:.2f} (0 = flat)")


if __name__ == "__main__":
    main()
