"""Editing a rule file under a running `careflow up` changes the next event's outcome.

A broken edit changes nothing: the last good rules keep acknowledging complaints,
and the mistake is in the log with its line and column.
"""

from __future__ import annotations

import asyncio
import re
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
BROKEN = CRITICAL_ONLY.replace("      event_type:", "      evnt_type:")


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


def complaint(number: int, severity: str) -> dict[str, object]:
    return {
        "type": "complaint_opened",
        "customer_id": "live-c1",
        "occurred_at": datetime.now(UTC).isoformat(),
        "data": {"complaint_id": f"k-{number}", "severity": severity, "subject": "Late parcel"},
        "event_id": f"live-complaint-{number}",
    }


def subjects(paths: list[Path]) -> list[str]:
    return [
        str(message_from_bytes(p.read_bytes(), policy=policy.default)["Subject"]) for p in paths
    ]


def acknowledged(paths: list[Path]) -> set[str]:
    return {found for text in subjects(paths) for found in re.findall(r"k-\d+", text)}


@pytest.mark.timeout(300)
async def test_rule_edits_apply_to_the_next_event(up: Up, tmp_path: Path) -> None:
    rule_file = tmp_path / "rules" / "complaints.rules.yaml"
    rule_file.write_text(EVERY_COMPLAINT)
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
    await up.post_event(complaint(1, "high"))
    assert acknowledged(await up.wait_for_outbox(1, within_seconds=60)) == {"k-1"}

    rule_file.write_text(CRITICAL_ONLY)
    await asyncio.sleep(2)  # the worker looks at the files about once a second
    await up.post_event(complaint(2, "high"))
    await up.post_event(complaint(3, "critical"))
    await up.wait_for_outbox(2, within_seconds=30)
    await asyncio.sleep(3)  # time for k-2's acknowledgement, had the old rules applied
    assert acknowledged(up.outbox()) == {"k-1", "k-3"}

    rule_file.write_text(BROKEN)
    await asyncio.sleep(2)
    await up.post_event(complaint(4, "critical"))
    assert acknowledged(await up.wait_for_outbox(3, within_seconds=30)) == {"k-1", "k-3", "k-4"}
    log = (tmp_path / "up.log").read_text(errors="replace")
    assert f"{rule_file}:9:7: unknown fact 'evnt_type'; did you mean 'event_type'?" in log
    assert up.stop() == 0
