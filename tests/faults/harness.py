"""What every fault test shares: `careflow up` as a child process, complaint journeys,
waiting on conditions with deadlines, and the nothing-lost, nothing-doubled verdict.

A fault test seeds customers, runs `careflow up` against the parts it breaks,
starts complaint journeys (through Temporal or `POST /events`), breaks something
while the acknowledgements go out, then resolves every complaint and checks:

- every message careflow meant to send (every ledger row) arrived, under its own
  Message-ID, and nothing arrived that careflow did not mean to send;
- a Message-ID arrived more than once only for an exchange cut by the fault, at
  most one per cut, and the test prints how many there were;
- every journey ended the way a resolved, well-rated complaint ends ("resolved").

Waits are on conditions with generous deadlines, never on fixed sleeps: the suite
runs on a loaded 2-core machine.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.client import Client, WorkflowHandle

from careflow.config import local_secret_key
from careflow.contracts import JourneyInput
from careflow.intake.apply import open_complaint, upsert_customer
from careflow.intake.records import ComplaintFields, CustomerFields
from careflow.pseudonyms import customer_pseudonym
from careflow.store import Database, OutreachLedger
from careflow.workflows.complaint_escalation import ComplaintEscalationWorkflow
from careflow.workflows.ids import complaint_workflow_id
from tests.smtp_sink import SmtpSink, free_port

FULL = os.environ.get("CAREFLOW_FAULTS_FULL") == "1"
# A score above the low-score threshold: the journey ends "resolved" without reopening.
GOOD_SCORE = 5
# The two messages a resolved complaint sends when the survey is answered early.
JOURNEY_STEPS = ("ack", "resolved")


def sized(bounded: int, full: int) -> int:
    """The bounded size in CI, the full size under CAREFLOW_FAULTS_FULL=1."""
    return full if FULL else bounded


Condition = Callable[[], bool] | Callable[[], Awaitable[bool]]


async def wait_until(
    condition: Condition,
    *,
    within_seconds: float,
    failure: Callable[[], str],
    watch: CareflowUp | None = None,
    interval: float = 0.25,
) -> None:
    """Poll `condition` until it holds; fail with `failure()` after the deadline.

    With `watch`, a careflow process that died is reported at once with its log
    instead of waiting out the deadline.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_seconds
    while True:
        outcome = condition()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if watch is not None:
            watch.fail_if_exited()
        if loop.time() > deadline:
            pytest.fail(f"after {within_seconds:.0f} s: {failure()}")
        await asyncio.sleep(interval)


class CareflowUp:
    """`careflow up` as a child process pointed at the test's Temporal, store and SMTP."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        temporal: str | None,
        database_url: str,
        smtp_port: int,
        env: dict[str, str] | None = None,
    ) -> None:
        self.log = tmp_path / "careflow-up.log"
        self.http_port = free_port()
        self.temporal_port = free_port()
        self.env = {
            **os.environ,
            "CAREFLOW_HOME": str(tmp_path / "var"),
            "CAREFLOW_DATABASE_URL": database_url,
            "CAREFLOW_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "CAREFLOW_HTTP": f"127.0.0.1:{self.http_port}",
            # Used only by the embedded Temporal server (when `temporal` is None).
            "CAREFLOW_TEMPORAL_PORT": str(self.temporal_port),
            # careflow up's capture endpoint (SMS gateway, webhooks): its own port per run.
            "CAREFLOW_CAPTURE_HTTP_PORT": str(free_port()),
            **(env or {}),
        }
        self.env.pop("TEMPORAL_ADDRESS", None)
        if temporal is not None:
            self.env["TEMPORAL_ADDRESS"] = temporal
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0
        # time.monotonic() of each start and kill: which process instance a request
        # came from, to tell a repeat a kill explains from one it does not.
        self.started_at: list[float] = []
        self.killed_at: list[float] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def complaint_journey_id(self, number: int) -> str:
        """The id `careflow up` gives the journey of complaint_event(number)."""
        return self.journey_of(f"c{number}", f"k{number}")

    def journey_of(self, customer_id: str, complaint_id: str) -> str:
        """The id `careflow up` gives a complaint's journey: journey ids name the
        customer by a pseudonym keyed with this process's secret key."""
        secret = self.env.get("CAREFLOW_SECRET_KEY") or local_secret_key(
            Path(self.env["CAREFLOW_HOME"])
        )
        return complaint_workflow_id(customer_pseudonym(secret, customer_id), complaint_id)

    def start(self) -> None:
        self.started_at.append(time.monotonic())
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "careflow", "up"], env=self.env, stdout=log, stderr=log
            )

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, whatever was in flight is cut."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.kills += 1
        self.killed_at.append(time.monotonic())

    def cut_by_a_kill(self, first: float, again: float) -> bool:
        """Whether something that arrived at `first` and again at `again` (monotonic)
        was first sent by a process that was then killed, and repeated after the kill:
        the one kind of repeat at-least-once delivery owes.
        """
        for killed in self.killed_at:
            restarted = min((t for t in self.started_at if t > killed), default=float("inf"))
            if first < restarted and killed < again:
                return True
        return False

    @property
    def temporal_address(self) -> str:
        """The Temporal server careflow uses (its embedded one unless told otherwise)."""
        return self.env.get("TEMPORAL_ADDRESS", f"127.0.0.1:{self.temporal_port}")

    def embedded_temporal_pid(self) -> int:
        """The pid of the Temporal dev server this careflow up runs as its child."""
        assert self.process is not None
        threads = Path(f"/proc/{self.process.pid}/task").iterdir()
        children = [pid for thread in threads for pid in (thread / "children").read_text().split()]
        for pid in children:
            # A killed child not reaped yet has an empty command line.
            if b"start-dev" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                return int(pid)
        raise AssertionError("careflow up runs no embedded Temporal server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def fail_if_exited(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            pytest.fail(
                f"careflow up exited with {self.process.returncode}:\n{self.log_text()[-6000:]}"
            )

    async def wait_for_api(self, within_seconds: float = 120) -> None:
        async def answers() -> bool:
            try:
                async with httpx.AsyncClient(base_url=self.base_url) as http:
                    return (await http.get("/health", timeout=2)).status_code == 200
            except httpx.TransportError:
                return False

        await wait_until(
            answers,
            within_seconds=within_seconds,
            failure=lambda: f"careflow up did not answer:\n{self.log_text()[-6000:]}",
            watch=self,
        )

    async def post_event(self, event: dict[str, object]) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.base_url) as http:
            return await http.post("/events", json=event, timeout=30)


async def seed_customers(db: Database, numbers: Iterable[int], *, open_complaints: bool) -> None:
    """Customers c<n> with an email address; with `open_complaints`, each with complaint k<n>."""
    now = datetime.now(UTC)
    async with db.session() as session:
        for number in numbers:
            customer, _ = await upsert_customer(
                session,
                f"c{number}",
                CustomerFields(email=f"c{number}@example.com", locale="en"),
                now,
            )
            if open_complaints:
                await open_complaint(
                    session, customer, ComplaintFields(complaint_id=f"k{number}"), now
                )


# When the fault suite's complaints happen: one instant, so posting an event again
# (after a 503, say) repeats the very same request, as a client's retry must.
COMPLAINTS_AT = datetime.now(UTC)


def complaint_event(number: int) -> dict[str, object]:
    """The `POST /events` body opening complaint k<n> of customer c<n>."""
    return {
        "type": "complaint_opened",
        "customer_id": f"c{number}",
        "occurred_at": COMPLAINTS_AT.isoformat(),
        "data": {"complaint_id": f"k{number}", "severity": "low", "subject": "Late parcel"},
        "event_id": f"fault-complaint-{number}",
    }


async def start_complaint_journeys(
    client: Client,
    numbers: Iterable[int],
    *,
    task_queue: str = "careflow",
    ids: Callable[[int], str] | None = None,
) -> None:
    """Start the complaint journeys directly, as the rules would for a new complaint.

    `ids` names journey `number` (`CareflowUp.complaint_journey_id` gives the ids
    `careflow up` itself would use; default `journey_id`).
    """
    ids = ids or journey_id
    for number in numbers:
        await client.start_workflow(
            ComplaintEscalationWorkflow.run,
            JourneyInput(customer_id=f"c{number}", rule_id="fault-test", subject=f"k{number}"),
            id=ids(number),
            task_queue=task_queue,
        )


def journey_id(number: int) -> str:
    """The id `start_complaint_journeys` gives journey `number`."""
    return complaint_workflow_id(f"c{number}", f"k{number}")


def distinct_messages(sink: SmtpSink) -> int:
    with sink.lock:
        return len({message["Message-ID"] for message in sink.messages})


async def wait_for_messages(
    sink: SmtpSink, count: int, *, within_seconds: float, watch: CareflowUp | None = None
) -> None:
    """Until `count` distinct Message-IDs arrived."""
    await wait_until(
        lambda: distinct_messages(sink) >= count,
        within_seconds=within_seconds,
        failure=lambda: f"expected {count} distinct messages, got {distinct_messages(sink)}",
        watch=watch,
    )


async def resolve_journeys(
    client: Client,
    numbers: Iterable[int],
    *,
    within_seconds: float,
    watch: CareflowUp | None = None,
    ids: Callable[[int], str] = journey_id,
) -> None:
    """Resolve every complaint and answer its survey; each journey must end "resolved".

    `ids` names journey `number` (`CareflowUp.complaint_journey_id` for journeys
    careflow started from events).
    """
    handles = [client.get_workflow_handle(ids(number)) for number in numbers]
    for handle in handles:
        await handle.signal(ComplaintEscalationWorkflow.complaint_resolved)
        await handle.signal(ComplaintEscalationWorkflow.signal_survey_answered, GOOD_SCORE)
    outcomes: dict[str, object] = {}

    async def outcome(handle: WorkflowHandle[Any, Any]) -> None:
        outcomes[handle.id] = await handle.result()

    waiting = asyncio.gather(*(outcome(handle) for handle in handles))
    try:
        await wait_until(
            waiting.done,
            within_seconds=within_seconds,
            failure=lambda: f"{len(handles) - len(outcomes)} journeys still running",
            watch=watch,
        )
    finally:
        waiting.cancel()
    waiting.result()  # a failed journey raises here, with its cause
    assert Counter(outcomes.values()) == {"resolved": len(handles)}


@dataclass(frozen=True)
class Verdict:
    """What arrived against what careflow meant to send."""

    intended: int
    received: int
    repeats: int


async def assert_nothing_lost(
    db: Database, sink: SmtpSink, *, journeys: int, allowed_repeats: int, fault: str
) -> Verdict:
    """Every ledger message arrived once under its own id; repeats only for cut exchanges."""
    async with db.session() as session:
        ledger = list(await session.scalars(select(OutreachLedger)))
    with sink.lock:
        received = Counter(message["Message-ID"] for message in sink.messages)
    verdict = Verdict(
        intended=len({row.message_id for row in ledger}),
        received=len(received),
        repeats=sum(count - 1 for count in received.values()),
    )
    print(
        f"\n{fault}: {verdict.intended} intended, {verdict.received} received, "
        f"{verdict.repeats} in-flight repeats (at most {allowed_repeats} allowed)"
    )
    steps = Counter(row.step_id for row in ledger)
    assert steps == dict.fromkeys(JOURNEY_STEPS, journeys), "one ack and one resolution each"
    assert {row.status for row in ledger} == {"sent"}
    assert set(received) == {row.message_id for row in ledger}, "every intended message arrived"
    assert verdict.repeats <= allowed_repeats, "a repeat only for an exchange cut by the fault"
    return verdict
