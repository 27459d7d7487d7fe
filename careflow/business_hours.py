"""Business hours: when the care team works, so service-level targets count only those hours.

A complaint opened on Friday evening with a 4-hour response target is due on Monday
morning, not on Friday night. Public holidays come from the `holidays` package for
the configured country, and so do the weekend days that country makes working days
in exchange for a longer holiday (China's 调休: 2026-02-14 and 02-28 around the Spring
Festival, 09-20 and 10-10 around National Day); operators add their own closed days and
working days in `rules/journeys.yaml`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

# A target can never reach further than this; a calendar with no open day at all
# would otherwise loop for ever.
_MAX_DAYS_AHEAD = 800


@dataclass(frozen=True)
class _CountryYear:
    """One country's closed public holidays and make-up working days in one year."""

    closed: frozenset[date]
    working: frozenset[date]


@lru_cache(maxsize=64)
def _country_year(country: str, year: int) -> _CountryYear:
    try:
        # The neighbouring years are populated too: a make-up day can be declared by the
        # next year's holiday (late December worked for a New Year bridge).
        calendar = holidays.country_holidays(country, years=(year - 1, year, year + 1))
    except NotImplementedError:  # a country the package does not know
        return _CountryYear(frozenset(), frozenset())
    closed = frozenset(day for day in calendar if day.year == year)
    # `weekend_workdays` lists the weekend days the government moved to working days
    # (empty for countries that have none).
    working = frozenset(day for day in calendar.weekend_workdays if day.year == year)
    return _CountryYear(closed, working)


@dataclass(frozen=True)
class BusinessCalendar:
    """Opening hours in one time zone, with weekly open days and exceptions."""

    zone: ZoneInfo
    opens: time
    closes: time
    open_weekdays: frozenset[int]  # 0 = Monday
    holiday_country: str | None = None
    closed_days: frozenset[date] = field(default_factory=frozenset)
    working_days: frozenset[date] = field(default_factory=frozenset)

    def is_open_day(self, day: date) -> bool:
        """Whether the team works on this local date at all.

        An operator's own working and closed days decide first; then the country's
        make-up working days are open even on a weekend, and its public holidays closed.
        """
        if day in self.working_days:
            return True
        if day in self.closed_days:
            return False
        country = _country_year(self.holiday_country, day.year) if self.holiday_country else None
        if country is not None and day in country.working:
            return True
        if day.weekday() not in self.open_weekdays:
            return False
        return country is None or day not in country.closed

    def add_business_hours(self, start: datetime, hours: float) -> datetime:
        """The instant `hours` working hours after `start` (an aware datetime), in UTC."""
        remaining = timedelta(hours=hours)
        local = start.astimezone(self.zone)
        for day in _days_from(local.date()):
            if not self.is_open_day(day):
                continue
            window_start = max(local, datetime.combine(day, self.opens, self.zone))
            window_end = datetime.combine(day, self.closes, self.zone)
            if window_start >= window_end:
                continue
            if window_start + remaining <= window_end:
                return (window_start + remaining).astimezone(ZoneInfo("UTC"))
            remaining -= window_end - window_start
        raise ValueError(f"the business calendar has no {hours} working hours after {start}")

    def business_hours_between(self, start: datetime, end: datetime) -> float:
        """Working hours from `start` to `end` (0 when `end` is not later)."""
        total = timedelta()
        local_start, local_end = start.astimezone(self.zone), end.astimezone(self.zone)
        for day in _days_between(local_start.date(), local_end.date()):
            if not self.is_open_day(day):
                continue
            window_start = max(local_start, datetime.combine(day, self.opens, self.zone))
            window_end = min(local_end, datetime.combine(day, self.closes, self.zone))
            if window_end > window_start:
                total += window_end - window_start
        return total.total_seconds() / 3600


def _days_from(first: date) -> Iterable[date]:
    for offset in range(_MAX_DAYS_AHEAD):
        yield first + timedelta(days=offset)


def _days_between(first: date, last: date) -> Iterable[date]:
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)
