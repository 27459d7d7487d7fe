"""The Temporal Schedule that runs the daily scan at a configured local time."""

from __future__ import annotations

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
from careflow.workflows.daily_scan import DailyScanInput, DailyScanWorkflow

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


async def ensure_daily_scan_schedule(client: Client, settings: Settings) -> None:
    """Create the schedule, or bring an existing one up to the current settings."""
    schedule = daily_scan_schedule(settings)
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(SCHEDULE_ID).update(replace)
