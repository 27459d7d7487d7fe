"""Service KPIs: satisfaction, complaint resolution, and service-level breaches by level.

Each is one grouped query over the store for a period `[since, until)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, literal, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from careflow.facts.pages import epoch_microseconds
from careflow.journey_config import ESCALATION_LEVELS
from careflow.store import Complaint, SurveyResponse, Task

# The complaint journey opens one task per escalation, kind `escalation`, keyed
# `<workflow id>/task-<level>` (workflows/complaint_escalation.py): the first level
# (agent) owns every case, so only the levels above it are breaches.
ESCALATION_TASK_KIND = "escalation"
BREACH_LEVELS = ESCALATION_LEVELS[1:]
_MICROSECONDS_PER_HOUR = 3_600_000_000.0


@dataclass(frozen=True)
class Satisfaction:
    """Survey answers in the period and the share of them scored `good_score` or more."""

    responses: int
    good: int
    good_score: int
    rate: float | None


@dataclass(frozen=True)
class ComplaintResolution:
    """Complaints opened in the period, how many are resolved, and how long it took."""

    opened: int
    resolved: int
    rate: float | None
    mean_hours: float | None
    median_hours: float | None


def share(part: int, whole: int) -> float | None:
    """`part / whole`, rounded for reports; None when there is nothing to divide."""
    return round(part / whole, 4) if whole else None


async def satisfaction(
    session: AsyncSession, since: datetime, until: datetime, good_score: int
) -> Satisfaction:
    answered = SurveyResponse.answered_at
    row = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((SurveyResponse.score >= good_score, 1), else_=0)), 0),
            ).where(answered >= since, answered < until)
        )
    ).one()
    responses, good = int(row[0]), int(row[1])
    return Satisfaction(responses, good, good_score, share(good, responses))


async def complaint_resolution(
    session: AsyncSession, since: datetime, until: datetime
) -> ComplaintResolution:
    """Resolved means resolved by `until` and not reopened since (a reopen clears it)."""
    opened = Complaint.opened_at
    in_period = (opened >= since, opened < until)
    resolved = (
        Complaint.status == "resolved",
        Complaint.resolved_at.is_not(None),
        Complaint.resolved_at < until,
    )
    opened_count = await session.scalar(select(func.count()).where(*in_period)) or 0
    elapsed = epoch_microseconds(Complaint.resolved_at) - epoch_microseconds(Complaint.opened_at)
    hours = elapsed / _MICROSECONDS_PER_HOUR
    durations = (
        select(
            hours.label("hours"),
            func.row_number().over(order_by=hours).label("position"),
            func.count().over().label("total"),
        )
        .where(*in_period, *resolved)
        .subquery()
    )
    # The median in SQL on both databases: the middle row, or the mean of the two
    # middle rows (integer division picks them: n=4 -> rows 2 and 3, n=5 -> row 3).
    middle = durations.c.position.in_([(durations.c.total + 1) // 2, (durations.c.total + 2) // 2])
    count, mean = (
        await session.execute(
            select(func.count(), func.avg(durations.c.hours)).select_from(durations)
        )
    ).one()
    median = await session.scalar(
        select(func.avg(durations.c.hours)).select_from(durations).where(middle)
    )
    return ComplaintResolution(
        opened=int(opened_count),
        resolved=int(count),
        rate=share(int(count), int(opened_count)),
        mean_hours=_hours(mean),
        median_hours=_hours(median),
    )


async def sla_breaches(session: AsyncSession, since: datetime, until: datetime) -> dict[str, int]:
    """Escalations opened in the period, by the level they went to."""
    level = case(
        *(
            (Task.idempotency_key.endswith(f"/task-{name}", autoescape=True), literal(name))
            for name in BREACH_LEVELS
        ),
        else_=literal("other"),
    )
    rows = await session.execute(
        select(level, func.count())
        .where(
            Task.kind == ESCALATION_TASK_KIND,
            Task.created_at >= since,
            Task.created_at < until,
        )
        .group_by(level)
    )
    counts = dict.fromkeys(BREACH_LEVELS, 0)
    counts.update({str(name): int(number) for name, number in rows.all()})
    return counts


def _hours(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


# The complaint journey's first task, for the agents, is due at the response target:
# `<workflow id>/task-agent`, kind `complaint` (workflows/complaint_escalation.py).
RESPONSE_TASK_KIND = "complaint"
RESPONSE_TASK_STEP = "/task-agent"


@dataclass(frozen=True)
class FirstResponse:
    """Complaints opened in the period that have a response target, and how they met it.

    The response is staff's first response or the resolution, whichever came first
    (resolving meets every target). `late` were answered after the target, `missed`
    not at all though the target passed before `until`; a complaint is one or the
    other at most once, so each is one response breach.
    """

    with_target: int
    responded: int
    within_target: int
    late: int
    missed: int
    mean_hours: float | None


async def first_response(session: AsyncSession, since: datetime, until: datetime) -> FirstResponse:
    """Response targets of the complaints opened in `[since, until)`, as of `until`."""
    due = Task.due_at
    responded = case(
        (
            and_(Complaint.responded_at.is_not(None), Complaint.resolved_at.is_not(None)),
            case(
                (Complaint.responded_at <= Complaint.resolved_at, Complaint.responded_at),
                else_=Complaint.resolved_at,
            ),
        ),
        else_=func.coalesce(Complaint.responded_at, Complaint.resolved_at),
    )
    answered = and_(responded.is_not(None), responded < until)
    elapsed = epoch_microseconds(responded) - epoch_microseconds(Complaint.opened_at)
    row = (
        await session.execute(
            select(
                func.count(),
                func.count(case((answered, 1))),
                func.count(case((and_(answered, responded <= due), 1))),
                func.count(case((and_(answered, responded > due), 1))),
                func.count(case((and_(not_(answered), due < until), 1))),
                func.avg(case((answered, elapsed / _MICROSECONDS_PER_HOUR))),
            )
            .select_from(Complaint)
            .join(Task, Task.complaint_id == Complaint.id)
            .where(
                Complaint.opened_at >= since,
                Complaint.opened_at < until,
                Task.kind == RESPONSE_TASK_KIND,
                Task.idempotency_key.endswith(RESPONSE_TASK_STEP, autoescape=True),
                due.is_not(None),
            )
        )
    ).one()
    return FirstResponse(
        with_target=int(row[0]),
        responded=int(row[1]),
        within_target=int(row[2]),
        late=int(row[3]),
        missed=int(row[4]),
        mean_hours=_hours(row[5]),
    )
