"""The Temporal server is SIGKILLed and restarted on its persisted store mid-run.

External server: `careflow up` runs against a dev server (`TEMPORAL_ADDRESS`)
that the test kills while acknowledgements go out and starts again on the same
SQLite file and port. careflow's worker must pick its work up again by itself,
and its API must answer 503 while Temporal is away, without losing the event: the
event is stored, and the client's retry (same `event_id`) starts its workflow.

Embedded server: `careflow up` notices its own dev server died and starts it again.

CAREFLOW_FAULTS_FULL=1 runs more journeys and restarts.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from temporalio.client import Client

from careflow.runtime.temporal_server import EmbeddedTemporal
from careflow.store import Database
from tests.faults.harness import (
    CareflowUp,
    assert_nothing_lost,
    complaint_event,
    resolve_journeys,
    seed_customers,
    sized,
    start_complaint_journeys,
    wait_for_messages,
    wait_until,
)
from tests.smtp_sink import SmtpSink

JOURNEYS = sized(80, 300)
RESTARTS = sized(1, 3)
EMBEDDED_JOURNEYS = sized(30, 150)


def kill(temporal: EmbeddedTemporal) -> None:
    """SIGKILL the dev server: no shutdown, whatever it had not persisted is gone."""
    assert temporal.process is not None
    temporal.process.send_signal(signal.SIGKILL)
    temporal.process.wait()
    temporal.process = None


@pytest.mark.timeout(600)
async def test_temporal_restart_loses_nothing(
    tmp_path: Path, temporal: EmbeddedTemporal, sqlite_store: Database, smtp_sink: SmtpSink
) -> None:
    # One journey per restart is started by an event posted while Temporal is down.
    posted_while_down = range(JOURNEYS, JOURNEYS + RESTARTS)
    await seed_customers(sqlite_store, range(JOURNEYS), open_complaints=True)
    await seed_customers(sqlite_store, posted_while_down, open_complaints=False)
    careflow = CareflowUp(
        tmp_path,
        temporal=temporal.address,
        database_url=str(sqlite_store.url),
        smtp_port=smtp_sink.port,
    )
    careflow.start()
    await careflow.wait_for_api()
    client = await Client.connect(temporal.address)
    # The ids `careflow up` gives the journeys of complaint events posted below too.
    await start_complaint_journeys(client, range(JOURNEYS), ids=careflow.complaint_journey_id)
    try:
        for restart, number in enumerate(posted_while_down):
            # Each restart lands while acknowledgements are going out.
            await wait_for_messages(
                smtp_sink,
                JOURNEYS * (restart + 1) // (RESTARTS + 2),
                within_seconds=180,
                watch=careflow,
            )
            kill(temporal)
            refused = await careflow.post_event(complaint_event(number))
            assert refused.status_code == 503, refused.text
            assert "Retry-After" in refused.headers
            await temporal.start()
            careflow.fail_if_exited()
            accepted = await careflow.post_event(complaint_event(number))
            assert accepted.status_code == 202, accepted.text
            assert accepted.json()["duplicate"] is True, "the event was stored the first time"
        journeys = JOURNEYS + RESTARTS
        await wait_for_messages(smtp_sink, journeys, within_seconds=300, watch=careflow)
        await resolve_journeys(
            client,
            range(journeys),
            within_seconds=240,
            watch=careflow,
            ids=careflow.complaint_journey_id,
        )
    finally:
        careflow.stop()
    await assert_nothing_lost(
        sqlite_store,
        smtp_sink,
        journeys=journeys,
        # A send whose completion the dead server never saw is retried, but finds its
        # ledger row and does not send again; a repeat is only allowed per restart.
        allowed_repeats=RESTARTS,
        fault=f"{RESTARTS} Temporal server restarts",
    )


@pytest.mark.timeout(600)
async def test_careflow_up_restarts_its_embedded_temporal(
    tmp_path: Path, sqlite_store: Database, smtp_sink: SmtpSink
) -> None:
    await seed_customers(sqlite_store, range(EMBEDDED_JOURNEYS), open_complaints=True)
    careflow = CareflowUp(
        tmp_path, temporal=None, database_url=str(sqlite_store.url), smtp_port=smtp_sink.port
    )
    careflow.start()
    try:
        await careflow.wait_for_api()
        client = await Client.connect(careflow.temporal_address)
        await start_complaint_journeys(
            client, range(EMBEDDED_JOURNEYS), ids=careflow.complaint_journey_id
        )
        await wait_for_messages(
            smtp_sink, EMBEDDED_JOURNEYS // 3, within_seconds=180, watch=careflow
        )
        killed = careflow.embedded_temporal_pid()
        os.kill(killed, signal.SIGKILL)

        def started_again() -> bool:
            try:
                return careflow.embedded_temporal_pid() != killed
            except AssertionError:  # between the old server's end and the new one's start
                return False

        await wait_until(
            started_again,
            within_seconds=120,
            failure=lambda: f"no new Temporal server:\n{careflow.log_text()[-4000:]}",
            watch=careflow,
        )
        await wait_for_messages(smtp_sink, EMBEDDED_JOURNEYS, within_seconds=300, watch=careflow)
        await resolve_journeys(
            client,
            range(EMBEDDED_JOURNEYS),
            within_seconds=240,
            watch=careflow,
            ids=careflow.complaint_journey_id,
        )
        assert "the embedded Temporal server exited with code -9" in careflow.log_text()
    finally:
        careflow.stop()
    await assert_nothing_lost(
        sqlite_store,
        smtp_sink,
        journeys=EMBEDDED_JOURNEYS,
        allowed_repeats=1,
        fault="the embedded Temporal server killed and started again by careflow up",
    )
