"""The send step (ledger, policy check, render, SMTP) next to a bare aiosmtplib loop.

    python -m bench.send_bench                   # 10,000 messages each, SQLite and PostgreSQL
    python -m bench.send_bench --messages 2000

Every side talks to the same aiosmtpd sink on loopback, in the same run: the
tests' sink, parsing every message but keeping only a count, in a process of its
own (bench/counting_sink.py says why; `--sink thread` runs it in this process, as
the bench did before):
- baseline: one aiosmtplib connection sending a prebuilt message in a loop: the
  very message careflow sends (rendered and built once), each time under a new
  Message-ID; measured before and after careflow (their mean is the baseline,
  so a machine that gets busier or quieter meanwhile favours neither side);
- careflow: `OutreachActivities.send_email` for distinct journeys (so every call
  reads the customer, consent and complaint, writes its ledger row, checks the
  policy, renders the template, delivers over careflow's reused connection and
  records `sent`), run through Temporal's ActivityEnvironment, 8 sends in flight
  as in a worker (their SMTP exchanges take turns on the one connection), on the
  SQLite store and on PostgreSQL (CAREFLOW_BENCH_POSTGRES_URL, skipped when absent);
- floor: the bare loop plus one committed SQLite row per message (stdlib sqlite3,
  WAL, synchronous=NORMAL, on the loop thread): what a durable per-message
  ledger costs at the very least, next to which careflow's figure can be judged.
Targets: careflow at least 0.65x the baseline's messages per second on SQLite,
0.5x on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
from temporalio.testing import ActivityEnvironment

from bench.counting_sink import SinkProcess, SinkThread
from bench.scale_bench import fresh_postgres_database
from careflow.activities.outreach import OutreachActivities
from careflow.config import SmtpTarget
from careflow.contracts import SendEmailInput
from careflow.intake.apply import open_complaint, upsert_customer
from careflow.intake.records import ComplaintFields, CustomerFields
from careflow.outreach.context import message_context
from careflow.outreach.envelope import build_email, message_id_for
from careflow.outreach.ledger import Recipient, StoredCase
from careflow.outreach.mailer import SmtpDelivery
from careflow.outreach.policy_config import POLICY_FILE_NAME, load_outreach_policy
from careflow.outreach.templates import TemplateRenderer
from careflow.paths import RULES_DIR, TEMPLATES_DIR
from careflow.store import Database, create_database

CONCURRENT_SENDS = 8
CUSTOMER_ID, EMAIL = "bench-c1", "emma@example.com"
MAIL_FROM, BASE_URL = "careflow <care@careflow.localhost>", "http://127.0.0.1:8080"
PARAMS: dict[str, str | int | float | bool] = {"complaint_id": "k-1"}


@dataclass(frozen=True)
class Side:
    """One side's messages per second and the process's CPU time per message.

    The CPU time covers every thread of this process (the sink's too with `--sink
    thread`, which both sides pay alike); unlike messages per second it hardly
    depends on how busy the machine is, so it is the steadier figure to compare
    between runs.
    """

    per_second: float
    cpu_ms_per_message: float


@dataclass(frozen=True)
class SendFigures:
    """Every side, measured in one run."""

    messages: int
    baseline_before: Side
    baseline_after: Side
    sqlite: Side
    postgres: Side | None  # None: no PostgreSQL reachable
    floor: Side  # bare loop + one committed SQLite row per message

    @property
    def baseline_per_second(self) -> float:
        # The mean of the runs before and after careflow.
        return (self.baseline_before.per_second + self.baseline_after.per_second) / 2

    @property
    def baseline_cpu_ms(self) -> float:
        return (
            self.baseline_before.cpu_ms_per_message + self.baseline_after.cpu_ms_per_message
        ) / 2

    # Messages per second of each side, as `bench.suite` reads them.
    @property
    def sqlite_per_second(self) -> float:
        return self.sqlite.per_second

    @property
    def postgres_per_second(self) -> float | None:
        return None if self.postgres is None else self.postgres.per_second

    @property
    def floor_per_second(self) -> float:
        return self.floor.per_second

    def ratio(self, per_second: float) -> float:
        return per_second / self.baseline_per_second


def bench_message() -> EmailMessage:
    """The very message careflow sends the bench customer, built once.

    The baseline sends what careflow sends (2.9 kB, plain and HTML parts, quoted-
    printable), so both sides pay the same for the SMTP exchange and the sink.
    """
    now = datetime.now(UTC)
    customer = Recipient(
        1, CUSTOMER_ID, "Emma Clarke", EMAIL, "en", "Europe/London", None, None, False
    )
    case = StoredCase("k-1", "Parcel lost", "medium", None, now, "open", None)
    context = message_context(
        customer, case, PARAMS, topic="transactional", base_url=BASE_URL, secret_key="bench"
    )
    rendered = TemplateRenderer(TEMPLATES_DIR).render("complaint_ack", "en", context)
    return build_email(
        rendered, sender=MAIL_FROM, recipient=EMAIL, message_id=message_id_for("bare/0", "bench")
    )


async def bare_loop(
    port: int, messages: int, also: Callable[[int], None] = lambda number: None
) -> float:
    """Messages per second for a prebuilt message over one aiosmtplib connection.

    `also(number)` runs after each message is accepted (the floor's ledger row).
    """
    message = bench_message()
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
    await client.connect()
    started = time.perf_counter()
    for number in range(messages):
        message.replace_header("Message-ID", message_id_for(f"bare/{number}", "bench"))
        await client.send_message(message)
        also(number)
    elapsed = time.perf_counter() - started
    await client.quit()
    return messages / elapsed


async def bare_loop_with_ledger_rows(port: int, messages: int, folder: Path) -> float:
    """The bare loop, committing one ledger-like SQLite row after each message."""
    connection = sqlite3.connect(folder / "floor.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("CREATE TABLE ledger (key TEXT PRIMARY KEY, status TEXT, sent_at TEXT)")

    def record(number: int) -> None:
        connection.execute(
            "INSERT INTO ledger VALUES (?, 'sent', ?)",
            (f"floor-{number}/ack", datetime.now(UTC).isoformat()),
        )

    try:
        return await bare_loop(port, messages, record)
    finally:
        connection.close()


async def seed(db: Database) -> None:
    """One customer with an open complaint: what every acknowledgement is about."""
    await db.migrate()
    now = datetime.now(UTC)
    async with db.session() as session:
        customer, _ = await upsert_customer(
            session,
            CUSTOMER_ID,
            CustomerFields(
                name="Emma Clarke",
                email=EMAIL,
                locale="en",
                timezone="Europe/London",
            ),
            now,
        )
        await open_complaint(
            session, customer, ComplaintFields(complaint_id="k-1", subject="Parcel lost"), now
        )


async def careflow_send_step(port: int, messages: int, database_url: str) -> float:
    """Messages per second through careflow's send activity, distinct journeys each."""
    db = create_database(database_url)
    await seed(db)
    delivery = SmtpDelivery(SmtpTarget(host="127.0.0.1", port=port))
    activities = OutreachActivities(
        db,
        TemplateRenderer(TEMPLATES_DIR),
        delivery,
        mail_from=MAIL_FROM,
        base_url=BASE_URL,
        secret_key="bench",
        policy=lambda: load_outreach_policy(RULES_DIR / POLICY_FILE_NAME),
    )
    environment = ActivityEnvironment()
    numbers = iter(range(messages))

    async def sender() -> None:
        for number in numbers:
            result = await environment.run(
                activities.send_email,
                SendEmailInput(
                    workflow_id=f"complaint-bench-c1-k-{number}",
                    step_id="ack",
                    customer_id=CUSTOMER_ID,
                    template_id="complaint_ack",
                    params=PARAMS,
                ),
            )
            if result.status != "sent":
                raise RuntimeError(f"send {number} was {result.status}: {result.reason}")

    try:
        started = time.perf_counter()
        # As in the worker, several sends are in flight at once; their SMTP exchanges
        # still take turns on careflow's one connection, like the baseline's.
        await asyncio.gather(*(sender() for _ in range(CONCURRENT_SENDS)))
        elapsed = time.perf_counter() - started
    finally:
        await activities.close()
        await delivery.close()
        await db.dispose()
    return messages / elapsed


async def measure(
    messages: int, *, postgres: bool = True, sink_thread: bool = False
) -> SendFigures:
    """Every side against one sink (a process of its own unless `sink_thread`),
    baseline before and after careflow."""
    sink = SinkThread() if sink_thread else SinkProcess()
    await sink.start()
    try:
        return await _measure_sides(sink, messages, postgres=postgres)
    finally:
        await sink.stop()


async def _measure_sides(
    sink: SinkThread | SinkProcess, messages: int, *, postgres: bool
) -> SendFigures:
    async def phase(run: Awaitable[float]) -> Side:
        started = time.process_time()
        per_second = await run
        cpu = time.process_time() - started
        arrived = await sink.take_count()
        if arrived != messages:
            raise RuntimeError(f"{arrived} of {messages} messages arrived")
        return Side(per_second, cpu * 1000 / messages)

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        before = await phase(bare_loop(sink.port, messages))
        floor = await phase(bare_loop_with_ledger_rows(sink.port, messages, folder))
        on_sqlite = await phase(
            careflow_send_step(sink.port, messages, f"sqlite+aiosqlite:///{folder / 'bench.db'}")
        )
        on_postgres = None
        if postgres:
            async with fresh_postgres_database() as url:
                if url is not None:
                    on_postgres = await phase(careflow_send_step(sink.port, messages, url))
        after = await phase(bare_loop(sink.port, messages))
    return SendFigures(messages, before, after, on_sqlite, on_postgres, floor)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--sink",
        choices=("process", "thread"),
        default="process",
        help="run the SMTP sink in a process of its own (default) or in a thread of this one",
    )
    options = parser.parse_args()
    figures = asyncio.run(
        measure(
            options.messages,
            postgres=not options.no_postgres,
            sink_thread=options.sink == "thread",
        )
    )
    print(f"messages each                      {figures.messages}")
    print(f"{'':34s} {'msg/s':>8s}  {'ratio':>5s}  {'CPU-ms/msg':>10s}  {'CPU ratio':>9s}")
    baseline = figures.baseline_cpu_ms
    rows = [
        ("bare aiosmtplib loop, before", figures.baseline_before),
        ("bare aiosmtplib loop, after", figures.baseline_after),
        ("floor: bare loop + SQLite row", figures.floor),
        ("careflow send step, SQLite", figures.sqlite),
        ("careflow send step, PostgreSQL", figures.postgres),
    ]
    for label, side in rows:
        if side is None:
            print(f"{label:34s} (not measured: --no-postgres, or no server)")
        else:
            print(
                f"{label:34s} {side.per_second:8.0f}  {figures.ratio(side.per_second):5.2f}x"
                f"  {side.cpu_ms_per_message:10.2f}  {baseline / side.cpu_ms_per_message:8.2f}x"
            )
    print(f"baseline: {figures.baseline_per_second:.0f} msg/s, {baseline:.2f} CPU-ms/msg (mean)")
    print("target: careflow >= 0.65x the bare loop's messages/s on SQLite, >= 0.50x on PostgreSQL")


if __name__ == "__main__":
    main()
