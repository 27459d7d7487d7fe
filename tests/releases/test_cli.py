"""`careflow rules propose|activate|rollback|releases|diff --release`, as an operator runs
them: a broken draft cannot be activated, the author cannot activate their own draft
unless allowed, rollback restores the release before, and the audit log tells it all."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from careflow.cli import app
from careflow.console.audit import AuditRecord, recent_audit
from careflow.store import create_database
from tests.releases.folders import operator_folder
from tests.workflows.harness import add_customer

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CAREFLOW_HOME", str(tmp_path / "var"))
    monkeypatch.delenv("CAREFLOW_DATABASE_URL", raising=False)
    monkeypatch.delenv("CAREFLOW_RELEASE_SELF_APPROVAL", raising=False)
    return tmp_path / "var"


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def audit_log(home: Path) -> list[AuditRecord]:
    async def read() -> list[AuditRecord]:
        db = create_database(f"sqlite+aiosqlite:///{home / 'careflow.db'}")
        try:
            return await recent_audit(db, limit=100)
        finally:
            await db.dispose()

    return asyncio.run(read())


def proposed_id(output: str) -> str:
    line = next(line for line in output.splitlines() if line.startswith("proposed release "))
    return line.split()[-1]


def test_propose_check_activate_diff_rollback(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules, templates = operator_folder(tmp_path / "broken")
    path = rules / "complaints.rules.yaml"
    path.write_text(
        path.read_text().replace(
            "      event_type: complaint_opened\n", "      evnt_type: complaint_opened\n", 1
        )
    )
    code, output = invoke("rules", "propose", str(rules), "--templates", str(templates))
    assert code == 1
    assert "rules/complaints.rules.yaml:14:7: unknown fact 'evnt_type'" in output
    broken = proposed_id(output)
    code, output = invoke("rules", "activate", broken[:12])
    assert code == 1
    assert "failed its check" in output

    first_rules, first_templates = operator_folder(tmp_path / "first")
    code, output = invoke("rules", "propose", str(first_rules), "--templates", str(first_templates))
    assert code == 0, output
    first = proposed_id(output)
    # The account that proposed it may not activate it ...
    code, output = invoke("rules", "activate", first[:12])
    assert code == 1
    assert "someone else with the admin role must activate it" in output
    # ... unless the deployment allows it.
    monkeypatch.setenv("CAREFLOW_RELEASE_SELF_APPROVAL", "true")
    code, output = invoke("rules", "activate", first[:12])
    assert code == 0, output
    assert f"release {first} is active" in output

    second_rules, second_templates = operator_folder(
        tmp_path / "second", ack_description="Acknowledge every complaint."
    )
    code, output = invoke(
        "rules", "propose", str(second_rules), "--templates", str(second_templates), "--note", "v2"
    )
    second = proposed_id(output)
    assert invoke("rules", "activate", second)[0] == 0

    code, output = invoke("rules", "diff", "--release", first[:12], "--release", second[:12])
    assert code == 0, output
    assert "1 change(s)" in output
    assert "changed rules/complaints.rules.yaml: rule acknowledge-new-complaint" in output
    assert "+    description: Acknowledge every complaint." in output

    code, output = invoke("rules", "releases")
    assert code == 0, output
    assert "releases (times UTC)" in output
    code, output = invoke("rules", "releases", "--json")
    listed = {item["id"]: item for item in json.loads(output)}
    assert [listed[r]["active"] for r in (broken, first, second)] == [False, False, True]
    assert [listed[r]["check_status"] for r in (broken, first, second)] == [
        "failed",
        "passed",
        "passed",
    ]
    assert listed[second]["note"] == "v2"
    assert listed[first]["approved_by"] == listed[first]["proposed_by"]
    assert [row["kind"] for row in listed[first]["activations"]] == ["activate"]

    code, output = invoke("rules", "rollback")
    assert code == 0, output
    assert f"rolled back to release {first}" in output
    code, output = invoke("rules", "releases", "--json")
    listed = {item["id"]: item for item in json.loads(output)}
    assert listed[first]["active"]
    assert [row["kind"] for row in listed[first]["activations"]] == ["activate", "rollback"]

    actions = [(entry.action, entry.target) for entry in reversed(audit_log(home))]
    assert actions == [
        ("release_proposed", broken),
        ("release_checked", broken),
        ("release_activation_refused", broken),
        ("release_proposed", first),
        ("release_checked", first),
        ("release_activation_refused", first),
        ("release_approved", first),
        ("release_activated", first),
        ("release_proposed", second),
        ("release_checked", second),
        ("release_approved", second),
        ("release_activated", second),
        ("release_rolled_back", first),
    ]


def test_explain_uses_the_active_release_and_the_operators_language(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def seed() -> None:
        db = create_database(f"sqlite+aiosqlite:///{home / 'careflow.db'}")
        await db.migrate()
        await add_customer(db, "c-explain", now=datetime.now(UTC) - timedelta(days=3))
        await db.dispose()

    home.mkdir(parents=True)
    asyncio.run(seed())
    rules, templates = operator_folder(tmp_path / "off")
    path = rules / "complaints.rules.yaml"
    path.write_text(
        path.read_text().replace(
            "  - id: acknowledge-new-complaint\n",
            "  - id: acknowledge-new-complaint\n    enabled: false\n",
        )
    )
    monkeypatch.setenv("CAREFLOW_RELEASE_SELF_APPROVAL", "true")
    monkeypatch.setenv("COLUMNS", "300")
    code, output = invoke("rules", "propose", str(rules), "--templates", str(templates))
    assert code == 0, output
    assert invoke("rules", "activate", proposed_id(output))[0] == 0

    # The configured folder (the shipped rules) would acknowledge; the active release not.
    code, output = invoke("rules", "explain", "c-explain", "--event", "complaint_opened")
    assert code == 0, output
    row = next(line for line in output.splitlines() if "acknowledge-new-complaint" in line)
    assert "the rule is switched off (enabled: false)" in row
    monkeypatch.setenv("CAREFLOW_LANG", "zh-CN")
    code, output = invoke("rules", "explain", "c-explain", "--event", "complaint_opened")
    assert code == 0, output
    assert "触发" in output
    row = next(line for line in output.splitlines() if "acknowledge-new-complaint" in line)
    assert "该规则已关闭（enabled: false）" in row
