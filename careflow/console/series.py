"""The overview's figures over time, one bucket (day or week) after another.

Satisfaction, service-level breaches and retention conversion per bucket come from
the very functions `careflow kpis` uses, run for each bucket, so a day on a chart
shows what `careflow kpis --since DAY --until NEXT-DAY` reports for it. Messages
per day by journey is the one figure the KPIs do not have: sent ledger rows, by
the journey that sent them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from careflow.kpis import KpiSettings, RetentionConversion, Satisfaction
from careflow.kpis.care import satisfaction, sla_breaches
from careflow.kpis.retention import retention_conversion
from careflow.store import JourneyRecord, OutreachLedger

# Messages whose workflow is not a journey careflow recorded (none today) are shown as this.
OTHER_JOURNEY = "other"
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Period:
    """Whole days in `zone` (the team's, or UTC): `days` days ending with `last_day`
    (included). A day runs from one local midnight to the next, 23 or 25 hours long
    where the clocks change."""

    last_day: date
    days: int
    zone: tzinfo = UTC

    @property
    def first_day(self) -> date:
        return self.last_day - timedelta(days=self.days - 1)

    @property
    def start(self) -> datetime:
        return midnight(self.first_day, self.zone)

    @property
    def end(self) -> datetime:
        """The end, exclusive: midnight after `last_day`."""
        return midnight(self.last_day + timedelta(days=1), self.zone)

    def bounds(self) -> list[tuple[datetime, datetime]]:
        """Each day's `[start, end)`, in UTC."""
        return [
            (midnight(day, self.zone), midnight(day + timedelta(days=1), self.zone))
            for day in self.day_list()
        ]

    def day_list(self) -> list[date]:
        return [self.first_day + timedelta(days=offset) for offset in range(self.days)]

    def weeks(self) -> list[tuple[datetime, datetime]]:
        """Seven-day buckets from the first day; the last one may be shorter."""
        buckets = []
        first = self.first_day
        while first <= self.last_day:
            after = min(first + WEEK, self.last_day + timedelta(days=1))
            buckets.append((midnight(first, self.zone), midnight(after, self.zone)))
            first += WEEK
        return buckets


@dataclass(frozen=True)
class WeekConversion:
    week_start: date
    conversion: RetentionConversion


@dataclass(frozen=True)
class Trends:
    days: list[date]
    # journey -> sent messages per day, in `days` order
    messages_by_journey: dict[str, list[int]]
    satisfaction: list[Satisfaction]
    # level -> escalations per day
    sla_breaches: dict[str, list[int]]
    retention: list[WeekConversion]


def midnight(day: date, zone: tzinfo = UTC) -> datetime:
    """The instant `day` begins in `zone`, in UTC."""
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


async def compute_trends(
    session: AsyncSession, period: Period, settings: KpiSettings, now: datetime
) -> Trends:
    """Every series of the overview for `period`; retention is measured as of `now`."""
    days = period.day_list()
    bounds = period.bounds()
    daily_satisfaction = [
        await satisfaction(session, start, end, settings.good_score) for start, end in bounds
    ]
    breaches: dict[str, list[int]] = {}
    for index, (start, end) in enumerate(bounds):
        for level, count in (await sla_breaches(session, start, end)).items():
            breaches.setdefault(level, [0] * len(days))[index] = count
    measured_at = min(period.end, now)
    retention = [
        WeekConversion(
            start.astimezone(period.zone).date(),
            await retention_conversion(
                session, start, end, settings.retention_window_days, measured_at=measured_at
            ),
        )
        for start, end in period.weeks()
    ]
    return Trends(
        days=days,
        messages_by_journey=await sent_messages_by_journey(session, period),
        satisfaction=daily_satisfaction,
        sla_breaches=breaches,
        retention=retention,
    )


async def sent_messages_by_journey(session: AsyncSession, period: Period) -> dict[str, list[int]]:
    """Messages sent on each day of the period (in its zone), by the journey that sent them.

    Each row's time is put on its local day here: SQL's `date()` would give the UTC
    day, and a zone's day boundaries are not one fixed offset (summer time).
    """
    journey = func.coalesce(JourneyRecord.journey, OTHER_JOURNEY)
    rows = await session.execute(
        select(OutreachLedger.sent_at, journey)
        .select_from(OutreachLedger)
        .outerjoin(JourneyRecord, JourneyRecord.workflow_id == OutreachLedger.workflow_id)
        .where(
            OutreachLedger.status == "sent",
            OutreachLedger.sent_at >= period.start,
            OutreachLedger.sent_at < period.end,
        )
    )
    index = {day: position for position, day in enumerate(period.day_list())}
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * period.days)
    for sent_at, name in rows.all():
        assert sent_at is not None  # the period's bounds leave out the unsent
        moment = sent_at if sent_at.tzinfo else sent_at.replace(tzinfo=UTC)
        counts[str(name)][index[moment.astimezone(period.zone).date()]] += 1
    return dict(sorted(counts.items()))
