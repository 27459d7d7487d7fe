"""A rule file is broken and then fixed while complaints keep coming in.

The running rule book keeps the last good rules while the file is broken (every
complaint is still acknowledged, under the old file's hash), the mistake is in
the log with its `path:line:col`, and the fixed file is in use from some event on
and for every event after it. Nothing is lost or sent twice on the way.

tests/rules/test_live_up.py covers rules that change what fires; this test is
about the stream of events across the break: none lost, each decided by exactly
one version of the rules, the versions in order.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.client import Client

from careflow.paths import RULES_DIR
from careflow.runtime.temporal_server import EmbeddedTemporal
from careflow.store import Database, OutreachLedger
from tests.faults.harness import (
    CareflowUp,
    assert_nothing_lost,
    complaint_event,
    resolve_journeys,
    seed_customers,
    sized,
    wait_for_messages,
    wait_until,
)
from tests.smtp_sink import SmtpSink

SHIPPED = (RULES_DIR / "complaints.rules.yaml").read_text()
# An unknown fact: the whole edit is rejected, at the line and column of the typo.
TYPO = ("      event_type: complaint_opened", "      evnt_type: complaint_opened")
BROKEN = SHIPPED.replace(*TYPO, 1)
BROKEN_AT = (SHIPPED.splitlines().index(TYPO[0]) + 1, 7)
FIXED = SHIPPED.replace(
    "A customer who opens a complaint gets an acknowledgement",
    "Every customer who opens a complaint gets an acknowledgement",
)
# Events posted in each phase once its condition holds: a few, to see it stays so.
AFTER_EACH_CHANGE = sized(4, 20)
CUSTOMERS = 200


def file_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class ComplaintStream:
    """Posts complaints one at a time and records the rule-file hash that acknowledged each."""

    def __init__(self, careflow: CareflowUp, store: Database) -> None:
        self.careflow = careflow
        self.store = store
        self.hashes: list[str] = []

    async def post_next(self) -> str:
        number = len(self.hashes)
        response = await self.careflow.post_event(complaint_event(number))
        assert response.status_code == 202, response.text
        found: list[str] = []

        async def acknowledged() -> bool:
            async with self.store.session() as session:
                row = await session.scalar(
                    select(OutreachLedger).where(
                        OutreachLedger.workflow_id == self.careflow.complaint_journey_id(number),
                        OutreachLedger.step_id == "ack",
                        OutreachLedger.status == "sent",
                    )
                )
            if row is not None:
                found.append(row.ruleset_hash or "")
            return row is not None

        await wait_until(
            acknowledged,
            within_seconds=120,
            failure=lambda: f"complaint k{number} was never acknowledged",
            watch=self.careflow,
        )
        self.hashes.append(found[0])
        return found[0]

    async def post_until(self, holds: Callable[[str], bool]) -> None:
        """Post complaints until `holds(hash of the last one)`; every rule reload is
        checked at most once a second, so a few events may come first."""
        while not holds(await self.post_next()):
            assert len(self.hashes) < CUSTOMERS - AFTER_EACH_CHANGE, "the condition never held"

    async def post(self, count: int) -> set[str]:
        return {await self.post_next() for _ in range(count)}


@pytest.mark.timeout(600)
async def test_broken_rule_file_loses_nothing(
    tmp_path: Path, temporal: EmbeddedTemporal, sqlite_store: Database, smtp_sink: SmtpSink
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules, ignore=shutil.ignore_patterns("*.py", "*.md", "__pycache__"))
    rule_file = rules / "complaints.rules.yaml"
    await seed_customers(sqlite_store, range(CUSTOMERS), open_complaints=False)
    careflow = CareflowUp(
        tmp_path,
        temporal=temporal.address,
        database_url=str(sqlite_store.url),
        smtp_port=smtp_sink.port,
        env={"CAREFLOW_RULES_DIR": str(rules)},
    )
    careflow.start()
    stream = ComplaintStream(careflow, sqlite_store)
    error = f"{rule_file}:{BROKEN_AT[0]}:{BROKEN_AT[1]}: unknown fact 'evnt_type'"
    try:
        await careflow.wait_for_api()
        assert await stream.post(AFTER_EACH_CHANGE) == {file_hash(SHIPPED)}

        rule_file.write_text(BROKEN)
        await stream.post_until(lambda _: error in careflow.log_text())
        assert await stream.post(AFTER_EACH_CHANGE) == {file_hash(SHIPPED)}
        broken_until = len(stream.hashes)

        rule_file.write_text(FIXED)
        await stream.post_until(lambda decided_by: decided_by == file_hash(FIXED))
        assert await stream.post(AFTER_EACH_CHANGE) == {file_hash(FIXED)}

        journeys = len(stream.hashes)
        await wait_for_messages(smtp_sink, journeys, within_seconds=120, watch=careflow)
        client = await Client.connect(temporal.address)
        await resolve_journeys(
            client,
            range(journeys),
            within_seconds=240,
            watch=careflow,
            ids=careflow.complaint_journey_id,
        )
    finally:
        careflow.stop()
    # One version per event, in order: the shipped file until the fix was picked up.
    switched = stream.hashes.index(file_hash(FIXED))
    assert switched >= broken_until
    assert set(stream.hashes[:switched]) == {file_hash(SHIPPED)}
    assert set(stream.hashes[switched:]) == {file_hash(FIXED)}
    print(f"\nrule file broken after event {AFTER_EACH_CHANGE}, fixed rules from event {switched}")
    await assert_nothing_lost(
        sqlite_store, smtp_sink, journeys=journeys, allowed_repeats=0, fault="rule file broken"
    )
