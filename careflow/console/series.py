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
from datetime import UTC, date, datetime, time, timedelta

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
    """Whole UTC days: `days` days ending with `last_day` (included)."""

    last_day: date
    days: int

    @property
    def first_day(self) -> date:
        return self.last_day - timedelta(days=self.days - 1)

    @property
    def start(self) -> datetime:
        return midnight(self.first_day)

    @property
    def end(self) -> datetime:
        """The end, exclusive: midnight after `last_day`."""
        return midnight(self.last_day + timedelta(days=1))

    def day_list(self) -> list[date]:
        return [self.first_day + timedelta(days=offset) for offset in range(self.days)]

    def weeks(self) -> list[tuple[datetime, datetime]]:
        """Seven-day buckets from the first day; the last one may be shorter."""
        buckets = []
        start = self.start
        while start < self.end:
            buckets.append((start, min(start + WEEK, self.end)))
            start += WEEK
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


def midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


async def compute_trends(
    session: AsyncSession, period: Period, settings: KpiSettings, now: datetime
) -> Trends:
    """Every series of the overview for `period`; retention is measured as of `now`."""
    days = period.day_list()
    bounds = [(midnight(day), midnight(day + timedelta(days=1))) for day in days]
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
            start.date(),
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
    """Messages sent on each day of the period (UTC), by the journey that sent them."""
    day = func.date(OutreachLedger.sent_at)
    journey = func.coalesce(JourneyRecord.journey, OTHER_JOURNEY)
    rows = await session.execute(
        select(day, journey, func.count())
        .select_from(OutreachLedger)
        .outerjoin(JourneyRecord, JourneyRecord.workflow_id == OutreachLedger.workflow_id)
        .where(
            OutreachLedger.status == "sent",
            OutreachLedger.sent_at >= period.start,
            OutreachLedger.sent_at < period.end,
        )
        .group_by(day, journey)
    )
    index = {day: position for position, day in enumerate(period.day_list())}
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * period.days)
    for sent_on, name, count in rows.all():
        # SQLite's date() gives text, PostgreSQL's a date.
        sent_day = sent_on if isinstance(sent_on, date) else date.fromisoformat(str(sent_on))
        counts[str(name)][index[sent_day]] += int(count)
    return dict(sorted(counts.items()))
