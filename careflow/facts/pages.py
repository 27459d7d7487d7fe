"""How a page of customer ids is put into SQL, and times read back as numbers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


def ids_filter(column: ColumnElement[int], customer_ids: Sequence[int]) -> ColumnElement[bool]:
    """`column` restricted to `customer_ids`, or to a range that covers them.

    The daily scan pages through customers in id order, so a page is nearly always
    a dense range: `BETWEEN` then costs two parameters and an index range scan
    instead of thousands of parameters that SQLAlchemy renders on every call.
    Rows for ids in the range but not in the page may come back; callers look
    results up by the ids they asked for.
    """
    low, high = min(customer_ids), max(customer_ids)
    if high - low < 2 * len(customer_ids):
        return column.between(low, high)
    return column.in_(customer_ids)


def page_bounds(customer_ids: Sequence[int]) -> dict[str, int] | None:
    """The parameters of `in_range` for a page `ids_filter` would take as a range;
    None for a sparse page (or an empty one), which needs its ids listed."""
    if not customer_ids:
        return None
    low, high = min(customer_ids), max(customer_ids)
    if high - low < 2 * len(customer_ids):
        return {"low_id": low, "high_id": high}
    return None


def in_range(column: ColumnElement[int]) -> ColumnElement[bool]:
    """`ids_filter`'s range with its bounds as parameters (`page_bounds`), for a
    statement built once and run for every page: building a statement and working
    out its cache key cost more than running it for one customer."""
    return column.between(bindparam("low_id"), bindparam("high_id"))


class epoch_microseconds(FunctionElement[int]):  # lower case: it reads as SQL
    """A stored UTC time as whole microseconds since 1970, computed by the database.

    Day counts need only a number, and parsing millions of timestamps into
    datetime objects in Python costs more than the aggregation itself. Integers,
    so that "exactly 90 days ago" is exactly that, with no float rounding.
    """

    type = BigInteger()
    inherit_cache = True
    name = "epoch_microseconds"


@compiles(epoch_microseconds, "postgresql")
def _epoch_postgresql(element: epoch_microseconds, compiler: SQLCompiler, **kw: Any) -> str:
    # careflow stores UTC as `timestamp without time zone`, whose epoch is UTC's;
    # EXTRACT returns an exact numeric.
    time = compiler.process(element.clauses, **kw)
    return f"CAST(EXTRACT(EPOCH FROM {time}) * 1000000 AS BIGINT)"


@compiles(epoch_microseconds, "sqlite")
def _epoch_sqlite(element: epoch_microseconds, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite's date functions stop at milliseconds, so the whole seconds come from
    # strftime and the microseconds from the text SQLAlchemy stores
    # ("YYYY-MM-DD HH:MM:SS.ffffff"; padded in case the fraction is short or absent).
    time = compiler.process(element.clauses, **kw)
    return (
        f"(CAST(strftime('%s', {time}) AS INTEGER) * 1000000"
        f" + CAST(substr({time} || '000000', 21, 6) AS INTEGER))"
    )


def epoch_microseconds_of(moment: datetime) -> int:
    """The same number for a Python time, computed exactly."""
    return (moment - _EPOCH) // _MICROSECOND


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
