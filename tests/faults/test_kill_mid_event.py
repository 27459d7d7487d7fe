"""Nothing lost on the direct event path: `careflow up` is SIGKILLed while events are
being accepted, between an event's commit and its journey's start for some of them.

The API evaluates an event's rules and starts its journey right after storing it
(careflow/intake/direct.py). A kill in between leaves the event stored and
unhandled, and its client without an answer. This client does not post such an
event again (a sender that gives up, or never learns of the failure): the event
sweep of the restarted process must hand it to its workflow. Events the kill kept
from being stored at all are posted again, as any client retries a refused
connection. Every complaint must then be acknowledged once and resolved.

CAREFLOW_FAULTS_FULL=1 runs the full size.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.client import Client

from careflow.runtime.temporal_server import EmbeddedTemporal
from careflow.store import Database, Event
from tests.faults.harness import (
    CareflowUp,
    assert_nothing_lost,
    complaint_event,
    resolve_journeys,
    seed_customers,
    sized,
    wait_for_messages,
)
from tests.smtp_sink import SmtpSink

EVENTS = sized(80, 300)
IN_FLIGHT = 8


async def stored(db: Database, number: int) -> bool:
    event_id = complaint_event(number)["event_id"]
    async with db.session() as session:
        return bool(await session.scalar(select(Event.id).where(Event.event_id == event_id)))


@pytest.mark.timeout(600)
async def test_a_kill_between_commit_and_dispatch_loses_no_event(
    tmp_path: Path, temporal: EmbeddedTemporal, sqlite_store: Database, smtp_sink: SmtpSink
) -> None:
    await seed_customers(sqlite_store, range(EVENTS), open_complaints=False)
    careflow = CareflowUp(
        tmp_path,
        temporal=temporal.address,
        database_url=str(sqlite_store.url),
        smtp_port=smtp_sink.port,
        # The sweep's grace period, short so the test need not wait a minute.
        env={"CAREFLOW_EVENT_SWEEP_AFTER_SECONDS": "2"},
    )
    careflow.start()
    await careflow.wait_for_api()
    accepted: list[int] = []
    unanswered: list[int] = []
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def post(number: int) -> None:
        async with gate:
            try:
                response = await careflow.post_event(complaint_event(number))
            except httpx.TransportError:
                unanswered.append(number)
                return
            assert response.status_code == 202, response.text
            accepted.append(number)

    async def kill_midway() -> None:
        while len(accepted) < EVENTS // 3:  # noqa: ASYNC110 - the posts are the event
            await asyncio.sleep(0.01)
        careflow.kill()

    try:
        await asyncio.gather(kill_midway(), *(post(number) for number in range(EVENTS)))
        careflow.start()
        await careflow.wait_for_api()
        left_to_sweep = [number for number in unanswered if await stored(sqlite_store, number)]
        for number in unanswered:
            if number not in left_to_sweep:
                await post(number)
        print(
            f"\n{len(unanswered)} posts cut by the kill: {len(left_to_sweep)} of them stored "
            "(left to the sweep), the rest posted again"
        )
        await wait_for_messages(smtp_sink, EVENTS, within_seconds=300, watch=careflow)
        async with sqlite_store.session() as session:
            unhandled = await session.scalar(
                select(func.count(Event.id)).where(Event.handled_at.is_(None))
            )
        assert unhandled == 0
        client = await Client.connect(temporal.address)
        await resolve_journeys(
            client,
            range(EVENTS),
            within_seconds=240,
            watch=careflow,
            ids=careflow.complaint_journey_id,
        )
    finally:
        careflow.stop()
    await assert_nothing_lost(
        sqlite_store,
        smtp_sink,
        journeys=EVENTS,
        allowed_repeats=1,
        fault="careflow up killed while accepting events",
    )
