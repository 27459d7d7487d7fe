"""Statements compiled once and run on asyncpg itself, for the send step's hot path.

The send step runs three statements a message (careflow/outreach/ledger.py), each
a few dozen microseconds of asyncpg work; SQLAlchemy's execution around each one
cost several times that in CPU: the compiled cache's lookup (which hashes the
statement's whole cache key every time), parameter and execution-context setup,
the result object. So those statements are compiled once per dialect
(`DriverStatement`: the SQL text, its parameters in order with SQLAlchemy's own
bind processing for each column type, the result columns with their result
processing) and handed to the driver:

- `fetch_all`: on the DBAPI cursor of SQLAlchemy's asyncpg adapter, inside
  the caller's `Connection` (its transaction, begun by the adapter as for any
  statement, and its prepared-statement cache as usual); a dropped connection is
  left to SQLAlchemy's own handling;
- `KeptConnection`: the `sent` mark, between two SMTP exchanges, one at a time
  per process, also without the pool's checkout and checkin and the greenlet that
  runs SQLAlchemy's synchronous code: on one connection kept for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import namedtuple
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

_Processor = Callable[[Any], Any] | None


_ASKED = object()  # a parameter's value comes from the caller


@dataclass(frozen=True)
class DriverStatement:
    """A Core statement as its dialect's driver takes it: the SQL text; for each of its
    positional parameters the name asked for (or a constant of the statement) and the
    bind processing of its type; the result's column names and result processing."""

    sql: str
    parameters: tuple[tuple[str, Any, _Processor], ...]  # (name, constant or _ASKED, process)
    row: Callable[..., Any] | None  # a named tuple of the result's columns (None: no result)
    results: tuple[_Processor, ...]

    @classmethod
    def compile(
        cls,
        statement: ClauseElement,
        dialect: Dialect,
        *,
        column_keys: Iterable[str] | None = None,
    ) -> DriverStatement:
        """Compile `statement` once for `dialect` (a positional one, such as asyncpg's).

        Its parameters are named `bindparam`s without a value (for an INSERT, the
        columns `column_keys` names) or constants (`literal`); each is processed as
        its type says (a `UtcDateTime` becomes naive UTC, a JSON value text), as
        `Connection.execute` would do it.
        """
        compiled = statement.compile(
            dialect=dialect, column_keys=None if column_keys is None else list(column_keys)
        )
        assert isinstance(compiled, SQLCompiler)
        if compiled.positiontup is None:
            raise ValueError(f"{dialect.name} does not take positional parameters")
        # Columns left out of an INSERT whose Python-side default SQLAlchemy would
        # fill in at each execution: here only a constant one can be.
        defaults = {
            column.key: column.default
            for column in [*compiled.insert_prefetch, *compiled.update_prefetch]
        }
        parameters = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            if bind.expanding or bind.callable is not None:
                raise ValueError(f"parameter {name!r} must be a plain bindparam or a constant")
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if name in defaults:
                default = defaults[name]
                if default is None or not default.is_scalar:
                    raise ValueError(f"column {name!r} has a default that is not a constant")
                value = default.arg  # type: ignore[attr-defined]
            elif bind.required:
                parameters.append((name, _ASKED, process))
                continue
            else:  # a constant of the statement
                value = bind.value
            parameters.append((name, value if process is None else process(value), None))
        columns = getattr(statement, "exported_columns", None)
        if not columns:
            return cls(str(compiled), tuple(parameters), None, ())
        row = namedtuple("Row", list(columns.keys()))  # type: ignore[misc]
        results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )
        return cls(str(compiled), tuple(parameters), row, results)

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The driver's positional arguments for these named values."""
        arguments = []
        for name, constant, process in self.parameters:
            value = values[name] if constant is _ASKED else constant
            arguments.append(value if process is None else process(value))
        return arguments

    def rows(self, records: Iterable[Sequence[Any]]) -> list[Any]:
        """The driver's result rows as named tuples, each value processed by its type."""
        assert self.row is not None
        row, results = self.row, self.results
        return [
            row(
                *[
                    value if process is None else process(value)
                    for value, process in zip(record, results, strict=True)
                ]
            )
            for record in records
        ]


@lru_cache(maxsize=64)
def driver_statement(
    statement: Executable, dialect: Dialect, column_keys: tuple[str, ...] | None = None
) -> DriverStatement:
    """`DriverStatement.compile`, once per statement, dialect and INSERT columns."""
    assert isinstance(statement, ClauseElement)
    return DriverStatement.compile(statement, dialect, column_keys=column_keys)


def fetch_all(
    connection: Connection,
    statement: Executable,
    values: Mapping[str, Any],
    *,
    column_keys: tuple[str, ...] | None = None,
) -> list[Any]:
    """`connection.execute(statement, values).all()`; with asyncpg on the adapter's
    DBAPI cursor, without SQLAlchemy's execution around it (other drivers: as is).

    The statement runs in `connection`'s transaction (the adapter begins one, as for
    any statement, unless the connection is in autocommit). An error is raised as a
    SQLAlchemy `DBAPIError`; if the connection turns out to be gone, the statement
    is executed once more through SQLAlchemy, which fails on it the same way and
    does what it does for any statement then (invalidates the pool's connections,
    raises a `DBAPIError` that says so).
    """
    if connection.dialect.driver != "asyncpg":
        return list(connection.execute(statement, values).all())
    compiled = driver_statement(statement, connection.dialect, column_keys)
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None
    cursor = dbapi_connection.cursor()
    arguments = compiled.arguments(values)
    try:
        cursor.execute(compiled.sql, arguments)
        records = cursor.fetchall() if compiled.row is not None else []
    except connection.dialect.loaded_dbapi.Error as error:
        if connection.dialect.is_disconnect(error, dbapi_connection, cursor):
            return list(connection.execute(statement, values))
        raise DBAPIError.instance(
            compiled.sql,
            arguments,
            error,
            connection.dialect.loaded_dbapi.Error,
            dialect=connection.dialect,
        ) from error
    finally:
        cursor.close()
    return compiled.rows(records) if compiled.row is not None else []


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
