"""How a page of customer ids is put into SQL, and times read back as numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Float, extract, type_coerce


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


def epoch_seconds(expression: ColumnElement[Any]) -> ColumnElement[float]:
    """A stored UTC time as seconds since 1970, computed by the database.

    Day counts need only a number, and parsing millions of timestamps into
    datetime objects in Python costs more than the aggregation itself. SQLite
    gives whole seconds, PostgreSQL fractions; facts count whole days or hours.
    """
    return type_coerce(extract("epoch", expression), Float)
