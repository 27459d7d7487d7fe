"""A broadcast survives its worker being SIGKILLed mid-send: every member of the
segment gets the campaign, nobody else does, and the only repeat is a message whose
SMTP exchange a kill cut (resent under the same Message-ID), at most one per kill.

The worker is the real `careflow up` process against a real Temporal dev server, a
real SQLite store and an SMTP server on loopback, with a rules folder holding one
campaign.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import Client

from careflow.campaigns.client import LaunchOutcome, launch_campaign
from careflow.config import Settings
from careflow.paths import TEMPLATES_DIR
from careflow.runtime.temporal_server import EmbeddedTemporal
from careflow.store import Database
from tests.campaigns.harness import campaign_file, rules_folder
from tests.faults.harness import CareflowUp, sized, wait_until
from tests.smtp_sink import SmtpSink
from tests.workflows.harness import add_customer, zone_at_local_hour

MEMBERS = sized(150, 1000)
KILLS = 2


@pytest.mark.timeout(600)
async def test_a_broadcast_killed_midway_sends_once_to_each_member(
    tmp_path: Path, temporal: EmbeddedTemporal, sqlite_store: Database, smtp_sink: SmtpSink
) -> None:
    # Noon in the customers' zone: quiet hours stay out of the way, whatever the hour.
    zone = zone_at_local_hour(datetime.now(UTC), 12)
    joined = datetime.now(UTC) - timedelta(days=30)
    members = {f"m{number:04d}" for number in range(MEMBERS)}
    for customer in sorted(members):
        await add_customer(sqlite_store, customer, tier="vip", timezone=zone, now=joined)
    for number in range(20):
        await add_customer(sqlite_store, f"other{number}", tier="regular", now=joined)
    rules = rules_folder(
        tmp_path,
        {"kill_test": campaign_file(topic="care", template="member_day", locales="[en]")},
    )
    careflow = CareflowUp(
        tmp_path,
        temporal=temporal.address,
        database_url=str(sqlite_store.url),
        smtp_port=smtp_sink.port,
        env={"CAREFLOW_RULES_DIR": str(rules)},
    )
    careflow.start()
    client = await Client.connect(temporal.address)
    try:
        launched = await launch_campaign(
            client,
            sqlite_store,
            "kill_test",
            rules_dir=rules,
            templates_dir=TEMPLATES_DIR,
            task_queue=Settings().task_queue,
            actor="test",
        )
        assert launched.outcome is LaunchOutcome.LAUNCHED, launched.problems
        assert launched.handle is not None
        for kill in range(KILLS):
            # Mid-send: some messages out, most still to go.
            await wait_until(
                lambda kill=kill: len(smtp_sink.messages) >= MEMBERS * (kill + 1) // (KILLS + 2),
                within_seconds=240,
                failure=lambda: f"only {len(smtp_sink.messages)} messages arrived",
                watch=careflow,
            )
            careflow.kill()
            await asyncio.sleep(0.5)
            careflow.start()
        progress = await asyncio.wait_for(launched.handle.result(), timeout=400)
    finally:
        careflow.stop()

    recipients = Counter(str(message["To"]).split("@")[0] for message in smtp_sink.messages)
    assert set(recipients) == members  # every member, nobody else
    repeats = sum(count - 1 for count in recipients.values())
    assert repeats <= careflow.kills
    by_id = Counter(str(message["Message-ID"]) for message in smtp_sink.messages)
    # A repeat is the same message again (same Message-ID), never a second one.
    assert len(by_id) == MEMBERS
    assert progress.state == "done"
