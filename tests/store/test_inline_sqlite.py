"""A scratch store's statements run in the loop's thread, and wait for locks off it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from careflow.store import create_database, inline_sqlite


async def test_statements_run_in_the_loops_thread(tmp_path: Path) -> None:
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}", scratch=True)
    try:
        async with db.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            sqlite = raw.driver_connection._connection  # type: ignore[union-attr]
            seen: list[int] = []

            def thread_id() -> int:
                seen.append(threading.get_ident())
                return 1

            sqlite.create_function("thread_id", 0, thread_id)
            await connection.execute(text("SELECT thread_id()"))
            assert seen == [threading.get_ident()]
            synchronous = await connection.scalar(text("PRAGMA synchronous"))
            assert synchronous == 0  # OFF: nothing waits for the disk
    finally:
        await db.dispose()


async def test_a_write_waits_for_another_tasks_lock_without_blocking_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    waiting = asyncio.Event()
    wait_in_thread = inline_sqlite._waiting

    def told(connection: sqlite3.Connection, call: Callable[[], Any]) -> Any:
        loop.call_soon_threadsafe(waiting.set)
        return wait_in_thread(connection, call)

    monkeypatch.setattr(inline_sqlite, "_waiting", told)
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}", scratch=True)
    try:
        async with db.engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER)"))
        holding = asyncio.Event()
        release = asyncio.Event()

        async def holder() -> None:
            async with db.engine.begin() as connection:
                await connection.execute(text("INSERT INTO t VALUES (1)"))
                holding.set()
                # The write lock is held across an await: the other task's insert
                # must wait for it without stopping this task from committing.
                await release.wait()

        async def writer() -> None:
            await holding.wait()
            async with db.engine.begin() as connection:
                await connection.execute(text("INSERT INTO t VALUES (2)"))

        holding_task = asyncio.create_task(holder())
        writing_task = asyncio.create_task(writer())
        # The writer met the lock and waits in its connection's thread, while this
        # loop still runs (it is running this line).
        await asyncio.wait_for(waiting.wait(), timeout=10)
        assert not writing_task.done()
        release.set()
        await asyncio.wait_for(asyncio.gather(holding_task, writing_task), timeout=10)
        async with db.engine.connect() as connection:
            rows = (await connection.execute(text("SELECT n FROM t ORDER BY n"))).all()
        assert [n for (n,) in rows] == [1, 2]
    finally:
        await db.dispose()
