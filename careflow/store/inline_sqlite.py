"""SQLite connections whose statements run in the event loop's own thread.

For a scratch store (a simulation's): aiosqlite hands every call (cursor, execute,
fetch, close, commit) to a thread of its own and wakes the event loop with the
answer, and those two thread switches cost more CPU than a short statement itself
(a simulation makes hundreds of thousands). Here a call runs at once, in the loop's
thread, as long as it need not wait for a lock: the connection's busy timeout is 0,
so a statement that meets another connection's write lock fails at once with
SQLITE_BUSY, having done nothing, and is then run again the usual way, in the
connection's thread with the store's usual busy timeout, while the loop goes on (the
lock's holder may be a task of this loop). What each statement does is unchanged;
only which thread runs it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from careflow.store.sqlite_connection import FewerHopsConnection, connect_with_fewer_hops

# What a statement that has to wait for a lock waits at most (the store's usual).
BUSY_TIMEOUT_MS = 30_000


class InlineConnection(FewerHopsConnection):
    """An aiosqlite connection that runs each call in the caller's thread when it can
    (and, as every store's SQLite connection, makes as few calls per statement as it can)."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
        # The lock is someone else's: wait for it in the connection's thread.
        waiting = partial(_waiting, self._connection, partial(fn, *args, **kwargs))
        return await super()._execute(waiting)  # type: ignore[no-untyped-call]


def _waiting(connection: sqlite3.Connection, call: Callable[[], Any]) -> Any:
    """`call` with the usual busy timeout (in the connection's thread)."""
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    try:
        return call()
    finally:
        connection.execute("PRAGMA busy_timeout = 0")


def inline_connector(path: str) -> Callable[[], Awaitable[InlineConnection]]:
    """The `async_creator` of an engine on the SQLite file `path` (see the module)."""

    async def connect() -> InlineConnection:
        # Not tied to the thread that opened it: calls come from the loop's thread.
        connection = connect_with_fewer_hops(
            path, timeout=0, check_same_thread=False, connection_class=InlineConnection
        )
        await connection
        assert isinstance(connection, InlineConnection)
        return connection

    return connect
