"""aiosqlite connections that hand a statement to their thread once, not four times.

Why: SQLAlchemy's aiosqlite adapter makes a cursor, executes it, fetches its rows
and closes it, four calls, and aiosqlite runs each call in the connection's own
thread: per call two thread switches and a wake-up of the event loop, which on a
short statement cost more CPU than SQLite's work (a complaint on the direct event
path runs about forty statements; docs/benchmarks.md). Here:
- the cursor is made in the same hand-off as its first execute;
- a statement that returns no rows (INSERT, UPDATE) is closed in that hand-off too;
- a statement that returns rows has its first `iter_chunk_size` rows fetched in that
  hand-off, and is closed there too when those are all of them (most reads are a
  handful of rows, and SQLAlchemy fetches a result's rows right after running it);
- fetching all rows closes the cursor in the same hand-off;
- commit and rollback with no transaction open, which Python's sqlite3 module
  skips anyway ("if there is no open transaction, this method is a no-op"), are
  not handed off at all: a read-only session's commit and the pool's rollback of
  every connection it takes back.
What runs, in which order, and in which thread SQLite runs it are unchanged.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite
from aiosqlite.context import Result


class FewerHopsConnection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors make fewer trips to its thread."""

    def cursor(self) -> Result[aiosqlite.Cursor]:
        # Awaitable and an async context manager, as aiosqlite's own `cursor()` is.
        return Result(self._new_cursor())

    async def _new_cursor(self) -> aiosqlite.Cursor:
        return _Cursor(self)

    async def commit(self) -> None:
        if self._transaction_open():
            await super().commit()

    async def rollback(self) -> None:
        if self._transaction_open():
            await super().rollback()

    def _transaction_open(self) -> bool:
        # Closed connection: say yes, so that the call fails as aiosqlite's would.
        connection = self._connection
        return connection is None or connection.in_transaction


class _Cursor(aiosqlite.Cursor):
    """A cursor whose sqlite3 cursor is made, run and closed in as few hand-offs as can be."""

    def __init__(self, conn: FewerHopsConnection) -> None:
        # aiosqlite.Cursor's own __init__ wants the sqlite3 cursor made already.
        self.iter_chunk_size = conn._iter_chunk_size
        self._conn = conn
        self._open: sqlite3.Cursor | None = None
        self._last: sqlite3.Cursor | None = None
        # Rows fetched with the statement, not yet handed to the caller.
        self._fetched: deque[sqlite3.Row] = deque()

    @property
    def _cursor(self) -> sqlite3.Cursor:  # type: ignore[override]
        # What aiosqlite's inherited methods and properties read (rowcount, lastrowid,
        # description, fetchone, fetchmany): the last statement's cursor, which keeps
        # those attributes after it is closed.
        if self._last is None:
            raise sqlite3.ProgrammingError("no statement has been executed on this cursor")
        return self._last

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> aiosqlite.Cursor:
        parameters = [] if parameters is None else parameters
        await self._ran(partial(_run, self._conn, self._open, "execute", sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> aiosqlite.Cursor:
        await self._ran(partial(_run, self._conn, self._open, "executemany", sql, parameters))
        return self

    async def _hand_off(self, call: Callable[[], Any]) -> Any:
        """`call` in the connection's thread (aiosqlite's queue)."""
        return await self._execute(call)  # type: ignore[no-untyped-call]

    async def _ran(self, run: Callable[[], _Ran]) -> None:
        cursor, still_open, rows = await self._hand_off(run)
        self._last = cursor
        self._open = cursor if still_open else None
        self._fetched = deque(rows)

    async def fetchone(self) -> sqlite3.Row | None:
        if self._fetched:
            return self._fetched.popleft()
        if self._open is None:
            return None  # no rows, or all of them handed out
        row: sqlite3.Row | None = await self._hand_off(self._open.fetchone)
        return row

    async def fetchmany(self, size: int | None = None) -> Iterable[sqlite3.Row]:
        wanted = max(1, self.arraysize if size is None else size)
        if self._fetched:
            # Fewer than asked for is allowed; an empty list only ever means no more.
            return [self._fetched.popleft() for _ in range(min(wanted, len(self._fetched)))]
        if self._open is None:
            return []
        rows: list[sqlite3.Row] = await self._hand_off(partial(self._open.fetchmany, wanted))
        return rows

    async def fetchall(self) -> Iterable[sqlite3.Row]:
        rows = list(self._fetched)
        self._fetched.clear()
        if self._open is not None:
            rows.extend(await self._hand_off(partial(_fetch_all_and_close, self._open)))
            self._open = None  # closed by the fetch
        return rows

    async def close(self) -> None:
        self._fetched.clear()
        if self._open is not None:
            await self._hand_off(self._open.close)
            self._open = None


# What `_run` hands back: the statement's cursor, whether it stays open (rows left to
# fetch), and the rows fetched with the statement.
_Ran = tuple[sqlite3.Cursor, bool, list[sqlite3.Row]]


def _run(
    connection: aiosqlite.Connection,
    cursor: sqlite3.Cursor | None,
    method: str,
    sql: str,
    parameters: Any,
) -> _Ran:
    """In the connection's thread: the statement on `cursor` (a new one if None), and
    its first `iter_chunk_size` rows; the cursor is closed once it has no more."""
    made = cursor is None
    if cursor is None:
        cursor = connection._conn.cursor()
    try:
        getattr(cursor, method)(sql, parameters)
        if cursor.description is None:
            cursor.close()
            return cursor, False, []
        # A fetch that fails raises here, as the statement's error: SQLAlchemy's
        # adapter fetches a result in the call that runs it, so its caller sees the
        # same error either way; a scratch store's retry runs the statement again.
        chunk = connection._iter_chunk_size
        rows = cursor.fetchmany(chunk)
    except BaseException:
        if made:
            cursor.close()
        raise
    if len(rows) < chunk:
        cursor.close()
        return cursor, False, rows
    return cursor, True, rows


def _fetch_all_and_close(cursor: sqlite3.Cursor) -> list[Any]:
    # Closed only once every row is in: a fetch that failed (SQLITE_BUSY, retried in
    # the connection's thread by a scratch store) can be made again on the same cursor.
    rows = cursor.fetchall()
    cursor.close()
    return rows


def connect_with_fewer_hops(
    database: str | Path,
    *,
    iter_chunk_size: int = 64,
    connection_class: type[FewerHopsConnection] = FewerHopsConnection,
    **kwargs: Any,
) -> FewerHopsConnection:
    """What `aiosqlite.connect` does, with a `FewerHopsConnection` (or a subclass):
    SQLAlchemy's aiosqlite dialect calls it with the URL's database and
    `connect_args` (`async_creator_fn`); `kwargs` go to `sqlite3.connect`."""
    connection = connection_class(
        partial(sqlite3.connect, str(database), **kwargs), iter_chunk_size
    )
    # As SQLAlchemy's dialect does for aiosqlite's own: an unclosed connection never
    # keeps the process alive.
    connection._thread.daemon = True
    return connection
