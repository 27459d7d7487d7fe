"""The outreach ledger as the send step reads and writes it: three statements a message.

The send step runs once for every message careflow sends, so its store work is
kept to three prebuilt Core statements (no ORM unit of work):

1. `read_facts`: one SELECT for everything the decision and the template need (the
   step's ledger row, the customer, their consent for the topic, their recent
   messages for the contact budget, the complaint the message is about);
2. `record_decision`: one INSERT .. ON CONFLICT that writes the step's key with the decision
   (`sending`, `deferred` or `skipped`) before any SMTP exchange, and never
   overwrites a final row;
3. `record_outcome`: one UPDATE to `sent` or `failed` after the exchange, with the
   outbound event that reports it (on PostgreSQL both in one statement: the mark
   sits between two SMTP exchanges, where every round trip delays the next).

Each is a plain function of a synchronous connection, and the send step's whole
decision (read, policy, render, record) is one synchronous unit of work run by
`SendLedger.transaction` in one transaction. On PostgreSQL it runs on the async
engine (`run_sync`) and holds the customer's row lock from the read to the
commit. On SQLite it runs in one thread of its own with a synchronous
connection: one hand-over per transaction instead of aiosqlite's one per call
(cursor, execute, fetch, close, commit), which cost more than the statements;
that thread is also SQLite's single writer for this process.

With asyncpg the statements skip SQLAlchemy's execution, which cost more CPU than
the statements themselves (careflow/store/driver.py): compiled once, the read and
the decision run on the adapter's cursor inside the step's connection and
transaction, and the mark is one asyncpg call on a connection kept for the marks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial
from typing import Any, Protocol, TypeVar

from sqlalchemy import (
    BindParameter,
    Select,
    String,
    and_,
    bindparam,
    false,
    func,
    literal,
    make_url,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import aliased
from sqlalchemy.sql.dml import Insert, ReturningInsert

from careflow.experiments.assign import HOLDOUT_VARIANT
from careflow.outreach.budget import SentMessage
from careflow.outreach.decisions import Topic
from careflow.store import (
    Complaint,
    Consent,
    Customer,
    Database,
    OutboundEvent,
    OutreachLedger,
)
from careflow.store.driver import DriverStatement, KeptConnection, fetch_all
from careflow.webhooks.events import MESSAGE_FAILED, MESSAGE_SENT, event_row, record_event

# Ledger statuses. `sending` means an SMTP exchange may have started: a retry
# resends with the same Message-ID (the only repeat careflow allows, after a crash).
# A `deferred` row is not final: the journey calls again at its time with the same key.
# (Earlier versions first wrote a `pending` row; like any status not final, a retry
# decides it afresh.)
SENDING, SENT, FAILED, SKIPPED = "sending", "sent", "failed", "skipped"
DEFERRED = "deferred"
FINAL_STATUSES = frozenset({SENT, FAILED, SKIPPED})
# Rows that use up the contact budget: sent, and about to be (an exchange may have
# started), so two sends deciding one after the other both see the first.
_COUNTED = (SENDING, SENT)
_Result = TypeVar("_Result")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredStep:
    """The step's ledger row as found: what a retry of a finished step returns."""

    status: str
    message_id: str | None
    reason: str | None
    # The channel the message went on (or was meant for), so a retry reports it too.
    channel: str = "email"


@dataclass(frozen=True)
class Recipient:
    """The customer as the send step needs them (template fields and policy inputs)."""

    id: int
    external_id: str
    name: str | None
    email: str | None
    locale: str | None
    timezone: str | None
    tier: str | None
    account_manager: str | None
    erased: bool
    phone: str | None = None
    preferred_channel: str | None = None


@dataclass(frozen=True)
class StoredCase:
    """The complaint a message is about, as templates see it."""

    external_id: str
    subject: str | None
    severity: str
    channel: str | None
    opened_at: datetime
    status: str
    resolved_at: datetime | None


@dataclass(frozen=True)
class SendFacts:
    """Everything one send step reads from the store, in one statement."""

    step: StoredStep | None
    recipient: Recipient | None
    consent: bool | None  # None: never asked (or not looked up, for transactional)
    history: tuple[SentMessage, ...]  # counted messages within the budget window
    case: StoredCase | None
    sms_consent: bool | None = None  # as `consent`, for SMS


def _constants(values: Iterable[str]) -> list[BindParameter[str]]:
    """A fixed list for IN, one bound value each: a plain tuple would become an
    "expanding" parameter, rewritten into the SQL text at every execution."""
    return [literal(value, String) for value in sorted(values)]


_recent = aliased(OutreachLedger, name="recent")
_step = aliased(OutreachLedger, name="step")
_sms_consent = aliased(Consent, name="sms_consent")


@dataclass(frozen=True)
class FactsQuery:
    """What one send step looks up: its key, its customer, topic and complaint."""

    key: str
    customer_external_id: str
    topic: Topic
    complaint_id: str | None
    budget_since: datetime  # counted messages from here on
    # Lock the customer's row until the decision is recorded (PostgreSQL), so two
    # workers cannot both spend the last slot of one customer's contact budget.
    lock_customer: bool = False


def read_facts(connection: Connection, query: FactsQuery) -> SendFacts:
    """The step's facts in one SELECT (one row per counted recent message, at least one)."""
    statement = _facts_statement(
        counted=query.topic is not Topic.TRANSACTIONAL,
        about_case=query.complaint_id is not None,
        lock_customer=query.lock_customer,
    )
    parameters = {
        "step_key": query.key,
        "customer": query.customer_external_id,
        "topic": query.topic.value,
        "complaint": query.complaint_id or "",
        "since": query.budget_since,
    }
    rows = fetch_all(connection, statement, parameters)
    if not rows:
        return SendFacts(_stored_step(connection, query.key), None, None, (), None)
    first = rows[0]
    return SendFacts(
        step=_step_from(first.status, first.message_id, first.reason, first.step_channel),
        recipient=Recipient(
            id=first.id,
            external_id=first.external_id,
            name=first.name,
            email=first.email,
            locale=first.locale,
            timezone=first.timezone,
            tier=first.tier,
            account_manager=first.account_manager,
            erased=first.erased_at is not None,
            phone=first.phone,
            preferred_channel=first.preferred_channel,
        ),
        consent=first.granted,
        sms_consent=first.sms_granted,
        history=tuple(
            SentMessage(Topic(row.recent_topic), row.recent_at)
            for row in rows
            if row.recent_topic is not None
        ),
        case=None
        if first.case_reference is None
        else StoredCase(
            external_id=first.case_reference,
            subject=first.subject,
            severity=first.severity,
            channel=first.channel,
            opened_at=first.opened_at,
            status=first.case_status,
            resolved_at=first.resolved_at,
        ),
    )


# The statements are built once and executed with parameters: building a SELECT of
# this size costs more than running it on SQLite.
@cache
def _facts_statement(
    *, counted: bool, about_case: bool, lock_customer: bool
) -> Select[*tuple[Any, ...]]:
    # Transactional messages need no consent and are never counted: those joins are
    # switched off by a constant false condition, which the planner skips.
    budget_joins = true() if counted else false()
    case_join = true() if about_case else false()
    recent_at = func.coalesce(_recent.sent_at, _recent.updated_at)
    statement = (
        select(
            _step.status,
            _step.message_id,
            _step.reason,
            _step.channel.label("step_channel"),
            Customer.id,
            Customer.external_id,
            Customer.name,
            Customer.email,
            Customer.locale,
            Customer.timezone,
            Customer.tier,
            Customer.account_manager,
            Customer.erased_at,
            Customer.phone,
            Customer.preferred_channel,
            Consent.granted,
            _sms_consent.granted.label("sms_granted"),
            _recent.topic.label("recent_topic"),
            recent_at.label("recent_at"),
            Complaint.external_id.label("case_reference"),
            Complaint.subject,
            Complaint.severity,
            Complaint.channel,
            Complaint.opened_at,
            Complaint.status.label("case_status"),
            Complaint.resolved_at,
        )
        .select_from(Customer)
        .outerjoin(_step, _step.idempotency_key == bindparam("step_key"))
        .outerjoin(
            Consent,
            and_(
                budget_joins,
                Consent.customer_id == Customer.id,
                Consent.channel == "email",
                Consent.topic == bindparam("topic"),
            ),
        )
        .outerjoin(
            _sms_consent,
            and_(
                budget_joins,
                _sms_consent.customer_id == Customer.id,
                _sms_consent.channel == "sms",
                _sms_consent.topic == bindparam("topic"),
            ),
        )
        .outerjoin(
            _recent,
            and_(
                budget_joins,
                _recent.customer_id == Customer.id,
                _recent.status.in_(_constants(_COUNTED)),
                _recent.topic != Topic.TRANSACTIONAL.value,
                _recent.idempotency_key != bindparam("step_key"),
                recent_at >= bindparam("since"),
            ),
        )
        .outerjoin(
            Complaint,
            and_(
                case_join,
                Complaint.external_id == bindparam("complaint"),
                Complaint.customer_id == Customer.id,
            ),
        )
        .where(Customer.external_id == bindparam("customer"))
    )
    return statement.with_for_update(of=Customer) if lock_customer else statement


_STORED_STEP = select(_step.status, _step.message_id, _step.reason, _step.channel).where(
    _step.idempotency_key == bindparam("step_key")
)


def _step_from(
    status: str | None, message_id: str | None, reason: str | None, channel: str | None = None
) -> StoredStep | None:
    if status is None:
        return None
    return StoredStep(status, message_id, reason, channel or "email")


def _stored_step(connection: Connection, key: str) -> StoredStep | None:
    rows = fetch_all(connection, _STORED_STEP, {"step_key": key})
    if not rows:
        return None
    row = rows[0]
    return _step_from(row.status, row.message_id, row.reason, row.channel)


def _upsert(insert: sqlite.Insert | postgresql.Insert) -> ReturningInsert[tuple[int]]:
    # A retried or deferred step gets its new decision; a finished one stays as it is.
    # Its template and experiment variant too: they are what the step now sends (they
    # change only when an experiment was set up or ended in between).
    changed = (
        "status",
        "reason",
        "customer_id",
        "updated_at",
        "template_id",
        "experiment",
        "variant",
    )
    return insert.on_conflict_do_update(
        index_elements=[OutreachLedger.idempotency_key],
        set_={name: insert.excluded[name] for name in changed},
        where=OutreachLedger.status.not_in(_constants(FINAL_STATUSES)),
    ).returning(OutreachLedger.id)


_SQLITE_UPSERT = _upsert(sqlite.insert(OutreachLedger))
_POSTGRESQL_UPSERT = _upsert(postgresql.insert(OutreachLedger))


def record_decision(
    connection: Connection,
    values: Mapping[str, object],
    *,
    experiment: str | None = None,
    variant: str | None = None,
) -> StoredStep | None:
    """Write the step's row with its decision; a final row is never overwritten.

    `values` are the ledger columns of a new row. `experiment` and `variant` name the
    A/B experiment the message is part of and the customer's variant in it
    (careflow/experiments/assign.py), both or neither. Returns None when written, or
    the row found when the step had already finished (a concurrent attempt got there
    first): that is the step's result.
    """
    if (experiment is None) != (variant is None):
        raise ValueError("experiment and variant go together: give both or neither")
    upsert = _SQLITE_UPSERT if connection.dialect.name == "sqlite" else _POSTGRESQL_UPSERT
    row = {**values, "experiment": experiment, "variant": variant}
    if fetch_all(connection, upsert, row, column_keys=tuple(row)):
        return None
    return _stored_step(connection, str(values["idempotency_key"]))


def record_held_out(
    connection: Connection, values: Mapping[str, object], *, experiment: str
) -> StoredStep | None:
    """Record that this customer is in `experiment`'s holdout group and gets nothing.

    `values` are the ledger columns as for `record_decision` (the step's key, workflow,
    step, template, customer, times); the row is `skipped` for reason `holdout`, its
    variant `holdout`, which the experiment's results count as the comparison group.
    """
    row = {**values, "status": SKIPPED, "reason": HOLDOUT_VARIANT}
    return record_decision(connection, row, experiment=experiment, variant=HOLDOUT_VARIANT)


def _record_outcome(
    connection: Connection, *, key: str, status: str, reason: str | None, now: datetime
) -> None:
    values: dict[str, object] = {
        "step_key": key,
        "status": status,
        "reason": reason,
        "updated_at": now,
    }
    if status == SENT:
        values["sent_at"] = now
    connection.execute(_OUTCOME, values)
    # Subscribers hear of it from the same transaction (careflow/webhooks/events.py).
    record_event(
        connection,
        MESSAGE_SENT if status == SENT else MESSAGE_FAILED,
        key,
        {"message_key": key},
        customer_pk=None,
        at=now,
    )


_OUTCOME = update(OutreachLedger).where(OutreachLedger.idempotency_key == bindparam("step_key"))


def _outcome_at_once(*, sent: bool) -> Insert:
    """PostgreSQL: the outcome's UPDATE and its event's INSERT as one statement.

    The UPDATE is a data-modifying CTE, which PostgreSQL runs to completion whether
    or not the INSERT reads it; one statement on an autocommit connection is one
    transaction, committed (and flushed to the WAL) before its reply, in one round
    trip instead of BEGIN, UPDATE, INSERT and COMMIT.
    """
    columns: dict[str, object] = {
        "status": bindparam("status"),
        "reason": bindparam("reason"),
        "updated_at": bindparam("now"),
    }
    if sent:
        columns["sent_at"] = bindparam("now")
    marked = (
        update(OutreachLedger)
        .where(OutreachLedger.idempotency_key == bindparam("step_key"))
        .values(columns)
        .cte("marked")
    )
    event = postgresql.insert(OutboundEvent).values(
        {column: bindparam(f"event_{column}") for column in _EVENT_COLUMNS}
    )
    return event.on_conflict_do_nothing(index_elements=[OutboundEvent.event_key]).add_cte(marked)


# The columns of `event_row`, each bound as `event_<column>`.
_EVENT_COLUMNS = ("event_key", "type", "data", "customer_id", "occurred_at")
_MARK_SENT, _MARK_FAILED = _outcome_at_once(sent=True), _outcome_at_once(sent=False)


def _outcome_values(
    *, key: str, status: str, reason: str | None, now: datetime
) -> dict[str, object]:
    """The parameters of `_MARK_SENT` or `_MARK_FAILED` (whichever `status` says)."""
    event = event_row(
        MESSAGE_SENT if status == SENT else MESSAGE_FAILED,
        key,
        {"message_key": key},
        customer_pk=None,
        at=now,
    )
    values: dict[str, object] = {f"event_{column}": event[column] for column in _EVENT_COLUMNS}
    values.update(step_key=key, status=status, reason=reason, now=now)
    return values


def _record_outcome_at_once(connection: Connection, values: Mapping[str, object]) -> None:
    """`_record_outcome` on PostgreSQL, as one statement (`_outcome_at_once`)."""
    connection.execute(_MARK_SENT if values["status"] == SENT else _MARK_FAILED, values)


class SendLedger(Protocol):
    """The send step's store work, on whichever database careflow runs."""

    async def transaction(
        self, work: Callable[[Connection], _Result], *, atomic: bool = True
    ) -> _Result:
        """Run `work` in one transaction: committed when it returns, rolled back if it raises.

        `work` is synchronous code (the step's read, decision, rendering and record);
        it must not wait on anything but the connection. Without `atomic` each
        statement may commit on its own (PostgreSQL: no BEGIN and COMMIT round
        trips), for work whose statements are each safe alone.
        """
        ...

    async def record_outcome(
        self, key: str, status: str, reason: str | None, now: datetime
    ) -> None:
        """Mark the step `sent` (stamped `now`) or `failed` with the reason, committed."""
        ...

    async def close(self) -> None: ...


def send_ledger(db: Database) -> SendLedger:
    """The ledger for this store: a SQLite file in a thread of its own, else async.

    An in-memory SQLite database exists once per connection, so it is reached only
    through the store's own engine. So is a scratch store (a simulation's): its
    engine runs statements in the event loop's thread already, so a thread here
    would only add two hand-overs per transaction.
    """
    if db.is_sqlite and not db.scratch and make_url(db.url).database not in (None, "", ":memory:"):
        return _ThreadedSqliteLedger(db)
    return _AsyncLedger(db)


class _AsyncLedger:
    """PostgreSQL (and an in-memory SQLite store): the work runs on the async engine
    (`run_sync`), on the event loop.

    Its own pool, which does not ping a connection before handing it out (three round
    trips with asyncpg, twice a message, more than the step's own statements). A
    connection the server dropped since (a restart) fails at its first statement
    instead; that invalidates the pool's older connections too, and the work runs
    once more on a new one. Every piece of work given here is safe to run again:
    the decision re-reads the step's row and its upsert never overwrites a final
    row; the outcome is one UPDATE to the same values. So after a database restart
    the `sent` mark still lands, and no message is sent twice for want of it.

    With asyncpg the marks go first on a connection kept for them
    (careflow.store.driver.py): one asyncpg call each, without the pool
    and SQLAlchemy's execution around it. If that fails in any way (the server
    ended the connection, say), the connection is given up and the mark is written
    the ordinary way above, reconnect included; the mark is one statement, so a
    mark that did land before its connection failed is only written again.
    """

    def __init__(self, db: Database) -> None:
        self.engine = db.unpinged_engine()
        # The same pool; its connections commit every statement on its own.
        self.autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        dialect = self.engine.dialect
        self.kept: KeptConnection | None = None
        self._marks: dict[str, DriverStatement] = {}
        if dialect.name == "postgresql" and dialect.driver == "asyncpg":
            self.kept = db.kept_connection()
            self._marks = {
                SENT: DriverStatement.compile(_MARK_SENT, dialect),
                FAILED: DriverStatement.compile(_MARK_FAILED, dialect),
            }

    async def transaction(
        self, work: Callable[[Connection], _Result], *, atomic: bool = True
    ) -> _Result:
        try:
            return await self._run(work, atomic=atomic)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
        # The connection had been dropped: a new one (the pool replaced them all).
        return await self._run(work, atomic=atomic)

    async def _run(self, work: Callable[[Connection], _Result], *, atomic: bool) -> _Result:
        if not atomic:
            async with self.autocommit.connect() as connection:
                return await connection.run_sync(work)
        async with self.engine.begin() as connection:
            return await connection.run_sync(work)

    async def record_outcome(
        self, key: str, status: str, reason: str | None, now: datetime
    ) -> None:
        # The UPDATE and its outbound event commit together. On PostgreSQL as one
        # statement: this runs between two SMTP exchanges, so each round trip here
        # delays the next. (An in-memory SQLite store, also here, has no such CTE.)
        if self.engine.dialect.name != "postgresql":
            await self.transaction(
                partial(_record_outcome, key=key, status=status, reason=reason, now=now)
            )
            return
        values = _outcome_values(key=key, status=status, reason=reason, now=now)
        if await self._mark_on_kept_connection(values):
            return
        await self.transaction(partial(_record_outcome_at_once, values=values), atomic=False)

    async def _mark_on_kept_connection(self, values: Mapping[str, object]) -> bool:
        """The mark straight on asyncpg; False if it could not be written that way."""
        if self.kept is None:
            return False
        statement = self._marks[str(values["status"])]
        try:
            async with self.kept.driver() as driver:
                await driver.execute(statement.sql, *statement.arguments(values))
        except Exception as error:  # whatever it was, the ordinary way decides
            log.info(
                "the kept connection failed (%s: %s): marking through the pool",
                type(error).__name__,
                error,
            )
            return False
        return True

    async def close(self) -> None:
        return None  # the engine and the kept connection are the Database's


class _ThreadedSqliteLedger:
    """SQLite: each transaction in one hand-over to a thread that owns a connection.

    Transactions take turns in that thread, so this process's ledger writes never
    wait in SQLite's busy handler (which sleeps for milliseconds between tries);
    other processes' writers still do, up to the engine's timeout.
    """

    def __init__(self, db: Database) -> None:
        self.engine = db.sync_sqlite_engine()
        self.thread = _WorkerThread("careflow-ledger")
        self.connection: Connection | None = None  # opened and used in the thread only

    async def transaction(
        self, work: Callable[[Connection], _Result], *, atomic: bool = True
    ) -> _Result:
        # Always one transaction: on SQLite a commit costs no round trip.
        return await self.thread.run(partial(self._in_thread, work))

    def _in_thread(self, work: Callable[[Connection], _Result]) -> _Result:
        if self.connection is None:
            self.connection = self.engine.connect()
        connection = self.connection
        try:
            result = work(connection)
        except BaseException:
            connection.rollback()
            raise
        connection.commit()
        return result

    async def record_outcome(
        self, key: str, status: str, reason: str | None, now: datetime
    ) -> None:
        await self.transaction(
            partial(_record_outcome, key=key, status=status, reason=reason, now=now)
        )

    async def close(self) -> None:
        await self.thread.run(self._close)
        await self.thread.stop()
        self.engine.dispose()

    def _close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


_Job = tuple[Callable[[], Any], "asyncio.Future[Any]", asyncio.AbstractEventLoop]


class _WorkerThread:
    """One thread running functions handed over from the event loop, in turn.

    What `loop.run_in_executor` with a one-thread `ThreadPoolExecutor` does, with
    less machinery per hand-over (twice a message): a `SimpleQueue` in, the loop's
    future settled with `call_soon_threadsafe` out, no `concurrent.futures.Future`
    or work item between. A function whose caller stopped waiting before it started
    is skipped. The thread starts with the first function and ends with `stop()`,
    or when this object is garbage collected.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def run(self, function: Callable[[], _Result]) -> asyncio.Future[_Result]:
        """Run `function` in the thread; the future settles with its result or error."""
        if self._thread is None:
            # The thread holds the queue, not this object, so dropping the object
            # ends the thread (the finalizer tells it to).
            self._thread = threading.Thread(
                target=_serve, args=(self._queue,), name=self.name, daemon=True
            )
            self._thread.start()
            weakref.finalize(self, self._queue.put, None)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_Result] = loop.create_future()
        self._queue.put((function, future, loop))
        return future

    async def stop(self) -> None:
        """End the thread once the functions handed over before have run."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            await asyncio.to_thread(thread.join)


def _serve(jobs: queue.SimpleQueue[_Job | None]) -> None:
    while (job := jobs.get()) is not None:
        function, future, loop = job
        if future.cancelled():  # its caller stopped waiting
            continue
        try:
            result = function()
        except BaseException as error:  # handed to the caller, as an executor does
            _answer(loop, future, _fail, error)
        else:
            _answer(loop, future, _succeed, result)
            del result
        del job, function, future  # nothing kept alive while waiting for the next


def _answer(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    settle: Callable[[asyncio.Future[Any], Any], None],
    value: Any,
) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
        loop.call_soon_threadsafe(settle, future, value)


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.cancelled():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.cancelled():
        future.set_exception(error)
