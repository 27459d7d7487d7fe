"""The time an activity acts at: its workflow's clock, never earlier than the wall clock.

Rows an activity writes (journey starts, tasks, outcomes) are stamped with the
Temporal server's time of the current attempt. On a production cluster that is
the wall clock; on the time-skipping test server (tests, `careflow simulate`) it
is the simulated time, so budgets, deadlines and KPIs see the same world as the
workflows. The later of the two is used, as `send_email` does with `planned_at`:
a worker whose clock runs ahead of the server's never stamps a time in its past.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity


def activity_now(scheduled_at: datetime | None = None) -> datetime:
    """Now, as the running activity's workflow sees it (the wall clock outside activities).

    `started_time` is the server's time when this attempt started; the probe in
    tests/activities/test_clock.py shows the time-skipping server advances it. A
    local activity (workflows/calls.py `call_quick_step`) has no server time: its
    `started_time` is the worker's clock, so its workflow passes its own clock as
    `scheduled_at` in the input, and that is the instant used.
    """
    now = datetime.now(UTC)
    if scheduled_at is not None:
        return max(now, scheduled_at.astimezone(UTC))
    if not activity.in_activity() or activity.info().is_local:
        return now
    return max(now, activity.info().started_time.astimezone(UTC))
