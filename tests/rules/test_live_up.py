"""Editing a rule file under a running `careflow up` changes the next event's outcome.

A broken edit changes nothing: the last good rules keep acknowledging complaints,
and the mistake is in the log with its line and column.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from careflow.paths import RULES_DIR
from tests.runtime.test_careflow_up import Up

CRITICAL_ONLY = """\
name: complaints
owner: tests
description: Acknowledge complaints.
mode: all_matches
rules:
  - id: acknowledge-new-complaint
    description: Acknowledge critical complaints only.
    when:
      event_type: complaint_opened
      complaint_severity: critical
    then:
      - start: complaint_escalation
    examples:
      - given: {event_type: complaint_opened, complaint_severity: critical}
        expect: [start complaint_escalation]
"""
EVERY_COMPLAINT = CRITICAL_ONLY.replace("      complaint_severity: critical\n", "").replace(
    "critical complaints only", "every complaint"
)
BROKEN = EVERY_COMPLAINT.replace("event_type: complaint_opened\n    then", "evnt_type: x\n    then")


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    rules = tmp_path / "rules"
    rules.mkdir()
    # The rules folder also holds the operators' other files (policy, journeys, tiers).
    for shipped in RULES_DIR.glob("*.yaml"):
        if not shipped.name.endswith(".rules.yaml"):
            shutil.copy(shipped, rules / shipped.name)
    (rules / "complaints.rules.yaml").write_text(CRITICAL_ONLY)
    runtime = Up(tmp_path / "var")
    runtime.env["CAREFLOW_RULES_DIR"] = str(rules)
    yield runtime
    if runtime.process is not None and runtime.process.poll() is None:
        runtime.process.kill()
        runtime.process.wait()


def complaint(number: int) -> dict[str, object]:
    return {
        "type": "complaint_opened",
        "customer_id": "live-c1",
        "occurred_at": datetime.now(UTC).isoformat(),
        "data": {"complaint_id": f"k-{number}", "severity": "high", "subject": "Late parcel"},
        "event_id": f"live-complaint-{number}",
    }


def subject(path: Path) -> str:
    return str(message_from_bytes(path.read_bytes(), policy=policy.default)["Subject"])


@pytest.mark.timeout(300)
async def test_rule_edits_apply_to_the_next_event(up: Up, tmp_path: Path) -> None:
    rule_file = tmp_path / "rules" / "complaints.rules.yaml"
    up.start()
    await up.wait_for_api()
    await up.post_event(
        {
            "type": "customer_upserted",
            "customer_id": "live-c1",
            "occurred_at": datetime.now(UTC).isoformat(),
            "data": {"name": "Emma Clarke", "email": "emma@example.com", "locale": "en"},
            "event_id": "live-customer",
        }
    )
    await up.post_event(complaint(1))  # high, not critical: not acknowledged yet

    rule_file.write_text(EVERY_COMPLAINT)
    await asyncio.sleep(2)  # the worker looks at the files about once a second
    await up.post_event(complaint(2))
    emails = await up.wait_for_outbox(1, within_seconds=30)
    assert ["k-2" in subject(path) for path in emails] == [True]

    rule_file.write_text(BROKEN)
    await asyncio.sleep(2)
    await up.post_event(complaint(3))
    emails = await up.wait_for_outbox(2, within_seconds=30)
    assert any("k-3" in subject(path) for path in emails)
    assert not any("k-1" in subject(path) for path in emails)
    log = (tmp_path / "up.log").read_text(errors="replace")
    assert f"{rule_file}:9:7: unknown fact 'evnt_type'; did you mean 'event_type'?" in log
    assert up.stop() == 0
