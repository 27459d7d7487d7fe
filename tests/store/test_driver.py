"""Statements run straight on asyncpg (careflow/store/driver.py) do what SQLAlchemy's
execution of the same statement does: the same rows, the same values in and out,
inside the caller's transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from careflow.intake.apply import open_complaint, upsert_customer
from careflow.intake.records import ComplaintFields, CustomerFields
from careflow.outreach.decisions import Topic
from careflow.outreach.ledger import _POSTGRESQL_UPSERT, _facts_statement, record_decision
from careflow.store import Database, OutreachLedger
from careflow.store.driver import fetch_all

pytestmark = pytest.mark.parametrize("db", ["postgresql"], indirect=True)


def _ledger_row(key: str, now: datetime) -> dict[str, object]:
    return {
        "idempotency_key": key,
        "workflow_id": "journey-c-1",
        "step_id": key,
        "template_id": "complaint_ack",
        "channel": "email",
        "topic": "care",
        "status": "sent",
        "reason": None,
        "message_id": f"<{key}@example.com>",
        "rule_id": None,
        "ruleset_hash": None,
        "release_id": None,
        "customer_id": None,
        "created_at": now,
        "updated_at": now,
        "experiment": None,
        "variant": None,
    }


async def test_the_facts_read_gives_what_sqlalchemy_gives(db: Database) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    async with db.session() as session:
        customer, _ = await upsert_customer(
            session, "c-1", CustomerFields(name="Emma Clarke", email="emma@example.com"), now
        )
        customer_pk = customer.id
        await open_complaint(session, customer, ComplaintFields(complaint_id="k-1"), now)
    async with db.engine.begin() as connection:
        for number in range(2):  # two counted messages within the budget's window
            row = _ledger_row(f"journey-c-1/sent-{number}", now - timedelta(hours=number))
            await connection.execute(_POSTGRESQL_UPSERT, {**row, "customer_id": customer_pk})
    statement = _facts_statement(counted=True, about_case=True, lock_customer=True)
    parameters = {
        "step_key": "journey-c-1/next",
        "customer": "c-1",
        "topic": Topic.CARE.value,
        "complaint": "k-1",
        "since": now - timedelta(days=7),
    }
    async with db.engine.begin() as connection:
        expected = [tuple(row) for row in (await connection.execute(statement, parameters)).all()]
        found = await connection.run_sync(
            lambda sync: [tuple(row) for row in fetch_all(sync, statement, parameters)]
        )
    assert len(expected) == 2
    assert sorted(found, key=repr) == sorted(expected, key=repr)
    # Times come back aware, in UTC, as UtcDateTime hands them out.
    assert all(row[-3].tzinfo is UTC for row in found)


async def test_a_statement_on_the_cursor_is_part_of_the_callers_transaction(
    db: Database,
) -> None:
    now = datetime.now(UTC)
    row = _ledger_row("journey-c-1/ack", now)
    keys = tuple(row)

    def write_then_fail(sync: object) -> None:
        assert fetch_all(sync, _POSTGRESQL_UPSERT, row, column_keys=keys)  # type: ignore[arg-type]
        raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        async with db.engine.begin() as connection:
            await connection.run_sync(write_then_fail)
    async with db.session() as session:
        assert (await session.scalars(select(OutreachLedger.id))).all() == []
    # Written and committed: the stored time is the one given, in UTC.
    async with db.engine.begin() as connection:
        await connection.run_sync(
            lambda sync: fetch_all(sync, _POSTGRESQL_UPSERT, row, column_keys=keys)
        )
    async with db.session() as session:
        stored = (await session.scalars(select(OutreachLedger.created_at))).one()
    assert stored == now


async def test_an_error_is_sqlalchemys(db: Database) -> None:
    now = datetime.now(UTC)
    row = {**_ledger_row("journey-c-1/ack", now), "customer_id": 999_999}  # no such customer
    with pytest.raises(IntegrityError):
        async with db.engine.begin() as connection:
            await connection.run_sync(
                lambda sync: fetch_all(sync, _POSTGRESQL_UPSERT, row, column_keys=tuple(row))
            )


async def test_a_column_left_out_gets_its_default(db: Database) -> None:
    now = datetime.now(UTC)
    row = _ledger_row("journey-c-1/ack", now)
    del row["channel"], row["topic"], row["experiment"], row["variant"]
    async with db.engine.begin() as connection:
        finished = await connection.run_sync(lambda sync: record_decision(sync, row))
    assert finished is None
    async with db.session() as session:
        stored = (await session.execute(select(OutreachLedger.channel, OutreachLedger.topic))).one()
    assert tuple(stored) == ("email", "transactional")
