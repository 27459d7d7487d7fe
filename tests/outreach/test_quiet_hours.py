"""Quiet hours in the customer's zone, across DST gaps and overlaps (property-based)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from careflow.outreach import QuietHours, next_allowed_time

DST_ZONES = [
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "Asia/Shanghai",
    "America/Santiago",
    "Europe/Chisinau",  # transitions at 02:00/03:00 local
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/St_Johns",  # -03:30, DST
    "Asia/Tehran",
    "Pacific/Apia",  # skipped a whole day in 2011
    "UTC",
]
ZONES = st.one_of(st.sampled_from(DST_ZONES), st.sampled_from(sorted(available_timezones())))
MINUTE_TIMES = st.builds(time, st.integers(0, 23), st.integers(0, 59))
# Minute-aligned instants, in years whose zone offsets are all whole minutes.
MINUTE_INSTANTS = st.builds(
    lambda minutes: datetime(2000, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes),
    st.integers(0, 38 * 366 * 24 * 60),
)


def offset_changes(zone: ZoneInfo, year: int) -> list[datetime]:
    """The instants in `year` at which `zone` changes its UTC offset (to the minute)."""
    changes = []
    start = datetime(year, 1, 1, tzinfo=UTC)
    for day in range(366):
        low, high = start + timedelta(days=day), start + timedelta(days=day + 1)
        if low.astimezone(zone).utcoffset() != high.astimezone(zone).utcoffset():
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                middle = middle.replace(second=0, microsecond=0)
                if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
                    low = middle
                else:
                    high = middle
            changes.append(high)
    return changes


@st.composite
def near_a_transition(draw: st.DrawFn) -> tuple[datetime, str]:
    """A zone and a minute within a day and a half before (or hours after) a change."""
    zone_name = draw(st.sampled_from([z for z in DST_ZONES if z not in ("UTC", "Asia/Shanghai")]))
    year = draw(st.integers(2000, 2037))
    changes = offset_changes(ZoneInfo(zone_name), year)
    if not changes:  # the zone dropped DST that year
        return datetime(year, 6, 1, tzinfo=UTC), zone_name
    change = draw(st.sampled_from(changes))
    return change + timedelta(minutes=draw(st.integers(-36 * 60, 12 * 60))), zone_name


def assert_earliest_allowed(now: datetime, zone: ZoneInfo, quiet: QuietHours) -> datetime:
    allowed = next_allowed_time(now, zone, quiet)
    assert allowed.tzinfo is not None
    assert allowed.utcoffset() == timedelta(0)
    assert allowed >= now
    assert not quiet.is_quiet(allowed.astimezone(zone).time())
    # Brute force: every minute before the answer is quiet, so none was missed.
    minute = now
    while minute < allowed:
        assert quiet.is_quiet(minute.astimezone(zone).time()), minute
        minute += timedelta(minutes=1)
    assert minute == allowed  # the answer itself is on a whole minute
    return allowed


@settings(max_examples=400, deadline=None)
@given(MINUTE_INSTANTS, ZONES, MINUTE_TIMES, MINUTE_TIMES)
@example(datetime(2026, 3, 8, 5, 45, tzinfo=UTC), "America/New_York", time(0, 30), time(2, 30))
@example(datetime(2026, 10, 24, 23, 45, tzinfo=UTC), "Europe/London", time(0, 30), time(1, 30))
@example(datetime(2026, 10, 4, 14, 45, tzinfo=UTC), "Australia/Lord_Howe", time(21), time(2, 15))
@example(datetime(2011, 12, 30, 8, 0, tzinfo=UTC), "Pacific/Apia", time(21), time(9))
def test_next_allowed_time_is_the_first_minute_outside_quiet_hours(
    now: datetime, zone_name: str, start: time, end: time
) -> None:
    assert_earliest_allowed(now, ZoneInfo(zone_name), QuietHours(start, end))


@settings(max_examples=400, deadline=None)
@given(near_a_transition(), MINUTE_TIMES, MINUTE_TIMES)
def test_next_allowed_time_is_the_first_minute_outside_quiet_hours_around_dst_changes(
    now_and_zone: tuple[datetime, str], start: time, end: time
) -> None:
    now, zone_name = now_and_zone
    assert_earliest_allowed(now, ZoneInfo(zone_name), QuietHours(start, end))


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 (hypothesis adds the zone)
        max_value=datetime(2037, 12, 31),  # noqa: DTZ001
        timezones=st.sampled_from([ZoneInfo(name) for name in DST_ZONES]),
    ),
    ZONES,
    MINUTE_TIMES,
    MINUTE_TIMES,
)
# A wall time that does not exist (inside New York's spring-forward gap).
@example(
    datetime(2016, 3, 13, 2, 0, fold=1, tzinfo=ZoneInfo("America/New_York")),
    "America/New_York",
    time(0, 0),
    time(1, 1),
)
def test_any_aware_now_in_any_zone_gives_an_allowed_instant_not_before_it(
    now: datetime, zone_name: str, start: time, end: time
) -> None:
    zone, quiet = ZoneInfo(zone_name), QuietHours(start, end)
    allowed = next_allowed_time(now, zone, quiet)
    assert allowed >= now
    assert not quiet.is_quiet(allowed.astimezone(zone).time())
    if allowed > now:
        # Through UTC: hypothesis may pick a wall time inside a DST gap (02:00 on a
        # spring-forward day), and `astimezone` to the same zone would keep that
        # time as it is instead of the wall time the instant really has.
        assert quiet.is_quiet(now.astimezone(UTC).astimezone(zone).time())


def test_spring_forward_gap_defers_to_the_jump() -> None:
    # Quiet hours end at 02:30, which does not exist on 8 March 2026 in New York:
    # the clocks jump from 02:00 EST to 03:00 EDT, and that instant is the answer.
    new_york = ZoneInfo("America/New_York")
    now = datetime(2026, 3, 8, 0, 45, tzinfo=new_york)
    allowed = next_allowed_time(now, new_york, QuietHours(time(0, 30), time(2, 30)))
    assert allowed == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert allowed.astimezone(new_york).time() == time(3, 0)


def test_fall_back_overlap_uses_the_first_occurrence() -> None:
    london = ZoneInfo("Europe/London")
    now = datetime(2026, 10, 25, 0, 45, tzinfo=london)  # BST, before the clocks go back
    allowed = next_allowed_time(now, london, QuietHours(time(0, 30), time(1, 30)))
    assert allowed == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 01:30 BST


def test_evening_message_waits_for_the_customers_morning() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    quiet = QuietHours(time(21), time(9))
    late = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    assert next_allowed_time(late, shanghai, quiet) == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    midday = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    assert next_allowed_time(midday, shanghai, quiet) == midday


def test_equal_start_and_end_means_no_quiet_hours() -> None:
    now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    assert next_allowed_time(now, ZoneInfo("UTC"), QuietHours(time(3), time(3))) == now


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_allowed_time(datetime(2026, 1, 1), ZoneInfo("UTC"), QuietHours(time(21), time(9)))  # noqa: DTZ001
