"""Nothing lost, nothing doubled: journeys keep sending while the worker is SIGKILLed
and restarted and the SMTP server is down for a while.

The worker is the real `careflow up` process against a real Temporal dev server,
a real SQLite store and an SMTP server on loopback. The only repeat careflow
allows is a message whose SMTP exchange was cut by a kill (or by the server going
away mid-reply): it is resent under the same Message-ID, at most once per cut,
and the test reports how many there were.

CAREFLOW_FAULTS_FULL=1 runs the full size (500 journeys, more kills).
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from temporalio.client import Client

from careflow.runtime.temporal_server import EmbeddedTemporal
from careflow.store import Database
from tests.faults.harness import (
    CareflowUp,
    assert_nothing_lost,
    resolve_journeys,
    seed_customers,
    sized,
    start_complaint_journeys,
    wait_for_messages,
)
from tests.smtp_sink import SmtpSink

JOURNEYS = sized(200, 500)
KILLS = sized(3, 6)
# An SMTP server that goes away after accepting a message but before its reply
# reaches careflow causes the same kind of repeat as a kill (RFC 5321 6.1 warns of
# exactly this); the outage may cut at most one such exchange.
SMTP_OUTAGES = 1


@pytest.mark.timeout(900)
async def test_kills_and_smtp_outage_lose_nothing(
    tmp_path: Path, temporal: EmbeddedTemporal, sqlite_store: Database, smtp_sink: SmtpSink
) -> None:
    chaos = random.Random(20261123)
    await seed_customers(sqlite_store, range(JOURNEYS), open_complaints=True)
    careflow = CareflowUp(
        tmp_path,
        temporal=temporal.address,
        database_url=str(sqlite_store.url),
        smtp_port=smtp_sink.port,
    )
    careflow.start()
    client = await Client.connect(temporal.address)
    await start_complaint_journeys(client, range(JOURNEYS))
    try:
        for kill in range(KILLS):
            # Random points in the run: the kill lands wherever the worker is.
            await asyncio.sleep(chaos.uniform(1.0, 4.0))
            careflow.kill()
            if kill == 1:
                # The SMTP server goes away too, while the worker is down and after.
                smtp_sink.outage()
            await asyncio.sleep(chaos.uniform(0.2, 1.0))
            careflow.start()
            if kill == 1:
                await asyncio.sleep(3)
                smtp_sink.recover()
        await wait_for_messages(smtp_sink, JOURNEYS, within_seconds=400, watch=careflow)
        # Second half: every journey resolves, sends its resolution message and ends.
        await resolve_journeys(client, range(JOURNEYS), within_seconds=180, watch=careflow)
    finally:
        careflow.stop()
    await assert_nothing_lost(
        sqlite_store,
        smtp_sink,
        journeys=JOURNEYS,
        allowed_repeats=KILLS + SMTP_OUTAGES,
        fault=f"{KILLS} worker kills and one SMTP outage",
    )
