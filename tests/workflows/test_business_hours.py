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
