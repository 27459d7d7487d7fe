"""Service history per customer: open complaints and the last satisfaction score.

Both are set-based queries over a page of customers, evaluated as of `at`: a
complaint opened later does not count yet, one resolved later was still open then.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter

from careflow.facts.pages import epoch_microseconds, ids_filter, in_range, page_bounds
from careflow.rules.facts import SEVERITIES
from careflow.store.models import Complaint, SurveyResponse

# Statuses that end a complaint even when no resolution time was recorded.
CLOSED_STATUSES = ("resolved", "closed")


class OpenComplaints(NamedTuple):
    """The complaints a customer had open at `at`."""

    open_count: int
    oldest_opened_us: int
    max_severity: str | None


async def open_complaints(
    session: AsyncSession, customer_ids: Sequence[int], at: datetime
) -> dict[int, OpenComplaints]:
    """Open complaints, by customer id, of the customers in the page that have any."""
    page = page_bounds(customer_ids)
    if page is None:
        statement = _open_complaints(
            ids_filter(Complaint.__table__.c.customer_id, customer_ids), at
        )
        result = await session.execute(statement)
    else:
        result = await session.execute(_OPEN_COMPLAINTS_OF_RANGE, {**page, "at": at})
    wanted = set(customer_ids)
    return {
        customer_id: OpenComplaints(
            open_count=count,
            oldest_opened_us=oldest,
            max_severity=SEVERITIES[rank - 1] if rank else None,
        )
        for customer_id, count, oldest, rank in result.all()
        if customer_id in wanted
    }


def _open_complaints(
    in_page: ColumnElement[bool], at: datetime | BindParameter[datetime]
) -> Select[Any]:
    complaints = Complaint.__table__.c
    # Severities compare by rank (critical > high > ...), so MAX works on the rank.
    severity_rank = case(
        {severity: rank for rank, severity in enumerate(SEVERITIES, start=1)},
        value=complaints.severity,
        else_=0,
    )
    still_open = or_(
        complaints.resolved_at > at,
        and_(complaints.resolved_at.is_(None), complaints.status.not_in(CLOSED_STATUSES)),
    )
    return (
        select(
            complaints.customer_id,
            func.count(),
            epoch_microseconds(func.min(complaints.opened_at)),
            func.max(severity_rank),
        )
        .where(in_page, complaints.opened_at <= at, still_open)
        .group_by(complaints.customer_id)
    )


# Built once: a page that is a range of ids (the scan's pages, the one customer whose
# message a suppression may hold) runs this with its bounds and `at` as parameters.
_OPEN_COMPLAINTS_OF_RANGE = _open_complaints(
    in_range(Complaint.__table__.c.customer_id),
    bindparam("at", type_=Complaint.__table__.c.opened_at.type),
)


async def last_csat_scores(
    session: AsyncSession, customer_ids: Sequence[int], at: datetime
) -> dict[int, int]:
    """The most recent survey score up to `at`, by customer id, of those who answered one."""
    surveys = SurveyResponse.__table__.c
    newest_first = (
        func.row_number()
        .over(
            partition_by=surveys.customer_id,
            order_by=(surveys.answered_at.desc(), surveys.id.desc()),
        )
        .label("newest_first")
    )
    ranked = (
        select(surveys.customer_id, surveys.score, newest_first)
        .where(ids_filter(surveys.customer_id, customer_ids), surveys.answered_at <= at)
        .subquery()
    )
    statement = select(ranked.c.customer_id, ranked.c.score).where(ranked.c.newest_first == 1)
    result = await session.execute(statement)
    return {customer_id: score for customer_id, score in result.all()}
