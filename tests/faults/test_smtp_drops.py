"""The SMTP server drops connections in the middle of exchanges, not just refuses them.

Each drop resets the connection after the message data and before the reply, so
careflow cannot know whether the message went through. Half of the drops lose the
message; the other half keep it, the case RFC 5321 6.1 warns about: careflow's
retry sends it again under the same Message-ID, the only repeat it allows, and
only one per such drop.

CAREFLOW_FAULTS_FULL=1 runs more journeys and drops.
"""

from __future__ import annotations

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

JOURNEYS = sized(40, 200)
DROPS = sized(6, 20)


@pytest.mark.timeout(600)
async def test_smtp_dropping_connections_loses_nothing(
    tmp_path: Path, temporal: EmbeddedTemporal, sqlite_store: Database, smtp_sink: SmtpSink
) -> None:
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
    kept = 0
    try:
        for drop in range(DROPS):
            # Spread the drops over the run: each waits for a few more deliveries.
            await wait_for_messages(
                smtp_sink, drop * JOURNEYS // (DROPS + 1), within_seconds=180, watch=careflow
            )
            after_accepting = drop % 2 == 1
            smtp_sink.drop_connections(after_accepting=after_accepting)
            kept += after_accepting
        await wait_for_messages(smtp_sink, JOURNEYS, within_seconds=300, watch=careflow)
        await resolve_journeys(client, range(JOURNEYS), within_seconds=240, watch=careflow)
    finally:
        careflow.stop()
    assert not smtp_sink.pending_drops, "every drop cut an exchange"
    verdict = await assert_nothing_lost(
        sqlite_store,
        smtp_sink,
        journeys=JOURNEYS,
        allowed_repeats=kept,
        fault=f"{DROPS} SMTP connections dropped mid-exchange ({kept} after accepting)",
    )
    # A kept message is always sent again (careflow cannot know it arrived); a lost
    # one is sent once more and arrives once.
    assert verdict.repeats == kept
