"""End to end: `complaint_opened` over HTTP -> acknowledgement at an SMTP sink.

    python -m bench.e2e_bench                  # burst of 200, then 15 s at a rate both sustain
    python -m bench.e2e_bench --rate 20 --seconds 60 --burst 1000 --no-bare
    python -m bench.e2e_bench --no-bare --processes 1     # one careflow process per side only

careflow runs on its embedded defaults as an operator runs it: `careflow up` in its
own process (worker and HTTP API) on a SQLite store, against a fresh Temporal dev
server (`EmbeddedTemporal`), sending to an aiosmtpd sink in this process and
delivering its webhooks to the capture endpoint in a process of its own
(bench/capture_endpoint.py: the receivers are not careflow's to count). Each
event is for its own customer (created beforehand, each with their own address),
so the recipient of an acknowledgement names the event it answers.

Three sides in the same run, one after the other, each on its own fresh dev server
and store and the same sink:
- `workflow`: careflow with `CAREFLOW_EVENT_PATH=workflow`, the event path before
  the direct one: a `CustomerEventWorkflow` per event (evaluate and dispatch
  activities) that starts the complaint journey. The baseline of the new path.
- `direct`: careflow with the default `CAREFLOW_EVENT_PATH=direct`
  (careflow/intake/direct.py): rules evaluated and the journey started by the
  process that accepts the event. Targets: CPU per event (Temporal server plus
  worker) at most 0.5x the workflow path's, sustained events/s at least 1.5x.
- `bare` (unless `--no-bare`): `bench.bare_journey`, the workflow path's two
  workflows and five activities with nothing of careflow in them, its worker in its
  own process, started directly by a Temporal client (no HTTP, no store).

Two phases per side, after a warm-up:
- burst: `--burst` events as fast as `--concurrency` requests in flight allow;
  sustained events/s = events / (last arrival - first send).
- fixed rate, once the burst's trailing work (tasks, webhook deliveries) is done:
  `--rate` events/s for `--seconds` s; latency from the POST (or
  start_workflow) to the message's arrival; p50/p95/p99. Without `--rate`, the
  rate is 60% of the workflow path's sustained events/s (measured first), a rate
  both careflow paths sustain, so the latencies compare the paths rather than the
  length of a queue.
With `--rounds 2` (the default) the two paths run twice each, in the order
workflow, direct, direct, workflow, and each path's figures pool its two runs: a
machine that speeds up or slows down during the run weighs on both alike.

Then each careflow path's burst once more with one `careflow up` per core (two
here, on one store and one dev server; `--processes`): a path bounded by careflow's
own process gains from a second one, a path bounded by the Temporal server does
not (a second worker only competes with it for the cores). The throughput target
compares each path at its best of the two; CPU per event and latencies compare
one process each.

Over both phases the CPU time of the Temporal server and of the worker process
is read from /proc and reported per event: it depends much less than wall-clock
figures on what else the machine runs (on a shared machine it still moves by a
third between runs, so compare sides within one run), and it is the figure to
size hardware with.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.smtp import Envelope, Session
from temporalio.client import Client

from bench.bare_journey import BareEvent, BareEventWorkflow
from bench.capture_endpoint import CaptureEndpoint
from bench.careflow_process import (
    CareflowProcess,
    complaint_id,
    cpu_seconds,
    customer_email,
    customer_id,
    prepare_store,
)
from bench.harness import Figure
from careflow.runtime.processes import start_child, stop_child
from careflow.runtime.temporal_server import EmbeddedTemporal
from tests.smtp_sink import SmtpSink, _Collector, free_port

# Events used to warm each side up (imports, sandbox, connections) before measuring.
WARM_UP = 10
# Fire one event: its number picks the customer and the complaint.
Fire = Callable[[int], Coroutine[Any, Any, None]]
# Entered around a side's measured phases, given the pids whose CPU time is counted
# (bench/tools/inside_event_path.py looks inside the careflow process meanwhile).
Watch = Callable[[Mapping[str, Sequence[int]]], AbstractAsyncContextManager[None]]


class _StampingCollector(_Collector):
    """Records when each recipient's message arrived (monotonic clock, any thread)."""

    sink: TimedSink

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        arrived = time.monotonic()
        with self.sink.lock:
            for address in envelope.rcpt_tos:
                self.sink.arrivals.setdefault(address, arrived)
        return reply


class TimedSink(SmtpSink):
    """An SMTP sink that knows when the first message for each address arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: dict[str, float] = {}
        self.controller.handler = _StampingCollector(self)

    async def arrival_times(self, addresses: Sequence[str], within_seconds: float) -> list[float]:
        """Arrival times of a message for each address, in order; TimeoutError if late."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_seconds
        while True:
            with self.lock:
                missing = sum(1 for address in addresses if address not in self.arrivals)
                if not missing:
                    return [self.arrivals[address] for address in addresses]
            if loop.time() > deadline:
                raise TimeoutError(f"{missing} of {len(addresses)} messages did not arrive")
            await asyncio.sleep(0.05)


# Without `--rate`, the fixed-rate phase runs at this share of the baseline's burst.
SUSTAINED_SHARE = 0.6
# Processes using less of a core than this are done with the burst (the dev server
# and careflow's polling loops take a few percent when idle).
QUIET_SHARE = 0.15


@dataclass(frozen=True)
class Load:
    """The load each side gets: a burst, then a fixed rate for a while.

    `rate` None: `SUSTAINED_SHARE` of the first side's sustained events/s.
    """

    rate: float | None = None
    seconds: float = 15
    burst: int = 200
    concurrency: int = 16
    bare: bool = True
    # Runs of each path with one careflow process: with 2, in the order workflow,
    # direct, direct, workflow, so a machine that speeds up or slows down during the
    # run (a shared one moves by a third within minutes) weighs on both paths alike;
    # each path's figures pool its runs.
    rounds: int = 2
    # careflow processes (`careflow up`, one per core) for the second burst of each
    # path; 1: no second burst.
    processes: int = field(default_factory=lambda: os.cpu_count() or 1)

    def events(self, rate: float) -> int:
        """Events per side, warm-up included (one customer each)."""
        return WARM_UP + self.burst + round(rate * self.seconds)

    @property
    def most_events(self) -> int:
        """Customers to prepare per side: enough for any rate up to 50 events/s."""
        return self.events(self.rate if self.rate is not None else 50)


@dataclass(frozen=True)
class LoadFigures:
    """One side's results: fixed-rate latencies (seconds) and burst throughput."""

    latencies: list[float]
    offered_per_second: float
    achieved_per_second: float
    sustained_per_second: float
    # CPU seconds per measured event, by process ("temporal", "worker").
    cpu_per_event: dict[str, float]

    def percentile(self, percent: int) -> float:
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[percent - 1]

    @property
    def cpu_total(self) -> float:
        """CPU seconds per event, Temporal server and worker together."""
        return sum(self.cpu_per_event.values())

    @staticmethod
    def pooled(runs: Sequence[LoadFigures]) -> LoadFigures:
        """Runs of one side at the same load as one: latencies together, events/s and
        CPU per event averaged (every run counts as many events)."""
        return LoadFigures(
            [latency for run in runs for latency in run.latencies],
            runs[0].offered_per_second,
            statistics.fmean(run.achieved_per_second for run in runs),
            statistics.fmean(run.sustained_per_second for run in runs),
            {
                name: statistics.fmean(run.cpu_per_event[name] for run in runs)
                for name in runs[0].cpu_per_event
            },
        )


@dataclass(frozen=True)
class E2EFigures:
    """The new event path against the old one (its baseline), and bare Temporal."""

    direct: LoadFigures
    workflow: LoadFigures
    bare: LoadFigures | None = None
    # Each path's burst with `processes` careflow processes (None: not measured).
    direct_scaled: LoadFigures | None = None
    workflow_scaled: LoadFigures | None = None
    processes: int = 1

    def best(self, path: str) -> tuple[LoadFigures, int]:
        """The path's side with the higher sustained events/s, and its process count."""
        single, scaled = (
            (self.direct, self.direct_scaled)
            if path == "direct"
            else (self.workflow, self.workflow_scaled)
        )
        if scaled is not None and scaled.sustained_per_second > single.sustained_per_second:
            return scaled, self.processes
        return single, 1

    def figures(self) -> list[Figure]:
        """The harness rows: direct path vs workflow path, and vs bare Temporal."""
        new, old = self.direct, self.workflow
        rows = [
            Figure(
                "e2e",
                f"latency p{percent} at {new.offered_per_second:.3g} events/s, direct vs "
                "workflow path",
                "s",
                new.percentile(percent),
                old.percentile(percent),
                "lower",
            )
            for percent in (50, 95, 99)
        ]
        rows += [
            Figure(
                "e2e",
                f"CPU per event, {process}, direct vs workflow path",
                "ms",
                new.cpu_per_event[process] * 1000,
                old.cpu_per_event[process] * 1000,
                "lower",
            )
            for process in ("temporal", "worker")
        ]
        rows.append(
            Figure(
                "e2e",
                "CPU per event, Temporal + worker, direct vs workflow path",
                "ms",
                new.cpu_total * 1000,
                old.cpu_total * 1000,
                "lower",
                target_ratio=0.5,
            )
        )
        new_scaled, old_scaled = self.direct_scaled, self.workflow_scaled
        scaled = new_scaled is not None and old_scaled is not None
        rows.append(
            Figure(
                "e2e",
                "sustained throughput (burst), direct vs workflow path, one careflow process each",
                "events/s",
                new.sustained_per_second,
                old.sustained_per_second,
                "higher",
                # With a second burst, the target is on each path's best (below).
                target_ratio=None if scaled else 1.5,
            )
        )
        if new_scaled is not None and old_scaled is not None:
            rows.append(
                Figure(
                    "e2e",
                    f"sustained throughput (burst), {self.processes} careflow processes,"
                    " direct vs workflow path",
                    "events/s",
                    new_scaled.sustained_per_second,
                    old_scaled.sustained_per_second,
                    "higher",
                )
            )
            (best_new, new_processes), (best_old, old_processes) = (
                self.best("direct"),
                self.best("workflow"),
            )
            rows.append(
                Figure(
                    "e2e",
                    "sustained throughput (burst), each path at its best of 1 or"
                    f" {self.processes} careflow processes (direct: {new_processes},"
                    f" workflow: {old_processes})",
                    "events/s",
                    best_new.sustained_per_second,
                    best_old.sustained_per_second,
                    "higher",
                    target_ratio=1.5,
                )
            )
        if self.bare is not None:
            rows.append(
                Figure(
                    "e2e",
                    "sustained throughput (burst), direct path vs bare Temporal",
                    "events/s",
                    new.sustained_per_second,
                    self.bare.sustained_per_second,
                    "higher",
                    target_ratio=0.7,
                )
            )
        return rows


async def fixed_rate(fire: Fire, numbers: Sequence[int], rate: float) -> tuple[list[float], float]:
    """Fire one event every 1/rate s (on schedule, not after the previous answer).

    Returns each event's send time and the rate actually achieved.
    """
    loop = asyncio.get_running_loop()
    sent: list[float] = []
    tasks: list[asyncio.Task[None]] = []
    began = loop.time()
    for index, number in enumerate(numbers):
        delay = began + index / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        sent.append(time.monotonic())
        tasks.append(asyncio.create_task(fire(number)))
    # The rate at which events went out, not counting the wait for the last answers.
    achieved = (len(numbers) - 1) / (sent[-1] - sent[0]) if len(sent) > 1 else rate
    await asyncio.gather(*tasks)
    return sent, achieved


async def burst(fire: Fire, numbers: Sequence[int], concurrency: int) -> float:
    """Fire every event with at most `concurrency` in flight; returns the first send time."""
    gate = asyncio.Semaphore(concurrency)

    async def fire_gated(number: int) -> None:
        async with gate:
            await fire(number)

    began = time.monotonic()
    await asyncio.gather(*(fire_gated(number) for number in numbers))
    return began


async def run_side(
    fire: Fire,
    sink: TimedSink,
    first: int,
    load: Load,
    processes: dict[str, list[int]],
    rate: float | None,
    *,
    with_fixed_rate: bool = True,
    watch: Watch | None = None,
) -> LoadFigures:
    """Warm up, then the burst, then the fixed-rate phase, on customers from `first` on.

    `processes` (name -> pids) are the server and the workers whose CPU time is
    counted over both measured phases. `rate` None: `SUSTAINED_SHARE` of this side's
    own burst throughput. `with_fixed_rate` False: the burst alone (no latencies, CPU over
    the burst and its trailing work). `watch` is entered around the measured phases.
    """
    warm = range(first, first + WARM_UP)
    await asyncio.gather(*(fire(number) for number in warm))
    await sink.arrival_times([customer_email(n) for n in warm], within_seconds=120)
    async with watch(processes) if watch is not None else nullcontext():
        cpu_before = {name: sum(map(cpu_seconds, pids)) for name, pids in processes.items()}

        burst_numbers = range(warm.stop, warm.stop + load.burst)
        began = await burst(fire, burst_numbers, load.concurrency)
        arrived = await sink.arrival_times(
            [customer_email(n) for n in burst_numbers], 120 + load.burst / 2
        )
        sustained = load.burst / (max(arrived) - began)

        # The burst's events go on after their acknowledgements (tasks, webhook deliveries):
        # the fixed-rate phase starts once that work is done, so its latencies are those of
        # the rate, not of a backlog (which a faster burst leaves more of).
        await quiesce([pid for pids in processes.values() for pid in pids])

        def cpu_per_event(measured: int) -> dict[str, float]:
            return {
                name: (sum(map(cpu_seconds, pids)) - cpu_before[name]) / measured
                for name, pids in processes.items()
            }

        if not with_fixed_rate:
            return LoadFigures([], 0.0, 0.0, sustained, cpu_per_event(load.burst))
        rate = rate if rate is not None else round(sustained * SUSTAINED_SHARE, 1)
        steady = range(burst_numbers.stop, burst_numbers.stop + round(rate * load.seconds))
        sent, achieved = await fixed_rate(fire, steady, rate)
        arrived = await sink.arrival_times(
            [customer_email(n) for n in steady], 120 + len(steady) / 2
        )
        latencies = [done - start for start, done in zip(sent, arrived, strict=True)]

        return LoadFigures(
            latencies, rate, achieved, sustained, cpu_per_event(len(steady) + load.burst)
        )


async def quiesce(pids: Sequence[int], within_seconds: float = 120) -> None:
    """Until these processes used under `QUIET_SHARE` of a core over a second."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_seconds
    used = sum(map(cpu_seconds, pids))
    while loop.time() < deadline:
        await asyncio.sleep(1.0)
        now = sum(map(cpu_seconds, pids))
        if now - used < QUIET_SHARE:
            return
        used = now


def server_pid(temporal: EmbeddedTemporal) -> int:
    assert temporal.process is not None, "start the server first"
    return temporal.process.pid


async def measure_careflow(
    folder: Path,
    sink: TimedSink,
    load: Load,
    *,
    workers: int = 1,
    database_url: str | None = None,
    event_path: str = "direct",
    first: int = 0,
    rate: float | None = None,
    with_fixed_rate: bool = True,
    env: Mapping[str, str] | None = None,
    watch: Watch | None = None,
) -> LoadFigures:
    """careflow up on a fresh dev server, events posted over HTTP.

    The store is a fresh SQLite file unless `database_url` names another (empty)
    one; with several `workers`, each is a whole `careflow up` process and the
    events are posted to their APIs in turn. `event_path` is its
    `CAREFLOW_EVENT_PATH`; customers are numbered from `first`; `rate` and
    `with_fixed_rate` and `watch` as `run_side`; `env` is added to each careflow
    process's environment.
    """
    temporal = EmbeddedTemporal(folder / "temporal", free_port(), free_port())
    await temporal.start()
    database_url = database_url or f"sqlite+aiosqlite:///{folder / 'careflow.db'}"
    await prepare_store(database_url, first + load.most_events)
    capture = CaptureEndpoint(folder / "capture", free_port())
    processes = [
        CareflowProcess(
            folder / f"var-{number}",
            temporal=temporal.address,
            database_url=database_url,
            smtp_port=sink.port,
        )
        for number in range(workers)
    ]
    for process in processes:
        process.env["CAREFLOW_EVENT_PATH"] = event_path
        # The webhooks' receiving end is not careflow's: out of the measured processes.
        process.env["CAREFLOW_CAPTURE_URL"] = capture.url
        process.env.update(env or {})
    try:
        await capture.start()
        await asyncio.gather(*(process.start() for process in processes))
        limits = httpx.Limits(max_connections=load.concurrency * 2)
        async with httpx.AsyncClient(limits=limits) as http:

            async def post(number: int) -> None:
                api = processes[number % workers].base_url
                event = {
                    "type": "complaint_opened",
                    "customer_id": customer_id(number),
                    "occurred_at": datetime.now(UTC).isoformat(),
                    "event_id": f"bench-{number}",
                    "data": {"complaint_id": complaint_id(number), "severity": "low"},
                }
                for attempt in range(3):
                    try:
                        response = await http.post(f"{api}/events", json=event, timeout=60)
                        break
                    except httpx.TransportError:
                        # uvicorn closes idle keep-alive connections; a pooled one can
                        # die under the request. Re-posting is safe: the event_id
                        # makes a repeat a no-op. The latency still counts from the first.
                        if attempt == 2:
                            raise
                if response.status_code != 202:
                    raise RuntimeError(f"POST /events: {response.status_code} {response.text}")

            pids = {"temporal": [server_pid(temporal)], "worker": [p.pid for p in processes]}
            return await run_side(
                post,
                sink,
                first,
                load,
                pids,
                rate if rate is not None else load.rate,
                with_fixed_rate=with_fixed_rate,
                watch=watch,
            )
    finally:
        for process in processes:
            process.stop()
        capture.stop()
        temporal.stop()


async def measure_baseline(
    folder: Path, sink: TimedSink, first: int, load: Load, rate: float | None = None
) -> LoadFigures:
    """The bare workflows on a fresh dev server, started directly by a client."""
    temporal = EmbeddedTemporal(folder / "temporal", free_port(), free_port())
    await temporal.start()
    task_queue = "bare"
    worker = start_child(
        [sys.executable, "-m", "bench.bare_journey", temporal.address, task_queue, str(sink.port)],
        folder / "bare-worker.log",
    )
    try:
        client = await Client.connect(temporal.address)

        async def start(number: int) -> None:
            await client.start_workflow(
                BareEventWorkflow.run,
                BareEvent(f"bench-{number}", customer_email(number)),
                id=f"bare-event-{number}",
                task_queue=task_queue,
            )

        pids = {"temporal": [server_pid(temporal)], "worker": [worker.pid]}
        return await run_side(start, sink, first, load, pids, rate)
    finally:
        stop_child(worker)
        temporal.stop()


async def measure(load: Load) -> E2EFigures:
    """The workflow path, the direct path and bare Temporal, one after the other, on
    the same SMTP sink (distinct recipients); the fixed rate is the first side's
    (see `Load.rate`)."""
    sink = TimedSink()
    sink.start()
    # Each side's customers come after the previous side's: every address is new.
    block = load.most_events
    try:
        with tempfile.TemporaryDirectory(prefix="careflow-e2e-") as folder:
            # Blocks of customers: 0 and 1 the first round, 2 bare, 3 and 4 the
            # scaled bursts, then two per further round.
            first_workflow = await measure_careflow(
                Path(folder) / "workflow", sink, load, event_path="workflow", rate=load.rate
            )
            rate = first_workflow.offered_per_second
            runs = {
                "workflow": [first_workflow],
                "direct": [
                    await measure_careflow(
                        Path(folder) / "direct",
                        sink,
                        load,
                        event_path="direct",
                        first=block,
                        rate=rate,
                    )
                ],
            }
            for round_number in range(1, load.rounds):
                # Every other round the other way round: A B B A.
                order = ("direct", "workflow") if round_number % 2 else ("workflow", "direct")
                for index, path in enumerate(order):
                    runs[path].append(
                        await measure_careflow(
                            Path(folder) / f"{path}-{round_number}",
                            sink,
                            load,
                            event_path=path,
                            first=(3 + 2 * round_number + index) * block,
                            rate=rate,
                        )
                    )
            bare = None
            if load.bare:
                bare = await measure_baseline(Path(folder) / "bare", sink, 2 * block, load, rate)
            scaled: dict[str, LoadFigures] = {}
            if load.processes > 1:
                for index, path in enumerate(("workflow", "direct")):
                    scaled[path] = await measure_careflow(
                        Path(folder) / f"{path}-scaled",
                        sink,
                        load,
                        workers=load.processes,
                        event_path=path,
                        first=(3 + index) * block,
                        with_fixed_rate=False,
                    )
    finally:
        sink.stop()
    return E2EFigures(
        LoadFigures.pooled(runs["direct"]),
        LoadFigures.pooled(runs["workflow"]),
        bare,
        direct_scaled=scaled.get("direct"),
        workflow_scaled=scaled.get("workflow"),
        processes=load.processes,
    )


def describe(result: E2EFigures) -> list[str]:
    """Each side's figures in a line, then the ratios the issue asks for."""
    sides = [("direct", result.direct), ("workflow", result.workflow)]
    if result.bare is not None:
        sides.append(("bare", result.bare))
    lines = [
        f"{side:8s} burst {figures.sustained_per_second:6.2f} events/s;"
        f"  at {figures.achieved_per_second:5.2f}/s p50 {figures.percentile(50):6.3f} s"
        f"  p95 {figures.percentile(95):6.3f} s  p99 {figures.percentile(99):6.3f} s;"
        f"  CPU per event {figures.cpu_per_event['temporal'] * 1000:.0f} ms Temporal"
        f" + {figures.cpu_per_event['worker'] * 1000:.0f} ms worker"
        f" = {figures.cpu_total * 1000:.0f} ms"
        for side, figures in sides
    ]
    new, old = result.direct, result.workflow
    lines.append(
        f"direct/workflow: CPU per event {new.cpu_total / old.cpu_total:.2f}x (target <= 0.5x),"
        f" sustained {new.sustained_per_second / old.sustained_per_second:.2f}x"
        f" (target >= 1.5x), p50 {new.percentile(50) / old.percentile(50):.2f}x,"
        f" p99 {new.percentile(99) / old.percentile(99):.2f}x"
    )
    if result.bare is not None:
        ratio = new.sustained_per_second / result.bare.sustained_per_second
        lines.append(f"direct/bare: sustained {ratio:.2f}x (target >= 0.7x)")
    for path, scaled in (("direct", result.direct_scaled), ("workflow", result.workflow_scaled)):
        if scaled is not None:
            lines.append(
                f"{path:8s} burst {scaled.sustained_per_second:6.2f} events/s with"
                f" {result.processes} careflow processes;  CPU per event"
                f" {scaled.cpu_per_event['temporal'] * 1000:.0f} ms Temporal"
                f" + {scaled.cpu_per_event['worker'] * 1000:.0f} ms workers"
            )
    if result.direct_scaled is not None and result.workflow_scaled is not None:
        (best_new, new_processes), (best_old, old_processes) = (
            result.best("direct"),
            result.best("workflow"),
        )
        ratio = best_new.sustained_per_second / best_old.sustained_per_second
        lines.append(
            f"each at its best: direct {best_new.sustained_per_second:.2f} events/s"
            f" ({new_processes} processes) vs workflow {best_old.sustained_per_second:.2f}"
            f" ({old_processes}): {ratio:.2f}x (target >= 1.5x)"
        )
    return lines


def _at_least_one(text: str) -> int:
    """An argparse type: a whole number of runs or processes, 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    defaults = Load()
    parser.add_argument("--rate", type=float, default=defaults.rate)
    parser.add_argument("--seconds", type=float, default=defaults.seconds)
    parser.add_argument("--burst", type=int, default=defaults.burst)
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument("--no-bare", dest="bare", action="store_false")
    parser.add_argument(
        "--rounds",
        type=_at_least_one,
        default=defaults.rounds,
        help="runs of each path with one careflow process, in the order A B B A",
    )
    parser.add_argument(
        "--processes",
        type=_at_least_one,
        default=defaults.processes,
        help="careflow processes for each path's second burst (1: none)",
    )
    options = parser.parse_args()
    load = Load(
        options.rate,
        options.seconds,
        options.burst,
        options.concurrency,
        options.bare,
        options.rounds,
        options.processes,
    )
    for line in describe(asyncio.run(measure(load))):
        print(line)


if __name__ == "__main__":
    main()
