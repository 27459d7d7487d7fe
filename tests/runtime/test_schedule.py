"""The daily scan's Temporal Schedule: created once however many processes start at
once, left alone when unchanged, rewritten when the configured time changes, and an
operator's pause survives that."""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from careflow.config import Settings
from careflow.runtime.schedule import SCHEDULE_ID, ensure_daily_scan_schedule
from careflow.runtime.temporal_server import EmbeddedTemporal
from careflow.temporal_connection import TemporalConnection, connect_temporal
from tests.runtime.conftest import NAMESPACE


async def client_of(server: EmbeddedTemporal) -> Client:
    return await connect_temporal(
        TemporalConnection(address=server.address, namespace=NAMESPACE, embedded=False)
    )


async def test_the_schedule_is_created_once_and_follows_the_configured_time(
    namespaced_temporal: EmbeddedTemporal,
) -> None:
    clients = [await client_of(namespaced_temporal) for _ in range(4)]
    settings = Settings(scan_time="06:00", scan_timezone="Asia/Shanghai")
    changed = await asyncio.gather(*(ensure_daily_scan_schedule(c, settings) for c in clients))
    assert sorted(changed) == [False, False, False, True], "one creates, the others find it"
    schedules = [entry.id async for entry in await clients[0].list_schedules()]
    assert schedules == [SCHEDULE_ID]

    handle = clients[0].get_schedule_handle(SCHEDULE_ID)
    first = await handle.describe()
    assert await ensure_daily_scan_schedule(clients[1], settings) is False
    assert (await handle.describe()).info.last_updated_at == first.info.last_updated_at

    await handle.pause(note="paused by the care team")
    later = Settings(scan_time="07:30", scan_timezone="Asia/Shanghai")
    assert await ensure_daily_scan_schedule(clients[2], later) is True
    updated = await handle.describe()
    calendar = updated.schedule.spec.calendars[0]
    assert ([r.start for r in calendar.hour], [r.start for r in calendar.minute]) == ([7], [30])
    assert updated.schedule.spec.time_zone_name == "Asia/Shanghai"
    assert updated.schedule.state.paused, "the operator's pause is kept"
    assert await ensure_daily_scan_schedule(clients[3], later) is False
