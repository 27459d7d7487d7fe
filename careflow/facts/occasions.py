"""Calendar facts: the customer's local date, next birthday and today's holiday.

Everything here is a pure function of small inputs (a zone name, a birthday, a
date), so results are memoised: a page of thousands of customers shares a few
hundred distinct birthdays, zones and countries.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from babel.core import get_global
from lunardate import LunarDate

LUNAR_CALENDAR = "lunar"
# The 15th day of the first lunar month; not a day off, so `holidays` omits it.
_LANTERN_FESTIVAL = (1, 15)
_OBSERVED_SUFFIX = " (observed)"


@lru_cache(maxsize=1024)
def zone_or_none(name: str) -> ZoneInfo | None:
    """The IANA zone of that name, or None when the name is unknown or malformed."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_date(at: datetime, zone: ZoneInfo) -> date:
    """The calendar date at instant `at` in `zone`."""
    return at.astimezone(zone).date()


@lru_cache(maxsize=4096)
def country_of(locale: str | None, zone_name: str | None) -> str | None:
    """ISO country code from the locale's region (zh-CN), else from the time zone."""
    if locale:
        parts = locale.replace("_", "-").split("-")
        # The region is the 2-letter (or 3-digit) subtag after the language and an
        # optional 4-letter script: zh-CN, zh-Hans-CN, en-US.
        for part in parts[1:]:
            if len(part) == 2 and part.isalpha():
                return part.upper()
    if zone_name:
        territory = get_global("zone_territories").get(zone_name)
        if isinstance(territory, str) and len(territory) == 2:
            return territory
    return None


@lru_cache(maxsize=16384)
def days_until_birthday(month: int, day: int, birthday_calendar: str, today: date) -> int:
    """Days from `today` to the next birthday on `month`/`day` (0 when it is today).

    A solar Feb 29 birthday falls on Feb 28 in common years. A lunar birthday is a
    lunar month and day whose solar date moves every year; a 30th day in a 29-day
    lunar month is kept on the 29th.
    """
    if birthday_calendar == LUNAR_CALENDAR:
        return (_next_lunar_birthday(month, day, today) - today).days
    this_year = _solar_birthday(month, day, today.year)
    if this_year < today:
        this_year = _solar_birthday(month, day, today.year + 1)
    return (this_year - today).days


def _solar_birthday(month: int, day: int, year: int) -> date:
    if month == 2 and day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, month, day)


def _next_lunar_birthday(month: int, day: int, today: date) -> date:
    lunar_year = LunarDate.from_solar_date(today.year, today.month, today.day).year
    # The lunar year starts in late Jan/Feb, so this year's birthday may fall in the
    # previous or the next lunar year's numbering: take the first one on or after today.
    for year in (lunar_year - 1, lunar_year, lunar_year + 1):
        solar = _lunar_to_solar(year, month, day)
        if solar >= today:
            return solar
    raise ValueError(f"no lunar date {month}/{day} after {today}")  # pragma: no cover


def _lunar_to_solar(year: int, month: int, day: int) -> date:
    try:
        solar: date = LunarDate(year, month, day).to_solar_date()
    except ValueError:
        # Only a 30th day can be missing, in a "small" (29-day) lunar month.
        solar = LunarDate(year, month, day - 1).to_solar_date()
    return solar


@lru_cache(maxsize=512)
def _holiday_names(country: str, year: int) -> dict[date, str]:
    """The public holidays of one country and year, by English name."""
    try:
        calendar_of_year = holidays.country_holidays(country, years=year, language="en_US")
    except NotImplementedError:  # a country the package does not know
        return {}
    return dict(calendar_of_year.items())


class OccasionNaming(Protocol):
    """What a holiday calendar reads from the occasion rules (facts/config.py's
    `OccasionRules`), named here so this module imports nothing from the config."""

    @property
    def holiday_names(self) -> Mapping[str, str]: ...

    @property
    def lantern_festival_countries(self) -> frozenset[str]: ...


class HolidayCalendar:
    """Maps (country, local date) to a `holiday_today` value, per `rules/tiers.yaml`."""

    def __init__(self, rules: OccasionNaming) -> None:
        self._names = rules.holiday_names
        self._lantern_countries = rules.lantern_festival_countries
        self._seen: dict[tuple[str, date], str | None] = {}

    def holiday_on(self, country: str, day: date) -> str | None:
        """The holiday value for that day in that country, or None on an ordinary day."""
        key = (country, day)
        if key not in self._seen:
            self._seen[key] = self._look_up(country, day)
        return self._seen[key]

    def _look_up(self, country: str, day: date) -> str | None:
        name = _holiday_names(country, day.year).get(day)
        if name is not None:
            # One date can carry two holidays ("A; B"): the first one mapped wins.
            for part in name.split("; "):
                value = self._names.get(part.removesuffix(_OBSERVED_SUFFIX))
                if value is not None:
                    return value
        if country in self._lantern_countries and _is_lunar_day(day, *_LANTERN_FESTIVAL):
            return "lantern_festival"
        return None


def _is_lunar_day(day: date, month: int, lunar_day: int) -> bool:
    lunar = LunarDate.from_solar_date(day.year, day.month, day.day)
    return bool(lunar.month == month and lunar.day == lunar_day and not lunar.is_leap_month)
