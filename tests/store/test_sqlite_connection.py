"""The store's SQLite connections: every statement does what it did, in fewer hand-offs.

careflow/store/sqlite_connection.py changes only how often a statement crosses to
aiosqlite's thread. These run real statements through the store's own engine and
check what a caller sees (rows, counts, ids, errors, transactions, streamed results),
then count the crossings.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from careflow.store import Customer, Database, create_database
from careflow.store.sqlite_connection import FewerHopsConnection

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    database = create_database(f"sqlite+aiosqlite:///{tmp_path / 'careflow.db'}")
    await database.migrate()
    yield database
    await database.dispose()


def _customer(number: int) -> dict[str, object]:
    return {
        "external_id": f"c{number}",
        "email": f"c{number}@example.com",
        "birthday_calendar": "solar",
        "created_at": NOW,
        "updated_at": NOW,
    }


async def test_statements_return_what_they_did(sqlite_db: Database) -> None:
    async with sqlite_db.session() as session:
        # lastrowid, rowcount: read off the cursor after it was closed in its hand-off.
        inserted = await session.execute(insert(Customer).values(_customer(1)))
        assert inserted.inserted_primary_key is not None  # type: ignore[attr-defined]
        await session.execute(insert(Customer), [_customer(n) for n in range(2, 12)])
        changed = await session.execute(
            update(Customer).where(Customer.external_id.in_(["c1", "c2", "c3"])).values(name="x")
        )
        assert changed.rowcount == 3  # type: ignore[attr-defined]
        none = await session.execute(update(Customer).where(Customer.id < 0).values(name="y"))
        assert none.rowcount == 0  # type: ignore[attr-defined]
        ids = (await session.scalars(select(Customer.external_id).order_by(Customer.id))).all()
        assert ids == [f"c{n}" for n in range(1, 12)]
        empty = (await session.execute(select(Customer).where(Customer.id < 0))).all()
        assert empty == []
    async with sqlite_db.session() as session:
        named = await session.scalar(select(func.count()).where(Customer.name == "x"))
    assert named == 3  # committed


async def test_a_failed_statement_rolls_back_and_the_connection_goes_on(
    sqlite_db: Database,
) -> None:
    async def twice() -> None:
        async with sqlite_db.session() as session:
            await session.execute(insert(Customer).values(_customer(1)))
            await session.execute(insert(Customer).values(_customer(1)))  # same external id

    with pytest.raises(IntegrityError):
        await twice()
    async with sqlite_db.session() as session:
        # Neither row was kept, and the pool's connection works.
        assert await session.scalar(select(func.count()).select_from(Customer)) == 0
        await session.execute(insert(Customer).values(_customer(2)))
    async with sqlite_db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 1


async def test_streamed_results_come_in_chunks_and_all_arrive(sqlite_db: Database) -> None:
    async with sqlite_db.session() as session:
        await session.execute(insert(Customer), [_customer(n) for n in range(500)])
    seen: list[str] = []
    async with sqlite_db.engine.connect() as connection:
        stream = await connection.stream(
            select(Customer.external_id).order_by(Customer.id).execution_options(yield_per=64)
        )
        async for partition in stream.partitions():
            assert len(partition) <= 64
            seen.extend(row[0] for row in partition)
    assert seen == [f"c{n}" for n in range(500)]


async def test_two_connections_writing_at_once_both_get_their_rows_in(
    sqlite_db: Database,
) -> None:
    # The second writer meets the first's write lock (or not, as the threads run):
    # either way the busy timeout makes it wait rather than fail.
    async with sqlite_db.engine.connect() as first, sqlite_db.engine.connect() as second:
        await first.execute(insert(Customer).values(_customer(1)))  # holds the write lock
        waiting = asyncio.create_task(second.execute(insert(Customer).values(_customer(2))))
        await first.commit()
        await waiting
        await second.commit()
    async with sqlite_db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 2


async def test_each_statement_crosses_to_the_connections_thread_once(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    crossings: list[str] = []
    hand_off = FewerHopsConnection._execute

    async def counted(self: FewerHopsConnection, fn: object, *args: object) -> object:
        crossings.append(getattr(fn, "__name__", type(fn).__name__))
        return await hand_off(self, fn, *args)  # type: ignore[no-untyped-call]

    async with sqlite_db.session() as session:  # the connection is made before counting
        await session.execute(text("select 1"))
    monkeypatch.setattr(FewerHopsConnection, "_execute", counted)
    async with sqlite_db.session() as session:
        await session.execute(insert(Customer).values(_customer(1)))
    # The INSERT (made, run and closed at once) and the commit: two. aiosqlite's own
    # cursor made four (cursor, execute, close, commit) and the pool's rollback a fifth.
    assert len(crossings) == 2
    crossings.clear()
    async with sqlite_db.session() as session:
        assert (await session.execute(select(Customer.external_id))).all() == [("c1",)]
    # A read of a few rows: run, fetched and closed at once; no commit or rollback
    # with nothing to end.
    assert len(crossings) == 1


async def test_a_result_longer_than_a_chunk_arrives_whole_in_two_crossings(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with sqlite_db.session() as session:
        await session.execute(insert(Customer), [_customer(n) for n in range(200)])
    crossings: list[object] = []
    hand_off = FewerHopsConnection._execute

    async def counted(self: FewerHopsConnection, fn: object, *args: object) -> object:
        crossings.append(fn)
        return await hand_off(self, fn, *args)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(FewerHopsConnection, "_execute", counted)
    async with sqlite_db.engine.connect() as connection:
        every = (await connection.execute(select(Customer.external_id).order_by(Customer.id))).all()
        exactly_a_chunk = (
            await connection.execute(select(Customer.external_id).order_by(Customer.id).limit(64))
        ).all()
    assert [row[0] for row in every] == [f"c{n}" for n in range(200)]
    assert [row[0] for row in exactly_a_chunk] == [f"c{n}" for n in range(64)]
    # Each: the statement with its first 64 rows, then the rest (none for the second,
    # which could not know it had no more).
    assert len(crossings) == 4


async def test_rows_fetched_one_at_a_time_or_in_batches_come_in_order_once(
    sqlite_db: Database,
) -> None:
    async with sqlite_db.session() as session:
        await session.execute(insert(Customer), [_customer(n) for n in range(100)])
    query = select(Customer.external_id).order_by(Customer.id)
    async with sqlite_db.engine.connect() as connection:
        for size in (3, 100):
            result = await connection.stream(query.where(Customer.id <= size))
            first = await result.fetchone()
            rest = await result.fetchmany(2)
            others = await result.all()
            assert first is not None
            names = [first[0], *(row[0] for row in rest), *(row[0] for row in others)]
            assert names == [f"c{n}" for n in range(size)]
            assert await result.fetchone() is None
            await result.close()
