"""Purchase history per customer, aggregated in SQL where the orders live.

One grouped query per page of customers returns a handful of numbers per customer;
no order row ever reaches Python. Window bounds are computed once per page, and
every window is half-open on the left: "the last 90 days" is (at - 90d, at].
Orders after `at` are ignored, so facts as of a past time are what they were then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Float, Select, and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from careflow.facts.pages import epoch_microseconds, ids_filter, in_range, page_bounds
from careflow.store.models import Order

RECENT_WINDOW = timedelta(days=90)
YEAR_WINDOW = timedelta(days=365)


class PurchaseSummary(NamedTuple):
    """What one customer's orders up to `at` add up to (money in cents, times in
    microseconds since the epoch)."""

    order_count: int
    total_spent: float
    first_order_us: int
    last_order_us: int
    orders_last_90d: int
    orders_prev_90d: int
    spend_last_90d: float
    spend_prev_90d: float
    spend_last_365d: float


async def purchase_summaries(
    session: AsyncSession, customer_ids: Sequence[int], at: datetime
) -> dict[int, PurchaseSummary]:
    """Summaries, by customer id, of the customers in the page who ordered up to `at`."""
    windows = {
        "at": at,
        "recent_start": at - RECENT_WINDOW,
        "previous_start": at - 2 * RECENT_WINDOW,
        "year_start": at - YEAR_WINDOW,
    }
    sqlite = session.get_bind().dialect.name == "sqlite"
    page = page_bounds(customer_ids)
    if page is None:
        orders = Order.__table__.c
        statement = _summaries(ids_filter(orders.customer_id, customer_ids), windows, sqlite=sqlite)
        result = await session.execute(statement)
    else:
        prebuilt = _SUMMARIES_OF_RANGE_SQLITE if sqlite else _SUMMARIES_OF_RANGE
        result = await session.execute(prebuilt, {**page, **windows})
    # The columns come back typed and in the order of PurchaseSummary's fields.
    return {row[0]: PurchaseSummary(*row[1:]) for row in result.all()}


def _summaries(
    in_page: ColumnElement[bool], windows: Mapping[str, Any], *, sqlite: bool
) -> Select[Any]:
    """The grouped query; `windows` holds `at` and the windows' starts, as values or
    as parameters."""
    orders = Order.__table__.c
    at, recent_start = windows["at"], windows["recent_start"]
    in_recent = orders.ordered_at > recent_start
    in_previous = and_(
        orders.ordered_at > windows["previous_start"], orders.ordered_at <= recent_start
    )

    # FILTER rather than SUM(CASE ...): an order outside a window (most of them)
    # costs a comparison, not a step of every windowed aggregate.
    def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.count().filter(condition)

    def spend_if(condition: ColumnElement[bool]) -> ColumnElement[float]:
        return cents(func.coalesce(func.sum(orders.amount).filter(condition), 0))

    in_page = and_(in_page, orders.ordered_at <= at)
    if sqlite:
        # The page's orders are scattered over the table. Looked up in index order
        # (by customer) every order is a random read; collecting their ids from the
        # index first lets SQLite read the table in rowid (storage) order, each page
        # of it once. PostgreSQL's bitmap heap scan already reads in that order.
        in_page = orders.id.in_(select(orders.id).where(in_page))
    return (
        select(
            orders.customer_id,
            func.count(),
            cents(func.sum(orders.amount)),
            epoch_microseconds(func.min(orders.ordered_at)),
            epoch_microseconds(func.max(orders.ordered_at)),
            count_if(in_recent),
            count_if(in_previous),
            spend_if(in_recent),
            spend_if(in_previous),
            spend_if(orders.ordered_at > windows["year_start"]),
        )
        .where(in_page)
        .group_by(orders.customer_id)
    )


def cents(money: ColumnElement[Any]) -> ColumnElement[float]:
    """A sum of money rounded to cents by the database, read back as a float.

    Rounded once, here, so that tiers compare the same figure the facts show; a
    float because SQLite keeps Numeric as REAL anyway, and PostgreSQL's numeric
    then needs no Decimal handling downstream.
    """
    return func.round(money, 2, type_=Float)


# Built once per dialect's shape: a page that is a range of ids (the scan's pages, the
# single customer of an event's evaluation) runs these with its bounds, `at` and the
# windows' starts as parameters.
_WINDOW_PARAMETERS = {
    name: bindparam(name, type_=Order.__table__.c.ordered_at.type)
    for name in ("at", "recent_start", "previous_start", "year_start")
}
_SUMMARIES_OF_RANGE = _summaries(
    in_range(Order.__table__.c.customer_id), _WINDOW_PARAMETERS, sqlite=False
)
_SUMMARIES_OF_RANGE_SQLITE = _summaries(
    in_range(Order.__table__.c.customer_id), _WINDOW_PARAMETERS, sqlite=True
)
