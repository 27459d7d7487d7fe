"""Business-hours arithmetic behind the SLA targets, and the journey configuration file."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from careflow.business_hours import BusinessCalendar
from careflow.journey_config import JourneyConfigError, load_journey_config
from careflow.paths import RULES_DIR
from tests.workflows.conftest import write_journey_config

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE = BusinessCalendar(
    zone=SHANGHAI,
    opens=time(9),
    closes=time(18),
    open_weekdays=frozenset(range(5)),
    holiday_country="CN",
    closed_days=frozenset({date(2026, 12, 24)}),
    working_days=frozenset({date(2026, 9, 27)}),  # a make-up Sunday
)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def test_hours_within_one_working_day() -> None:
    assert OFFICE.add_business_hours(local(2026, 11, 24, 10), 2) == local(2026, 11, 24, 12)


def test_friday_evening_complaint_is_due_on_monday() -> None:
    # 1 hour left on Friday, 3 more on Monday morning.
    assert OFFICE.add_business_hours(local(2026, 11, 27, 17), 4) == local(2026, 11, 30, 12)


def test_night_and_weekend_starts_count_from_the_next_opening() -> None:
    assert OFFICE.add_business_hours(local(2026, 11, 28, 23), 1) == local(2026, 11, 30, 10)
    assert OFFICE.add_business_hours(local(2026, 11, 24, 6), 1) == local(2026, 11, 24, 10)


def test_public_holidays_and_closed_days_are_skipped() -> None:
    # National Day week (October 1-7, 2026 in China) is closed.
    assert OFFICE.add_business_hours(local(2026, 9, 30, 17), 2).astimezone(SHANGHAI).date() > date(
        2026, 10, 7
    )
    # An operator's own closed day.
    assert OFFICE.add_business_hours(local(2026, 12, 23, 17), 2) == local(2026, 12, 25, 10)


def test_make_up_working_days_are_open() -> None:
    assert OFFICE.is_open_day(date(2026, 9, 27))
    assert OFFICE.add_business_hours(local(2026, 9, 27, 9), 3) == local(2026, 9, 27, 12)


def test_results_are_utc() -> None:
    due = OFFICE.add_business_hours(local(2026, 11, 24, 10), 1)
    assert due.tzinfo is not None
    assert due.utcoffset() == timedelta(0)


@given(
    # Hypothesis takes naive bounds and attaches the zone itself.
    start=st.datetimes(
        min_value=datetime(2026, 1, 1),  # noqa: DTZ001
        max_value=datetime(2027, 12, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    hours=st.floats(min_value=0.25, max_value=120),
)
def test_adding_hours_then_counting_them_agrees(start: datetime, hours: float) -> None:
    due = OFFICE.add_business_hours(start, hours)
    assert due >= start
    assert OFFICE.business_hours_between(start, due) == pytest.approx(hours, abs=1e-6)


def test_a_calendar_with_no_open_day_is_an_error() -> None:
    closed = BusinessCalendar(
        zone=SHANGHAI, opens=time(9), closes=time(18), open_weekdays=frozenset()
    )
    with pytest.raises(ValueError, match="no 1 working hours"):
        closed.add_business_hours(local(2026, 11, 24, 10), 1)


def test_the_shipped_journey_config_is_valid() -> None:
    config = load_journey_config(RULES_DIR / "journeys.yaml")
    assert config.complaint.target("vip", "critical").response_hours == 1
    assert (
        config.complaint.target("unknown-tier", "high") == config.complaint.sla["default"]["high"]
    )
    assert set(config.contact_change.teams) <= set(config.staff.teams)


def test_config_mistakes_are_reported_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "journeys.yaml"
    text = (RULES_DIR / "journeys.yaml").read_text(encoding="utf-8")
    text = text.replace("remind_after_days: 7", "remind_after_days: 70", 1)
    text = text.replace("send_at_local_hour: 9", "send_at_local_hour: 25", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(JourneyConfigError) as raised:
        load_journey_config(path)
    problems = raised.value.problems
    assert len(problems) == 2
    hour_line = text.splitlines().index("  send_at_local_hour: 25") + 1
    assert any(
        p.startswith(f"journeys.yaml:{hour_line}: care_message.send_at_local_hour")
        for p in problems
    )
    assert any("remind_after_days must be shorter than goal_wait_days" in p for p in problems)


def test_sla_table_must_cover_every_severity(tmp_path: Path) -> None:
    def drop_low(document: dict[str, object]) -> None:
        complaint = document["complaint"]
        assert isinstance(complaint, dict)
        del complaint["sla"]["vip"]["low"]

    path = write_journey_config(tmp_path / "journeys.yaml", drop_low)
    with pytest.raises(JourneyConfigError, match="tier 'vip': severities must be exactly"):
        load_journey_config(path)


# China's 2026 make-up working days (调休), which the `holidays` data knows: weekend
# days staff work in exchange for a longer Spring Festival and National Day.
CHINA_2026_MAKE_UP_DAYS = [
    date(2026, 1, 4),
    date(2026, 2, 14),
    date(2026, 2, 28),
    date(2026, 5, 9),
    date(2026, 9, 20),
    date(2026, 10, 10),
]
CHINA = BusinessCalendar(
    zone=SHANGHAI,
    opens=time(9),
    closes=time(18),
    open_weekdays=frozenset(range(5)),
    holiday_country="CN",
)


@pytest.mark.parametrize("day", CHINA_2026_MAKE_UP_DAYS)
def test_chinas_make_up_working_days_are_open(day: date) -> None:
    assert day.weekday() >= 5  # each is a Saturday or Sunday
    assert CHINA.is_open_day(day)


def test_spring_festival_2026_closes_the_holiday_and_opens_the_make_up_saturdays() -> None:
    # Closed: New Year's Eve (Feb 16) to Feb 23 inclusive, with the weekend between.
    closed = [date(2026, 2, 15) + timedelta(days=n) for n in range(9)]
    assert [CHINA.is_open_day(day) for day in closed] == [False] * 9
    # Saturday Feb 14 and Saturday Feb 28 are worked; the Sunday after each is not.
    assert CHINA.is_open_day(date(2026, 2, 14))
    assert not CHINA.is_open_day(date(2026, 2, 15))
    assert CHINA.is_open_day(date(2026, 2, 28))
    assert not CHINA.is_open_day(date(2026, 3, 1))
    assert CHINA.is_open_day(date(2026, 2, 24))


def test_an_sla_spanning_the_spring_festival_make_up_saturday_counts_it_as_open() -> None:
    # Friday Feb 13, 17:00 with a 4-hour target: 1 hour on Friday, 3 on Saturday Feb 14.
    assert CHINA.add_business_hours(local(2026, 2, 13, 17), 4) == local(2026, 2, 14, 12)
    # Past the Saturday's 9 hours the clock skips the whole holiday to Tuesday Feb 24.
    assert CHINA.add_business_hours(local(2026, 2, 13, 17), 12) == local(2026, 2, 24, 11)
    assert CHINA.business_hours_between(local(2026, 2, 13, 18), local(2026, 2, 24, 9)) == 9


def test_national_day_2026_closes_the_golden_week_and_opens_the_make_up_days() -> None:
    golden_week = [date(2026, 10, 1) + timedelta(days=n) for n in range(7)]
    assert not any(CHINA.is_open_day(day) for day in golden_week)
    assert CHINA.is_open_day(date(2026, 9, 20))  # Sunday before
    assert CHINA.is_open_day(date(2026, 10, 10))  # Saturday after
    assert not CHINA.is_open_day(date(2026, 10, 11))
    # Opened Friday Oct 9 at 16:00, 8 hours: 2 on Friday, 6 on the make-up Saturday.
    assert CHINA.add_business_hours(local(2026, 10, 9, 16), 8) == local(2026, 10, 10, 15)
    # Opened Saturday Sep 19 (closed): the make-up Sunday Sep 20 is the next open day.
    assert CHINA.add_business_hours(local(2026, 9, 19, 10), 1) == local(2026, 9, 20, 10)
    # Opened on the eve of Golden Week: Sep 30 then straight to Oct 8.
    assert CHINA.add_business_hours(local(2026, 9, 30, 17), 2) == local(2026, 10, 8, 10)


def test_an_operators_closed_day_wins_over_a_make_up_day() -> None:
    closed = BusinessCalendar(
        zone=SHANGHAI,
        opens=time(9),
        closes=time(18),
        open_weekdays=frozenset(range(5)),
        holiday_country="CN",
        closed_days=frozenset({date(2026, 2, 14)}),
    )
    assert not closed.is_open_day(date(2026, 2, 14))


def test_a_country_without_make_up_days_keeps_its_weekends_closed() -> None:
    us = BusinessCalendar(
        zone=ZoneInfo("America/New_York"),
        opens=time(9),
        closes=time(17),
        open_weekdays=frozenset(range(5)),
        holiday_country="US",
    )
    assert not us.is_open_day(date(2026, 2, 14))
    assert not us.is_open_day(date(2026, 7, 3))  # Independence Day observed
