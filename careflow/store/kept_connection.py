"""One PostgreSQL connection kept out of the pool, for a statement run straight on asyncpg.

The send step writes its `sent` mark between two SMTP exchanges, one mark at a
time per process, thousands a minute. Through SQLAlchemy each mark costs more
CPU than the statement itself: a pool checkout and checkin, the greenlet that
runs the synchronous execution code, the compiled cache's lookup (which hashes
the statement's whole cache key) and the execution context and result around
one asyncpg call, about 0.35 ms against 0.05 ms for the call alone. So that one
statement is compiled once (`DriverStatement`, with SQLAlchemy's own bind
processing per column type) and sent on a connection kept for it
(`KeptConnection`), which asyncpg keeps it prepared on.

The connection comes from the store's pool without pre-ping (the same connect
arguments and events as any other), stays checked out until the `Database` is
disposed, and is given up after any failure: the caller then does the work the
ordinary way, through the pool, whose reconnect handling is the one everything
else relies on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class DriverStatement:
    """A Core statement as its dialect's driver takes it: the SQL text and, in order,
    the names of its parameters with each one's bind processing (None: as it is)."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[_Processor, ...]

    @classmethod
    def compile(cls, statement: ClauseElement, dialect: Dialect) -> DriverStatement:
        """Compile `statement` once for `dialect` (a positional one, such as asyncpg's).

        Every parameter must be a named `bindparam` without a value: its value comes
        from `arguments`, through the bind processing of the column type SQLAlchemy
        gave it (a `UtcDateTime` becomes naive UTC, a JSON value text), as
        `Connection.execute` would do it.
        """
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        if compiled.positiontup is None:
            raise ValueError(f"{dialect.name} does not take positional parameters")
        names = tuple(compiled.positiontup)
        for name in names:
            bind = compiled.binds[name]
            if not bind.required or bind.expanding:
                raise ValueError(f"parameter {name!r} must be a plain bindparam without a value")
        processors = tuple(
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in names
        )
        return cls(str(compiled), names, processors)

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The driver's positional arguments for these named values."""
        return [
            values[name] if process is None else process(values[name])
            for name, process in zip(self.names, self.processors, strict=True)
        ]


class KeptConnection:
    """A connection of `engine`'s pool kept checked out, used by one caller at a time.

    Opened on first use; after any failure while it was lent (a dropped connection,
    a cancelled statement) it is invalidated and a new one is opened next time.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._lock = asyncio.Lock()
        self._connection: AsyncConnection | None = None

    @asynccontextmanager
    async def driver(self) -> AsyncIterator[Any]:
        """The driver's own connection (asyncpg's), for the duration of the block."""
        async with self._lock:
            if self._connection is None:
                self._connection = await self.engine.connect()
            connection = self._connection
            try:
                raw = await connection.get_raw_connection()
                yield raw.driver_connection
            except BaseException:
                # Its state is unknown (a statement may still be running): never reused.
                self._connection = None
                await _discard(connection)
                raise

    async def close(self) -> None:
        """Give the connection back to the pool (the next use opens one again)."""
        async with self._lock:
            connection, self._connection = self._connection, None
            if connection is not None:
                await connection.close()


async def _discard(connection: AsyncConnection) -> None:
    # Invalidation closes the driver's connection and forgets it; the pool makes a
    # new one for the next checkout. A connection already gone may fail to close.
    with contextlib.suppress(Exception):
        await connection.invalidate()
    with contextlib.suppress(Exception):
        await connection.close()
