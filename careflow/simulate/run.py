"""Run the real journeys over a history, on Temporal's time-skipping test servers.

A fresh store gets the history before the first simulated day (imported, so it
triggers nothing). Then, day by day, the server's clock is moved to each moment
something happens: every event of the window is posted through the real intake
(`accept_event` on the direct event path, as `POST /events` does by default) at its
own time, and the daily scan (`DailyScanWorkflow`) runs at the scan time. The worker is the
production one: every workflow and activity (`workflows.registry`,
`activities.registry.build_activities`), the rule files, journeys, outreach policy
and holdout of the simulated rules folder; only delivery is captured, and the
workflows run outside the sandbox. While the clock is moved, journeys wake up on
their timers and send, defer for quiet hours or the contact budget, and end,
exactly as they would live.

The server only ever skips time when every workflow it knows has a worker for its
tasks, which is why the worker carries everything registered.

The customers are split into partitions (`partition_of`, `PARTITION_CUSTOMERS`), each
run as above on a server, worker and store of its own, in this process or in worker
processes side by side (`workers`); the report (`outcomes`) reads every partition's
store and the merged send log, so it is the same whatever the split.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import multiprocessing
import os
import shutil
import signal
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from functools import partial
from itertools import groupby
from multiprocessing.managers import SyncManager
from pathlib import Path
from time import monotonic
from typing import Any, Protocol

from ruamel.yaml import YAML
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    StartActivityInput,
    StartLocalActivityInput,
    UnsandboxedWorkflowRunner,
    Worker,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from careflow.activities.outreach import as_of
from careflow.activities.registry import build_activities, build_direct_evaluation
from careflow.config import Settings
from careflow.contracts.outreach import SendEmailInput, SendEmailResult
from careflow.contracts.scan import DailyScanInput
from careflow.gc_tuning import long_run_collection
from careflow.intake.direct import DirectEvaluation
from careflow.intake.events import EventIn, accept_event
from careflow.intake.importer import CustomerRow, write_records
from careflow.outreach.envelope import OutgoingEmail
from careflow.rule_references import build_references
from careflow.rules import LiveRuleBook, load_rulebook
from careflow.rules.rulebook import RULE_FILE_PATTERN
from careflow.runtime.processes import die_with_parent
from careflow.simulate.history import History, LiveEvent, read_history, shift_after
from careflow.simulate.scratch import data_files, grant_marketing_consent
from careflow.simulate.time_skipping import TimeSkippingServer
from careflow.store import Database, create_database
from careflow.workflows.daily_scan import DailyScanWorkflow
from careflow.workflows.registry import JOURNEYS, WORKFLOWS

TASK_QUEUE = "simulate"
# Every simulation keys its pseudonyms (in journey ids, and so in the report) with one
# fixed key, so the same data and rules give the same report whatever the run's home.
# Nothing a simulation signs leaves it: its mail is captured, never sent.
SIMULATION_KEY = "careflow-simulation"
# Customers without an address get one under a reserved domain (RFC 2606): nothing is
# sent anyway, and without one every message would be skipped for `no_address`.
ASSUMED_DOMAIN = "simulated.invalid"
# Events of different customers at one instant are posted this many at a time.
PARALLEL_CUSTOMERS = 16
# The workflows run outside the sandbox: it re-imports a workflow's modules for every
# new instance (compiling them from source where bytecode is not written), an eighth of
# the worker's main thread on a day that starts 20,000 offers (docs/benchmarks.md). The
# same workflow code runs; the sandbox's determinism checks run in the tests and live.
SIMULATION_RUNNER = UnsandboxedWorkflowRunner()
# Each workflow activation runs in the event loop's thread (the SDK's `debug_mode`),
# not handed to a thread pool and back: two thread switches per activation (4% of a
# simulation's CPU on the CDNOW sample). The same workflow code runs, activations in the same order;
# the SDK's deadlock detection (an activation over 2 s fails its task) is off, which
# on a busy machine also keeps a slow activation from changing a simulation's
# outcome. The detection still runs in the tests and live.
SIMULATION_INLINE_ACTIVATIONS = True
# Journeys in flight stay cached: with the SDK's 1,000, a day that starts 20,000 offers
# took 1,084 s instead of 838 (both processes spent a third more CPU: evicted journeys
# come back as full-history tasks and replays). It costs about 1.6 GB at 20,000.
CACHED_WORKFLOWS = 50_000
# Customers of one time-skipping server at most. Customers are independent in a
# simulation (journeys, contact budget, holdout and consent are each customer's), so
# they are split into partitions, each simulated on a server and worker of its own
# and the reports merged. The test server's work for timers due at one instant grows
# faster than their number (20,000 reminders at one instant went at 2 a second), so a
# partition's due set is kept small whatever the number of worker processes.
PARTITION_CUSTOMERS = 1_000
# The key of the hash that assigns a customer to a partition: fixed, so the same data
# splits the same way on every run (and the report is the same whatever the split).
_PARTITION_KEY = b"careflow-simulate-partition"
# How long one skip of the clock may take. The server answers only once every journey
# due before the target has run: 2,000 offers held for quiet hours all send at their
# end, which took over a minute on a busy machine (2,357 customers). Without a timeout
# the client gives up after its default for an ordinary call and the run stops.
SKIP_TIMEOUT = timedelta(hours=12)


@dataclass
class SendRecord:
    """One intended message (journey + step) as its `send_email` calls answered."""

    customer_id: str
    workflow_id: str
    template_id: str
    topic: str
    status: str = "pending"
    reason: str | None = None
    at: datetime | None = None  # server time of the last answer (the send, when sent)
    deferrals: list[str] = field(default_factory=list)  # reasons, one per deferral
    offer_value: float | None = None
    offer_currency: str | None = None


class SendLog:
    """What every `send_email` call answered, and how many activities are running."""

    def __init__(self, on_sent: Callable[[int], None] | None = None) -> None:
        self.sends: dict[str, SendRecord] = {}
        self.sent = 0
        self.running = 0
        self._idle = asyncio.Condition()
        # Told the number of messages sent so far at each send: a busy simulated day
        # can take minutes, and a progress bar that only moves per day looks stuck.
        self._on_sent = on_sent

    def record(self, request: SendEmailInput, result: SendEmailResult, at: datetime) -> None:
        key = f"{request.workflow_id}/{request.step_id}"
        entry = self.sends.get(key)
        if entry is None:
            value = request.params.get("offer_value")
            currency = request.params.get("offer_currency")
            entry = self.sends[key] = SendRecord(
                request.customer_id,
                request.workflow_id,
                request.template_id,
                request.topic,
                offer_value=float(value) if isinstance(value, int | float) else None,
                offer_currency=str(currency) if currency is not None else None,
            )
        if result.status == "sent" and entry.status != "sent":
            self.sent += 1
            if self._on_sent is not None:
                self._on_sent(self.sent)
        entry.status, entry.reason, entry.at = result.status, result.reason, at
        if result.status == "deferred" and result.reason:
            entry.deferrals.append(result.reason)

    async def started(self) -> None:
        async with self._idle:
            self.running += 1

    async def finished(self) -> None:
        async with self._idle:
            self.running -= 1
            self._idle.notify_all()

    async def settled(self) -> None:
        """Return once no activity is running (after the last moment was reached)."""
        async with self._idle:
            await self._idle.wait_for(lambda: self.running == 0)


class _RecordSends(Interceptor):
    """Sees every activity the simulation's worker runs; keeps `send_email`'s answers."""

    def __init__(self, log: SendLog) -> None:
        self.log = log

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _RecordSendsInbound(next, self.log)


class _RecordSendsInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, log: SendLog) -> None:
        super().__init__(next)
        self.log = log

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        await self.log.started()
        try:
            result = await super().execute_activity(input)
        finally:
            await self.log.finished()
        if (
            activity.info().activity_type == "send_email"
            and isinstance(result, SendEmailResult)
            and input.args
            and isinstance(input.args[0], SendEmailInput)
        ):
            # The instant the send decided at (a local activity's info has no server time).
            self.log.record(input.args[0], result, as_of(input.args[0].planned_at))
        return result


# Activities a simulation runs inside the workflow task that asks for them (local
# activities), not through the server's activity queue: a send is a store round trip
# and a captured message here, and a regular activity costs the test server a task
# dispatch and one more workflow task to hand the result back, for each of the
# thousands of messages of a day (the sends decide as of their `planned_at`, never
# the server's clock, so the decisions are the same).
LOCAL_IN_SIMULATION = frozenset({"send_email"})


class _SendsInWorkflowTask(Interceptor):
    """Runs the `LOCAL_IN_SIMULATION` activities of every workflow as local ones."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        return _SendsInWorkflowTaskInbound


class _SendsInWorkflowTaskInbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_SendsInWorkflowTaskOutbound(outbound))


class _SendsInWorkflowTaskOutbound(WorkflowOutboundInterceptor):
    def start_activity(self, input: StartActivityInput) -> Any:
        if input.activity not in LOCAL_IN_SIMULATION:
            return super().start_activity(input)
        return super().start_local_activity(
            StartLocalActivityInput(
                activity=input.activity,
                args=input.args,
                activity_id=input.activity_id,
                schedule_to_close_timeout=input.schedule_to_close_timeout,
                schedule_to_start_timeout=input.schedule_to_start_timeout,
                start_to_close_timeout=input.start_to_close_timeout,
                retry_policy=input.retry_policy,
                local_retry_threshold=None,
                cancellation_type=input.cancellation_type,
                headers=input.headers,
                summary=input.summary,
                event_groups=input.event_groups,
                arg_types=input.arg_types,
                ret_type=input.ret_type,
            )
        )


class CapturedDelivery:
    """Delivery for simulations: nothing leaves the machine; the send log is the record.

    It takes flat messages too (`FlatDelivery`), so the send step writes each one out
    as bytes (`flat_email`) rather than through the email library's header classes:
    the same checks and the same failures, for less CPU.
    """

    def __init__(self) -> None:
        self.delivered = 0

    async def deliver(self, message: EmailMessage) -> None:
        self.delivered += 1

    async def deliver_flat(self, message: OutgoingEmail) -> None:
        self.delivered += 1

    async def close(self) -> None:
        return None


@dataclass
class JourneyRun:
    """A finished simulation: its stores (dispose them), the time shift and the send log.

    `parts` holds one store per partition of the customers (`partition_of`), `db` is
    the first; with one partition that is the whole run's store.
    """

    db: Database
    rules_dir: Path
    ruleset_hash: str
    rule_ids: list[str]
    start: date
    days: int
    shift: timedelta
    sends: SendLog
    parts: list[Database] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.parts:
            self.parts = [self.db]

    def store_of(self, customer_id: str) -> Database:
        """The store of the partition that simulated `customer_id`."""
        return self.parts[partition_of(customer_id, len(self.parts))]

    async def dispose(self) -> None:
        for part in self.parts:
            await part.dispose()

    @property
    def begin(self) -> datetime:
        """The first simulated instant, on the server's (shifted) clock."""
        return datetime.combine(self.start, time(), UTC) + self.shift

    @property
    def end(self) -> datetime:
        return self.begin + timedelta(days=self.days)


async def run_journeys(
    data: Path,
    rules_dir: Path,
    *,
    settings: Settings,
    work_dir: Path,
    start: date,
    days: int,
    scan_time: time = time(6),
    assume_consent: bool = False,
    assume_email: bool = False,
    assume_approvals: str | None = None,
    on_day: Callable[[date], None] | None = None,
    on_sent: Callable[[int], None] | None = None,
    workers: int = 1,
    partition_customers: int = PARTITION_CUSTOMERS,
) -> JourneyRun:
    """Simulate `days` days from `start` (UTC) with the rules folder `rules_dir`.

    Operator files the folder lacks (journeys.yaml, outreach_policy.yaml, ...) are the
    configured ones. The customers are split into partitions (`partitions_for`), each
    simulated on a test server of its own: one after the other in this process when
    `workers` is 1, else in up to `workers` processes side by side (each runs one
    partition at a time, so memory stays that of one partition per process). With one
    partition the store is `work_dir/careflow.db`, else `work_dir/part-NN/careflow.db`,
    replaced if present; `partition_customers` bounds a partition's customers (a
    benchmark sets it huge for the one-server baseline). `on_day` hears each simulated
    day end (averaged over the partitions), `on_sent` the messages sent so far.
    `assume_approvals` (`approve` or `reject`) answers every approval an offer needs
    (`retention_offer.approval`): `approve` sends at once, `reject` never sends; without it
    nobody answers and the configured `on_timeout` decides after the waits.
    """
    files = await asyncio.to_thread(data_files, data)
    folder = await asyncio.to_thread(
        _rules_folder, rules_dir, settings.rules_dir, work_dir / "rules"
    )
    if assume_approvals is not None:
        await asyncio.to_thread(assume_approval_answers, folder / "journeys.yaml", assume_approvals)
    # The rules are checked against the journeys and templates the simulated worker runs.
    references = await asyncio.to_thread(build_references, settings, rules_dir=folder)
    rulebook = await asyncio.to_thread(partial(load_rulebook, folder, references=references))
    rule_ids = list(dict.fromkeys(r.id for ruleset in rulebook.rulesets for r in ruleset.rules))
    # The test servers start at the wall clock: the history is moved past it (every
    # partition by the same shift, so they share one calendar).
    shift = shift_after(start, datetime.now(UTC))
    begin = datetime.combine(start, time(), UTC)
    history = await asyncio.to_thread(
        read_history, files, begin=begin, end=begin + timedelta(days=days), shift=shift
    )
    if assume_email:
        _assume_addresses(history)
    partitions = partitions_for(_customers(history), workers, partition_customers)
    histories = split_history(history, partitions)
    many = len(histories) > 1
    jobs = [
        _PartJob(
            number=number,
            history=part,
            rules_dir=folder,
            settings=settings,
            work_dir=work_dir / f"part-{number:02d}" if many else work_dir,
            start=start,
            days=days,
            shift=shift,
            scan_time=scan_time,
            assume_consent=assume_consent,
        )
        for number, part in enumerate(histories)
    ]
    progress = _Progress(len(jobs), start, on_day, on_sent)
    with _stopped_by_sigterm():
        if workers <= 1 or not many:
            results = [await _run_part(job, progress) for job in jobs]
        else:
            results = await _run_in_processes(jobs, workers, progress)
    sends = SendLog()
    for number, result in enumerate(results):
        sends.sends |= result.sends
        sends.sent += result.sent
        # The last counts a rate-limited partition held back.
        progress.sent_so_far(number, result.sent)
    parts = [
        create_database(f"sqlite+aiosqlite:///{job.work_dir / 'careflow.db'}", scratch=True)
        for job in jobs
    ]
    return JourneyRun(
        parts[0], folder, rulebook.hash, rule_ids, start, days, shift, sends, parts=parts
    )


def partition_of(customer_id: str, partitions: int) -> int:
    """The partition a customer is simulated in: a keyed hash of their id."""
    digest = hashlib.blake2b(customer_id.encode(), key=_PARTITION_KEY, digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


def partitions_for(
    customers: int, workers: int, partition_customers: int = PARTITION_CUSTOMERS
) -> int:
    """One per worker process at least, none with more than `partition_customers`
    customers (and never more partitions than customers)."""
    wanted = max(1, workers, math.ceil(customers / partition_customers))
    return max(1, min(wanted, customers))


def split_history(history: History, partitions: int) -> list[History]:
    """`history` split by customer into `partitions` histories (`partition_of`), in order."""
    parts = [History(history.shift) for _ in range(partitions)]
    for kind, records in history.before.items():
        for part in parts:
            part.before[kind] = []
        for record in records:
            number = partition_of(str(getattr(record, "customer_id", "")), partitions)
            parts[number].before[kind].append(record)
    for live in history.events:
        parts[partition_of(live.event.customer_id, partitions)].events.append(live)
    return parts


def _customers(history: History) -> int:
    return len(
        {str(getattr(record, "customer_id", "")) for record in history.before.get("customers", [])}
        | {live.event.customer_id for live in history.events}
    )


@dataclass(frozen=True)
class _PartJob:
    """One partition to simulate: its customers' history and where its store goes."""

    number: int
    history: History
    rules_dir: Path
    settings: Settings
    work_dir: Path
    start: date
    days: int
    shift: timedelta
    scan_time: time
    assume_consent: bool
    # Where a partition run in another process reports its progress (a managed queue).
    progress: Any = None


@dataclass(frozen=True)
class _PartResult:
    """What a partition's run hands back: its send log (its store is on disk)."""

    sends: dict[str, SendRecord]
    sent: int


class _Reporter(Protocol):
    def day_done(self, part: int) -> None: ...

    def sent_so_far(self, part: int, sent: int) -> None: ...


class _Progress:
    """Each partition's days and messages, told to the caller as one run's."""

    def __init__(
        self,
        parts: int,
        start: date,
        on_day: Callable[[date], None] | None,
        on_sent: Callable[[int], None] | None,
    ) -> None:
        self.start, self.on_day, self.on_sent = start, on_day, on_sent
        self.days = [0] * parts
        self.sent = [0] * parts
        self.told = 0  # days told to on_day

    def day_done(self, part: int) -> None:
        self.days[part] += 1
        # A day is done when the partitions have done that many days on average.
        while self.told < sum(self.days) // len(self.days):
            if self.on_day is not None:
                self.on_day(self.start + timedelta(days=self.told))
            self.told += 1

    def sent_so_far(self, part: int, sent: int) -> None:
        self.sent[part] = sent
        if self.on_sent is not None:
            self.on_sent(sum(self.sent))


# How often a partition in another process tells the parent its messages sent so
# far, at most. Each put is a round trip to the queue's manager process, and a
# partition sends thousands of messages; a progress bar needs a few updates a second.
SENT_REPORT_SECONDS = 0.5


class _QueueReporter:
    """Progress of a partition in another process, put on the parent's queue."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue
        self._told_at = -SENT_REPORT_SECONDS
        self._untold: int | None = None  # a count held back by the rate limit

    def day_done(self, part: int) -> None:
        if self._untold is not None:
            self.queue.put(("sent", part, self._untold))
            self._untold = None
        self.queue.put(("day", part, 0))

    def sent_so_far(self, part: int, sent: int) -> None:
        now = monotonic()
        if now - self._told_at < SENT_REPORT_SECONDS:
            self._untold = sent
            return
        self._told_at, self._untold = now, None
        self.queue.put(("sent", part, sent))


async def _run_in_processes(
    jobs: list[_PartJob], workers: int, progress: _Progress
) -> list[_PartResult]:
    """The partitions in `workers` processes, each taking the next partition as it
    finishes one; results in job order.

    A process runs its partitions one after the other, as `workers=1` does in this
    one (a partition's server, worker and store are gone when it ends), so it pays
    the imports once rather than once per partition (about 2 CPU-s of a partition's
    90). Processes are never replaced: Python 3.11's pool did not start the
    replacement of a worker that reached `max_tasks_per_child`, and a run hung.
    """
    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")
    # The queue's manager and the workers get SIGTERM from the kernel when this
    # process ends, even by SIGKILL: a worker then stops its test server on the way out.
    manager = SyncManager(ctx=context)
    manager.start(initializer=die_with_parent)
    with (
        manager,
        ProcessPoolExecutor(
            max_workers=min(workers, len(jobs)), mp_context=context, initializer=die_with_parent
        ) as pool,
    ):
        queue = manager.Queue()

        async def relay() -> None:
            while (message := await asyncio.to_thread(queue.get)) is not None:
                kind, part, sent = message
                if kind == "day":
                    progress.day_done(part)
                else:
                    progress.sent_so_far(part, sent)

        relaying = asyncio.create_task(relay())
        runs = [
            loop.run_in_executor(pool, _part_in_process, replace(job, progress=queue))
            for job in jobs
        ]
        try:
            return list(await asyncio.gather(*runs))
        except BaseException:
            # Python 3.14's `terminate_workers()`; 3.11's pool has no public way to its
            # processes, and forgets them on shutdown.
            processes = list((pool._processes or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            _stop_workers(processes)
            raise
        finally:
            queue.put(None)
            await relaying


# How long a worker process told to stop has to stop its partition's test server.
STOP_GRACE_SECONDS = 30.0


@contextlib.contextmanager
def _stopped_by_sigterm(*, then: Callable[[], None] | None = None) -> Iterator[None]:
    """Within: SIGTERM cancels the running task, as Ctrl-C does, so that the way out
    stops what the run started (and calls `then`, if given). By default SIGTERM ends
    the process at once, and the test servers it started (and, for the parent, its
    worker processes) keep running. A process that handles SIGTERM already (a
    service, the demo's history build) is left to its own handler."""
    task = asyncio.current_task()
    if task is None or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    loop = asyncio.get_running_loop()

    def stop() -> None:
        task.cancel()
        if then is not None:
            then()

    try:
        loop.add_signal_handler(signal.SIGTERM, stop)
    except (ValueError, RuntimeError, NotImplementedError):
        yield  # not the main thread, or no signals here (Windows): as before
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def _stop_workers(processes: list[Any]) -> None:
    """SIGTERM to each worker process, which stops its partition's test server on the
    way out (`_part_in_process`); one still running after the grace is killed, and its
    test server with it (the server is tied to its process: `TimeSkippingServer`)."""
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(STOP_GRACE_SECONDS)
        if process.is_alive():
            process.kill()


def _part_in_process(job: _PartJob) -> _PartResult:
    """A partition's run in a worker process (`_run_in_processes`)."""

    async def run() -> _PartResult:
        with _stopped_by_sigterm(then=_exit_after_grace):
            return await _run_part(job, _QueueReporter(job.progress))

    # Told to stop (SIGTERM from `_stop_workers`, or Ctrl-C), the partition's test
    # server is stopped; going back to the pool would take the partition waiting in
    # its queue (cancelling the futures does not empty it) and start another server,
    # so the process ends here, with the status of the signal that stopped it.
    try:
        return asyncio.run(run())
    except asyncio.CancelledError:
        os._exit(128 + signal.SIGTERM)
    except KeyboardInterrupt:
        os._exit(128 + signal.SIGINT)


def _exit_after_grace() -> None:
    """End this worker process if stopping its partition outlasts the grace. Its parent
    would kill it then; a parent killed itself (its SIGKILL reached this process as
    SIGTERM, `die_with_parent`) cannot, and a process that never ends holds its
    caller's pipes open. The test server goes with it (tied to this process too)."""
    watchdog = threading.Timer(STOP_GRACE_SECONDS, os._exit, args=(128 + signal.SIGTERM,))
    watchdog.daemon = True
    watchdog.start()


async def _run_part(job: _PartJob, progress: _Reporter) -> _PartResult:
    """Simulate one partition on a time-skipping server and worker of its own."""
    with long_run_collection():
        return await _simulate_part(job, progress)


async def _simulate_part(job: _PartJob, progress: _Reporter) -> _PartResult:
    server = await TimeSkippingServer.start(job.work_dir / "test-server.log")
    db = None
    try:
        begin = datetime.combine(job.start, time(), UTC) + job.shift
        if await server.current_time() >= begin:
            raise RuntimeError(f"the test server's clock is past the shifted first day {begin}")
        db = await _fresh_store(job.work_dir / "careflow.db")
        for kind, records in job.history.before.items():
            await write_records(db, kind, records)
        if job.assume_consent:
            await grant_marketing_consent(db)
        log = SendLog(lambda sent: progress.sent_so_far(job.number, sent))
        # Each partition checks the rules against the journeys and templates it runs.
        references = await asyncio.to_thread(
            build_references, job.settings, rules_dir=job.rules_dir
        )
        run = JourneyRun(db, job.rules_dir, "", [], job.start, job.days, job.shift, log)
        run_settings = job.settings.model_copy(
            update={
                "rules_dir": job.rules_dir,
                "task_queue": TASK_QUEUE,
                "configured_secret_key": SIMULATION_KEY,
            }
        )
        # `secret_key` is computed once per settings object: forget a copied answer.
        vars(run_settings).pop("secret_key", None)
        rulebook = LiveRuleBook(job.rules_dir, references=references)
        # Events are evaluated as `POST /events` does by default: in the intake's
        # process, with no workflow of their own (careflow/intake/direct.py).
        direct = build_direct_evaluation(
            run_settings,
            db=db,
            client=server.client,
            journeys=JOURNEYS,
            references=references,
            rulebook=rulebook,
            eager_start=False,
            stagger_journeys=True,
        )
        worker = Worker(
            server.client,
            task_queue=TASK_QUEUE,
            workflows=WORKFLOWS,
            workflow_runner=SIMULATION_RUNNER,
            max_cached_workflows=CACHED_WORKFLOWS,
            activities=build_activities(
                run_settings,
                db=db,
                client=server.client,
                delivery=CapturedDelivery(),
                journeys=JOURNEYS,
                references=references,
                rulebook=rulebook,
                # A customer's journeys never due at one instant: the same history
                # gives the same report, whatever the machine's speed.
                stagger_journeys=True,
            ),
            interceptors=[_RecordSends(run.sends), _SendsInWorkflowTask()],
            debug_mode=SIMULATION_INLINE_ACTIVATIONS,
        )
        async with worker:
            await _replay_days(
                server,
                run,
                direct,
                job.history,
                job.scan_time,
                assume_consent=job.assume_consent,
                on_day=lambda _day: progress.day_done(job.number),
            )
        return _PartResult(log.sends, log.sent)
    finally:
        if db is not None:
            await db.dispose()
        await server.stop()


async def _replay_days(
    server: TimeSkippingServer,
    run: JourneyRun,
    direct: DirectEvaluation,
    history: History,
    scan_time: time,
    *,
    assume_consent: bool,
    on_day: Callable[[date], None] | None,
) -> None:
    events = iter(history.events)
    pending = next(events, None)
    for offset in range(run.days):
        day_end = run.begin + timedelta(days=offset + 1)
        scan_at = datetime.combine(run.start + timedelta(days=offset), scan_time, UTC) + run.shift
        todays: list[LiveEvent] = []
        while pending is not None and pending.at < day_end:
            todays.append(pending)
            pending = next(events, None)
        # Events at the scan time go first, as they would have arrived before it.
        moments = sorted({event.at for event in todays} | {scan_at})
        by_time = {at: list(group) for at, group in groupby(todays, key=lambda e: e.at)}
        for at in moments:
            await _advance(server, at)
            if at in by_time:
                await _post(server.client, run, direct, by_time[at], assume_consent=assume_consent)
            if at == scan_at:
                await server.client.execute_workflow(
                    DailyScanWorkflow.run,
                    DailyScanInput(at=at),
                    id=f"simulate-scan-{at.date().isoformat()}",
                    task_queue=TASK_QUEUE,
                )
        await _advance(server, day_end)
        if on_day is not None:
            on_day(run.start + timedelta(days=offset))
    await run.sends.settled()


async def _advance(server: TimeSkippingServer, to: datetime) -> None:
    """Skip the server's clock to `to`; journeys whose timers fall before it run meanwhile."""
    ahead = to - await server.current_time()
    if ahead > timedelta(0):
        await server.skip(ahead, rpc_timeout=SKIP_TIMEOUT)


async def _post(
    client: Client,
    run: JourneyRun,
    direct: DirectEvaluation,
    events: list[LiveEvent],
    *,
    assume_consent: bool,
) -> None:
    """Post one instant's events: each customer's in order, customers side by side."""
    gate = asyncio.Semaphore(PARALLEL_CUSTOMERS)
    per_customer: dict[str, list[EventIn]] = defaultdict(list)
    for live in events:
        per_customer[live.event.customer_id].append(live.event)
        if assume_consent and live.event.type == "customer_upserted":
            per_customer[live.event.customer_id].append(_consent_event(live))

    async def post_all(customer_events: list[EventIn]) -> None:
        async with gate:
            for event in customer_events:
                accepted = await accept_event(
                    run.db, client, TASK_QUEUE, event, direct=direct, now=event.occurred_at
                )
                # Handed to its workflow (a rule failed for good): it decides first.
                if accepted.workflow_id is not None:
                    await client.get_workflow_handle(accepted.workflow_id).result()

    await asyncio.gather(*(post_all(per_customer[c]) for c in sorted(per_customer)))


def _consent_event(live: LiveEvent) -> EventIn:
    """A new customer's assumed marketing consent, given as they sign up."""
    return EventIn(
        type="consent_changed",
        customer_id=live.event.customer_id,
        occurred_at=live.at,
        data={"topic": "marketing", "granted": True, "source": "simulate --assume-consent"},
        event_id=f"{live.event.event_id}-consent",
    )


def _assume_addresses(history: History) -> None:
    """Customers without an email address get `<customer_id>@simulated.invalid`."""
    history.before["customers"] = [
        record.model_copy(update={"email": f"{record.customer_id}@{ASSUMED_DOMAIN}"})
        if isinstance(record, CustomerRow) and not record.email
        else record
        for record in history.before.get("customers", [])
    ]
    for live in history.events:
        if live.event.type == "customer_upserted" and not live.event.data.get("email"):
            live.event.data["email"] = f"{live.event.customer_id}@{ASSUMED_DOMAIN}"


async def _fresh_store(path: Path) -> Database:
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        await asyncio.to_thread(stale.unlink, missing_ok=True)
    # Thrown away after the run, and used by this process alone (see Database).
    db = create_database(f"sqlite+aiosqlite:///{path}", scratch=True)
    await db.migrate()
    return db


def assume_approval_answers(journeys_file: Path, answer: str) -> None:
    """Rewrite the run's copy of journeys.yaml as if every approver answered `answer`.

    `approve`: no offer waits (the approval section is dropped). `reject`: every offer
    that needs approval is refused, with no wait (nothing is ever sent for it).
    """
    yaml = YAML(typ="rt")
    document = yaml.load(journeys_file.read_text(encoding="utf-8"))
    approval = document.get("retention_offer", {}).get("approval")
    if approval is None:
        return
    if answer == "approve":
        del document["retention_offer"]["approval"]
    else:
        approval["on_timeout"] = "reject"
        # The least wait the configuration allows: a refusal at once, in effect.
        approval["wait_hours"] = 1 / 3600
    with journeys_file.open("w", encoding="utf-8") as file:
        yaml.dump(document, file)


def _rules_folder(rules_dir: Path, configured: Path, target: Path) -> Path:
    """`rules_dir`'s files, plus the configured operator files it does not have."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)  # with its parents: the run's work folder
    own = {path.name for path in _operator_files(rules_dir)}
    for path in _operator_files(rules_dir):
        shutil.copyfile(path, target / path.name)
    for path in _operator_files(configured):
        # A folder with only rule files still needs journeys, policy, tiers and holdout;
        # rule files never come from elsewhere: the folder's rules are the ones compared.
        if path.name not in own and not path.match(RULE_FILE_PATTERN):
            shutil.copyfile(path, target / path.name)
    return target


def _operator_files(folder: Path) -> Iterable[Path]:
    return sorted(path for path in folder.glob("*.yaml") if path.is_file())
