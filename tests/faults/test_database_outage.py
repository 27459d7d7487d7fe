"""PostgreSQL goes away for a few seconds mid-run, open connections cut.

`careflow up` reaches PostgreSQL through a loopback proxy that the test cuts while
acknowledgements go out and events come in. Activities fail on the lost store and
Temporal retries them; the API answers 503 with Retry-After (never a 500) and
stores nothing, so the client's retry of the same event is what starts its journey;
an event the API accepted before the cut is never lost.

CAREFLOW_FAULTS_FULL=1 runs more journeys and outages.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import make_url
from temporalio.client import Client

from careflow.runtime.temporal_server import EmbeddedTemporal
from careflow.store import create_database
from tests.faults.harness import (
    CareflowUp,
    assert_nothing_lost,
    complaint_event,
    resolve_journeys,
    seed_customers,
    sized,
    wait_for_messages,
)
from tests.faults.tcp_proxy import TcpProxy
from tests.smtp_sink import SmtpSink

JOURNEYS = sized(60, 240)
OUTAGES = sized(1, 3)
# Long enough for every pooled connection to be found dead and for a few retries
# to fail; short enough to be "briefly".
OUTAGE_SECONDS = 4.0


async def post_until_accepted(careflow: CareflowUp, number: int) -> int:
    """Post complaint k<n> until the API accepts it; returns how many 503s it took."""
    refusals = 0
    while True:
        response = await careflow.post_event(complaint_event(number))
        if response.status_code == 202:
            return refusals
        assert response.status_code == 503, f"{response.status_code}: {response.text}"
        assert "Retry-After" in response.headers
        refusals += 1
        # The client honours Retry-After, as the 503 asks.
        await asyncio.sleep(min(float(response.headers["Retry-After"]), 1.0))


@pytest.mark.timeout(600)
async def test_database_outage_loses_nothing(
    tmp_path: Path, temporal: EmbeddedTemporal, postgres_database: str, smtp_sink: SmtpSink
) -> None:
    direct = make_url(postgres_database)
    proxy = TcpProxy(direct.host or "127.0.0.1", direct.port or 5432)
    proxy.start()
    through_proxy = direct.set(host="127.0.0.1", port=proxy.port)
    store = create_database(postgres_database)
    careflow = CareflowUp(
        tmp_path,
        temporal=temporal.address,
        database_url=through_proxy.render_as_string(hide_password=False),
        smtp_port=smtp_sink.port,
    )
    careflow.start()  # migrates the new database through the proxy
    try:
        await careflow.wait_for_api()
        await seed_customers(store, range(JOURNEYS), open_complaints=False)
        posted: list[int] = []
        refusals = 0

        async def post(numbers: range) -> None:
            nonlocal refusals
            for number in numbers:
                if number not in posted:
                    refusals += await post_until_accepted(careflow, number)
                    posted.append(number)

        batches = [range(JOURNEYS)[part :: OUTAGES + 1] for part in range(OUTAGES + 1)]
        for outage in range(OUTAGES):
            acknowledged_before = len(posted)
            await post(batches[outage])
            # The cut lands while this batch's acknowledgements are going out.
            await wait_for_messages(
                smtp_sink,
                acknowledged_before + len(batches[outage]) // 3,
                within_seconds=180,
                watch=careflow,
            )
            proxy.cut()
            # An event posted while the store is away is refused with 503, and
            # stored nothing: its retry below is what starts its journey.
            refusal = await careflow.post_event(complaint_event(batches[outage + 1][0]))
            assert refusal.status_code == 503, f"{refusal.status_code}: {refusal.text}"
            refusals += 1
            await asyncio.sleep(OUTAGE_SECONDS)  # the length of the outage itself
            proxy.restore()
        await post(batches[-1])
        await wait_for_messages(smtp_sink, JOURNEYS, within_seconds=300, watch=careflow)
        client = await Client.connect(temporal.address)
        await resolve_journeys(
            client,
            range(JOURNEYS),
            within_seconds=240,
            watch=careflow,
            ids=careflow.complaint_journey_id,
        )
    finally:
        careflow.stop()
        proxy.stop()
    print(f"\n{refusals} event posts refused with 503 while the store was away")
    log = careflow.log_text()
    assert "ConnectionRefusedError" in log or "connection was closed" in log, (
        "the outage hit activities in flight (they failed and Temporal retried them)"
    )
    await assert_nothing_lost(
        store,
        smtp_sink,
        journeys=JOURNEYS,
        # Only a send whose `sent` mark the cut prevented is sent again, once per cut.
        allowed_repeats=proxy.cuts,
        fault=f"{proxy.cuts} PostgreSQL outages of {OUTAGE_SECONDS:.0f} s",
    )
    await store.dispose()
