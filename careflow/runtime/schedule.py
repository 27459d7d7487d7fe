"""The Temporal Schedule that runs the daily scan at a configured local time.

Every worker (and `careflow up`) makes sure it exists when it starts; with several
starting at once, the first creates it and the others find it. It is rewritten only
when its time, zone or task queue differ from this process's settings.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from careflow.config import Settings
from careflow.contracts.scan import DailyScanInput
from careflow.workflows.daily_scan import DailyScanWorkflow

log = logging.getLogger(__name__)

SCHEDULE_ID = "careflow-daily-scan"


def daily_scan_schedule(settings: Settings) -> Schedule:
    hour, minute = (int(part) for part in settings.scan_time.split(":"))
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DailyScanWorkflow.run,
            DailyScanInput(),
            id="daily-scan",  # Temporal appends the scheduled time to keep runs apart
            task_queue=settings.task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(hour=[ScheduleRange(hour)], minute=[ScheduleRange(minute)])
            ],
            time_zone_name=settings.scan_timezone,
        ),
        # A scan that is still running when the next is due finishes first; never two at once.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_daily_scan_schedule(client: Client, settings: Settings) -> bool:
    """Create the schedule if absent, or update it if its timing changed.

    Returns whether this call created or changed it. An operator's pause (the
    schedule's state) survives an update.
    """
    schedule = daily_scan_schedule(settings)
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
        log.info("created the daily scan schedule %s", SCHEDULE_ID)
        return True
    except ScheduleAlreadyRunningError:
        pass
    handle = client.get_schedule_handle(SCHEDULE_ID)
    if _timing(schedule) == _timing((await handle.describe()).schedule):
        return False

    def replace(current: ScheduleUpdateInput) -> ScheduleUpdate:
        schedule.state = current.description.schedule.state
        return ScheduleUpdate(schedule=schedule)

    await handle.update(replace)
    log.warning(
        "daily scan schedule %s now runs at %s %s on task queue %s",
        SCHEDULE_ID,
        settings.scan_time,
        settings.scan_timezone,
        settings.task_queue,
    )
    return True


def _timing(schedule: Schedule) -> tuple[object, ...]:
    """What this module decides about a schedule: when it fires and where the scan runs."""
    action = schedule.action
    queue = action.task_queue if isinstance(action, ScheduleActionStartWorkflow) else None
    calendars = tuple(
        (_ranges(calendar.hour), _ranges(calendar.minute)) for calendar in schedule.spec.calendars
    )
    return calendars, schedule.spec.time_zone_name, queue


def _ranges(ranges: Sequence[ScheduleRange]) -> tuple[tuple[int, int, int], ...]:
    # The server fills in what a new range leaves at 0 (end = start, step = 1).
    return tuple((r.start, max(r.end, r.start), r.step or 1) for r in ranges)
