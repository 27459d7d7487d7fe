"""Birthdays (solar, lunar, Feb 29, the customer's own midnight) and holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from careflow.facts import compute_facts
from careflow.facts.occasions import HolidayCalendar, country_of, days_until_birthday
from careflow.store import Database
from tests.facts.store_rows import CONFIG, add_customer

JOINED = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("month", "day", "today", "expected"),
    [
        (11, 23, date(2026, 11, 23), 0),  # today
        (11, 24, date(2026, 11, 23), 1),
        (11, 22, date(2026, 11, 23), 364),  # just passed: next year (2027 is not leap)
        (1, 1, date(2026, 12, 31), 1),  # across the new year
        (2, 29, date(2026, 2, 1), 27),  # common year: celebrated on Feb 28
        (2, 29, date(2027, 3, 1), 365),  # next one is a real Feb 29, in 2028
        (2, 29, date(2028, 2, 28), 1),
    ],
)
def test_solar_birthday(month: int, day: int, today: date, expected: int) -> None:
    assert days_until_birthday(month, day, "solar", today) == expected


@pytest.mark.parametrize(
    ("month", "day", "today", "expected"),
    [
        # Lunar 8/15 (the Mid-Autumn day): 2026-09-25, then 2027-09-15.
        (8, 15, date(2026, 9, 20), 5),
        (8, 15, date(2026, 9, 25), 0),
        (8, 15, date(2026, 9, 26), 354),
        # Lunar 1/1 falls on 2027-02-06; in January 2027 the lunar year is still 2026.
        (1, 1, date(2027, 1, 10), 27),
        # Lunar 12/30 of lunar year 2026 does not exist (a 29-day month): its 29th,
        # 2027-02-05, the eve of the new year.
        (12, 30, date(2027, 1, 10), 26),
    ],
)
def test_lunar_birthday_moves_with_the_lunar_calendar(
    month: int, day: int, today: date, expected: int
) -> None:
    assert days_until_birthday(month, day, "lunar", today) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 2, 17), "spring_festival"),
        (date(2027, 2, 6), "spring_festival"),
        (date(2026, 9, 25), "mid_autumn"),
        (date(2027, 9, 15), "mid_autumn"),
        (date(2026, 10, 5), "national_day"),  # an "(observed)" day of the Golden Week
        (date(2026, 3, 3), "lantern_festival"),  # lunar 1/15, not a day off
        (date(2027, 2, 20), "lantern_festival"),
        (date(2026, 1, 1), "new_year"),
        (date(2026, 11, 23), None),
        (date(2026, 10, 6), None),  # a swapped working day is no named holiday
    ],
)
def test_chinese_holidays(day: date, expected: str | None) -> None:
    assert HolidayCalendar(CONFIG.occasions).holiday_on("CN", day) == expected


def test_holidays_follow_the_country() -> None:
    calendar = HolidayCalendar(CONFIG.occasions)
    assert calendar.holiday_on("US", date(2026, 12, 25)) == "christmas"
    assert calendar.holiday_on("US", date(2026, 9, 25)) is None
    assert calendar.holiday_on("CN", date(2026, 12, 25)) is None
    assert calendar.holiday_on("ZZ", date(2026, 1, 1)) is None  # unknown country: none


@pytest.mark.parametrize(
    ("locale", "zone", "expected"),
    [
        ("zh-CN", None, "CN"),
        ("zh-Hans-CN", None, "CN"),
        ("en_US", None, "US"),
        ("zh", "Asia/Shanghai", "CN"),
        ("en", "Europe/London", "GB"),
        ("en", None, None),
        (None, "UTC", None),
    ],
)
def test_country_from_locale_then_time_zone(
    locale: str | None, zone: str | None, expected: str | None
) -> None:
    assert country_of(locale, zone) == expected


async def test_occasions_use_the_customers_own_midnight(db: Database) -> None:
    # 16:30 UTC on Sep 24 2026 is already 00:30 on Sep 25, Mid-Autumn, in Shanghai.
    at = datetime(2026, 9, 24, 16, 30, tzinfo=UTC)
    async with db.session() as session:
        shanghai = await add_customer(
            session,
            created_at=JOINED,
            locale="zh-CN",
            timezone="Asia/Shanghai",
            birthday=date(1990, 9, 25),
        )
        london = await add_customer(
            session,
            created_at=JOINED,
            locale="zh-CN",
            timezone="Europe/London",
            birthday=date(1990, 9, 25),
        )
        lunar = await add_customer(
            session,
            created_at=JOINED,
            locale="zh-CN",
            timezone="Asia/Shanghai",
            birthday=date(2000, 8, 15),  # lunar 8/15: the year is a placeholder
            birthday_calendar="lunar",
        )
        nobody_knows = await add_customer(session, created_at=JOINED, locale="en")
        # An unknown zone on file falls back to the default zone (UTC), not to an error.
        lost = await add_customer(
            session, created_at=JOINED, timezone="Mars/Base", birthday=date(1990, 9, 25)
        )
        ids = [shanghai.id, london.id, lunar.id, nobody_knows.id, lost.id]
        facts = await compute_facts(session, ids, at, config=CONFIG)
    assert facts[shanghai.id]["days_until_birthday"] == 0
    assert facts[shanghai.id]["holiday_today"] == "mid_autumn"
    assert facts[london.id]["days_until_birthday"] == 1
    assert "holiday_today" not in facts[london.id]
    assert facts[lunar.id]["days_until_birthday"] == 0
    assert "days_until_birthday" not in facts[nobody_knows.id]
    assert "holiday_today" not in facts[nobody_knows.id]
    assert facts[lost.id]["days_until_birthday"] == 1
