"""`careflow erase` leaves nothing that identifies the person (issue 16, class 6).

A customer goes through careflow the way a real one does (events through intake,
a complaint journey on a real Temporal dev server with its SQLite database, mail
captured in the outbox, an operator's note in the audit log, a log line), and is
erased. Then every table and text column of the store (SQLite and PostgreSQL),
every table of Temporal's database, the outbox and the logs are searched for the
person's id, name, email address and phone number. A second customer, who is not
erased, is found by the same search: it proves the search looks where it should.
"""

from __future__ import annotations

import asyncio
import email
import hashlib
import json
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email import policy as email_policy
from pathlib import Path

import httpx
import pytest
from sqlalchemy import JSON, String, Text, cast, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.cli import app
from careflow.config import Settings, load_settings, local_secret_key
from careflow.erasure import anonymous_id, erase_customer
from careflow.intake.apply import upsert_customer
from careflow.intake.events import EventIn, accept_event
from careflow.intake.records import CustomerFields
from careflow.outreach.links import survey_token, unsubscribe_token
from careflow.outreach.mailer import OutboxDelivery
from careflow.runtime.temporal_server import EmbeddedTemporal
from careflow.store import (
    AuditEntry,
    Base,
    Customer,
    Database,
    Event,
    OutboundEvent,
    Task,
    WebhookDelivery,
    create_database,
)
from careflow.worker import create_worker
from tests.faults.conftest import temporal  # noqa: F401  (the dev-server fixture)

ERASED = {
    "id": "cust-erase-7",
    "name": "Wilhelmina Quartermaine",
    "email": "wilhelmina.q@example.org",
    "phone": "+44 20 7946 0999",
}
KEPT = {
    "id": "cust-keep-8",
    "name": "Bartholomew Fenwright",
    "email": "bart.fenwright@example.org",
    "phone": "+44 20 7946 0888",
}


async def _until(condition: Callable[[], Awaitable[bool]], what: str, seconds: float = 60) -> None:
    """Wait for something the worker does in the background, failing after `seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await condition():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _post(db: Database, client: Client, settings: Settings, event: EventIn) -> None:
    await accept_event(db, client, settings.task_queue, event)


async def _customer_goes_through_careflow(
    db: Database, client: Client, settings: Settings, person: dict[str, str], complaint: str
) -> None:
    now = datetime.now(UTC)
    customer = person["id"]
    for event in (
        EventIn(
            type="customer_upserted",
            customer_id=customer,
            occurred_at=now,
            data={
                "name": person["name"],
                "email": person["email"],
                "phone": person["phone"],
                "locale": "en",
                "timezone": "Europe/London",
                "tier": "vip",
            },
        ),
        EventIn(
            type="consent_changed",
            customer_id=customer,
            occurred_at=now,
            data={"channel": "email", "topic": "marketing", "granted": True},
        ),
        EventIn(
            type="complaint_opened",
            customer_id=customer,
            occurred_at=now,
            data={"complaint_id": complaint, "severity": "high", "subject": "Kettle broken"},
        ),
    ):
        await _post(db, client, settings, event)


async def _open_tasks(db: Database, customer: str) -> list[Task]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(Task)
                .join(Customer, Customer.id == Task.customer_id)
                .where(Customer.external_id == customer, Task.status == "open")
            )
        )


def _outbox_texts(outbox: Path) -> list[str]:
    """Every captured message, headers and text parts decoded."""
    texts = []
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email_policy.default)
        parts = [f"{name}: {value}" for name, value in message.items()]
        parts += [
            str(part.get_content())
            for part in message.walk()
            if part.get_content_maintype() == "text"
        ]
        texts.append("\n".join(parts))
    return texts


async def _store_texts(db: Database) -> list[str]:
    """Every text and JSON value in every table of the store."""
    values: list[str] = []
    async with db.session() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.c if isinstance(c.type, String | Text | JSON)]
            if not columns:
                continue
            rows = await session.execute(select(*(cast(c, Text) for c in columns)))
            values += [value for row in rows for value in row if value is not None]
    return values


def _temporal_bytes(database: Path) -> list[bytes]:
    """Every value of every table in the Temporal dev server's SQLite database."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        tables = [
            name
            for (name,) in connection.execute("select name from sqlite_master where type='table'")
        ]
        values: list[bytes] = []
        for table in tables:
            for row in connection.execute(f'select * from "{table}"'):  # noqa: S608
                for value in row:
                    if isinstance(value, bytes):
                        values.append(value)
                    elif isinstance(value, str):
                        values.append(value.encode())
        return values
    finally:
        connection.close()


def _found(person: dict[str, str], haystack: list[str]) -> list[str]:
    return [what for what, value in person.items() if any(value in text for text in haystack)]


def _found_bytes(person: dict[str, str], haystack: list[bytes]) -> list[str]:
    return [
        what for what, value in person.items() if any(value.encode() in blob for blob in haystack)
    ]


@pytest.fixture
async def client(temporal: EmbeddedTemporal) -> Client:  # noqa: F811
    return await Client.connect(temporal.address)


async def test_after_erase_nothing_identifies_the_person(
    db: Database,
    client: Client,
    temporal: EmbeddedTemporal,  # noqa: F811
    settings: Settings,
) -> None:
    home = settings.resolved_home
    delivery = OutboxDelivery(settings.outbox_dir)
    async with create_worker(client, settings, db=db, delivery=delivery):
        await _customer_goes_through_careflow(db, client, settings, ERASED, "K-erase-1")
        await _customer_goes_through_careflow(db, client, settings, KEPT, "K-keep-1")

        async def acknowledged() -> bool:
            texts = _outbox_texts(settings.outbox_dir) if settings.outbox_dir.is_dir() else []
            return all(_found(person, texts) for person in (ERASED, KEPT))

        await _until(acknowledged, "both acknowledgements in the outbox")
        await _until(
            lambda: _has(_open_tasks(db, ERASED["id"])), "the agent's task for the complaint"
        )
        async with db.session() as session:
            session.add(
                AuditEntry(
                    at=datetime.now(UTC),
                    actor="ada",
                    action="consent_changed",
                    target=ERASED["id"],
                    details={"note": f"{ERASED['name']} asked on the phone", "granted": False},
                )
            )
            # A webhook to the CRM names the customer by id in its body.
            for person in (ERASED, KEPT):
                event = OutboundEvent(
                    event_key=f"consent.changed/{person['id']}",
                    type="consent.changed",
                    data={"channel": "sms"},
                    customer_id=await session.scalar(
                        select(Customer.id).where(Customer.external_id == person["id"])
                    ),
                    occurred_at=datetime.now(UTC),
                )
                session.add(event)
                await session.flush()
                session.add(
                    WebhookDelivery(
                        delivery_id="msg_" + hashlib.sha256(person["id"].encode()).hexdigest()[:32],
                        endpoint="crm",
                        kind="webhook",
                        event_id=event.id,
                        event_type=event.type,
                        body=json.dumps({"data": {"customer_id": person["id"]}}),
                        status="delivered",
                        attempts=1,
                        next_attempt_at=event.occurred_at,
                        created_at=event.occurred_at,
                    )
                )
        logs = home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        (logs / "careflow.log").write_text(
            f"sent complaint-{ERASED['id']}-K-erase-1/ack to customer {ERASED['id']}\n"
            f"sent complaint-{KEPT['id']}-K-keep-1/ack to customer {KEPT['id']}\n"
        )
        secret_link = unsubscribe_token(settings.secret_key, ERASED["id"], "marketing")
        survey_link = survey_token(settings.secret_key, f"complaint-{ERASED['id']}", ERASED["id"])
        before = _found(ERASED, await _store_texts(db))
        assert sorted(before) == ["email", "id", "name", "phone"]

        report = await erase_customer(
            db, client, ERASED["id"], secret_key=settings.secret_key, home=home
        )
    await delivery.close()
    assert report is not None
    assert report.workflows_deleted >= 4  # three event workflows and the journey
    assert report.histories_kept == 0
    assert report.tasks_closed >= 1
    assert report.outbox_files_deleted >= 1

    # The store: nothing of the person, the other customer intact.
    store = await _store_texts(db)
    assert _found(ERASED, store) == [], [v for v in store if ERASED["id"] in v]
    assert sorted(_found(KEPT, store)) == ["email", "id", "name", "phone"]
    # What stays is a keyed pseudonym, not an unsalted hash anyone can recompute.
    pseudonym = anonymous_id(settings.secret_key, ERASED["id"])
    assert pseudonym in store
    assert hashlib.sha256(ERASED["id"].encode()).hexdigest()[:16] not in pseudonym
    assert anonymous_id("another key", ERASED["id"]) != pseudonym
    async with db.session() as session:
        statuses = set(
            await session.scalars(
                select(Task.status)
                .join(Customer, Customer.id == Task.customer_id)
                .where(Customer.external_id == pseudonym, Task.kind != "notification")
            )
        )
    assert statuses == {"erased"}  # the open complaint task is closed as erased

    # Temporal's own database: the executions, histories, memos and visibility rows.
    temporal_db = temporal.home / "temporal.db"

    async def temporal_forgot() -> bool:
        return _found_bytes(ERASED, _temporal_bytes(temporal_db)) == []

    await _until(temporal_forgot, "Temporal to finish deleting the executions")
    assert "id" in _found_bytes(KEPT, _temporal_bytes(temporal_db))

    # The outbox and the logs.
    outbox = _outbox_texts(settings.outbox_dir)
    assert _found(ERASED, outbox) == []
    assert _found(KEPT, outbox)
    log_text = (home / "logs" / "careflow.log").read_text()
    assert _found(ERASED, [log_text]) == []
    assert KEPT["id"] in log_text

    # Old links do nothing, and never bring the customer back.
    app = create_app(ApiState(db, client, settings.task_queue, settings.secret_key))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://careflow.test"
    ) as web:
        for path, form in (
            (f"/unsubscribe/{secret_link}", {}),
            (f"/survey/{survey_link}", {"score": "1"}),
        ):
            assert (await web.get(path)).status_code == 410
            assert (await web.post(path, data=form)).status_code == 410
    async with db.session() as session:
        assert (
            await session.scalar(select(Customer).where(Customer.external_id == ERASED["id"]))
            is None
        )
        assert (
            _found(ERASED, [e.customer_external_id for e in await session.scalars(select(Event))])
            == []
        )


async def _has(tasks: Awaitable[list[Task]]) -> bool:
    return bool(await tasks)


async def test_erasing_an_unknown_customer_says_so(db: Database, client: Client) -> None:
    assert await erase_customer(db, client, "nobody", secret_key="k") is None


async def test_a_server_that_cannot_delete_gets_the_journeys_stopped_and_says_so(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    """Temporal's time-skipping test server deletes nothing: erasure stops the journeys,
    cleans the store, and reports the histories that stay until retention ends."""
    client = workflow_env.client
    delivery = OutboxDelivery(settings.outbox_dir)
    async with create_worker(client, settings, db=db, delivery=delivery):
        await _customer_goes_through_careflow(db, client, settings, ERASED, "K-erase-2")
        await _until(lambda: _has(_open_tasks(db, ERASED["id"])), "the complaint journey")
        report = await erase_customer(
            db, client, ERASED["id"], secret_key=settings.secret_key, home=settings.resolved_home
        )
    await delivery.close()
    assert report is not None
    assert report.journeys_cancelled == 1
    assert report.workflows_deleted == 0
    assert report.histories_kept >= 1
    assert _found(ERASED, await _store_texts(db)) == []


async def test_erasing_c1_leaves_c10_alone(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    """A short id inside a longer one (`c1` in `c10`) is not the same customer."""
    now = datetime.now(UTC)
    async with db.session() as session:
        for customer in ("c1", "c10"):
            row = Customer(
                external_id=customer,
                name=f"Name of {customer}",
                email=f"{customer}@example.org",
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            await session.flush()
            session.add(
                Task(
                    idempotency_key=f"notify/sales/{customer}/rule-x/2026-12-02",
                    kind="notification",
                    assignee="sales",
                    customer_id=row.id,
                    title=f"call {customer}",
                    status="open",
                    created_at=now,
                )
            )
            session.add(
                AuditEntry(
                    at=now, actor="ada", action="consent_changed", target=customer, details={}
                )
            )
    outbox = settings.outbox_dir
    outbox.mkdir(parents=True)
    (outbox / "c10.eml").write_text("To: c10@example.org\nSubject: for c10\n\nHello c10\n")
    report = await erase_customer(
        db, workflow_env.client, "c1", secret_key=settings.secret_key, home=settings.resolved_home
    )
    assert report is not None
    assert report.tasks_closed == 1
    async with db.session() as session:
        tasks = {
            task.idempotency_key: (task.title, task.status)
            for task in await session.scalars(select(Task))
        }
        targets = set(await session.scalars(select(AuditEntry.target)))
    assert tasks["notify/sales/c10/rule-x/2026-12-02"] == ("call c10", "open")
    erased = anonymous_id(settings.secret_key, "c1")
    assert tasks[f"notify/sales/{erased}/rule-x/2026-12-02"] == (f"call {erased}", "erased")
    assert targets == {"c10", erased}
    assert (outbox / "c10.eml").exists()


def test_careflow_erase_uses_the_deployment_key_and_home(
    temporal: EmbeddedTemporal,  # noqa: F811
) -> None:
    """`careflow erase` keys the pseudonym with CAREFLOW_SECRET_KEY's key and cleans
    CAREFLOW_HOME's outbox and logs."""
    settings = load_settings()
    home = settings.resolved_home

    async def seed() -> None:
        db = create_database(settings.sqlalchemy_url)
        try:
            await db.migrate()
            async with db.session() as session:
                await upsert_customer(
                    session,
                    ERASED["id"],
                    CustomerFields(name=ERASED["name"], email=ERASED["email"]),
                    datetime.now(UTC),
                )
        finally:
            await db.dispose()

    async def external_ids() -> list[str]:
        db = create_database(settings.sqlalchemy_url)
        try:
            async with db.session() as session:
                return list(await session.scalars(select(Customer.external_id)))
        finally:
            await db.dispose()

    asyncio.run(seed())
    (home / "outbox").mkdir(parents=True)
    mail = home / "outbox" / "ack.eml"
    mail.write_text(f"To: {ERASED['email']}\nSubject: Hello\n\nDear customer\n")
    (home / "logs").mkdir()
    (home / "logs" / "worker.log").write_text(f"sent ack to customer {ERASED['id']}\n")
    result = CliRunner().invoke(
        app, ["erase", ERASED["id"], "--yes"], env={"TEMPORAL_ADDRESS": temporal.address}
    )
    assert result.exit_code == 0, result.output
    pseudonym = anonymous_id(local_secret_key(home), ERASED["id"])
    said = result.output.replace("\n", "")  # rich wraps long lines
    assert f"now {pseudonym}" in said
    assert "1 outbox message(s) deleted, 1 log file(s) rewritten" in said
    assert asyncio.run(external_ids()) == [pseudonym]
    assert not mail.exists()
    assert (home / "logs" / "worker.log").read_text() == f"sent ack to customer {pseudonym}\n"
