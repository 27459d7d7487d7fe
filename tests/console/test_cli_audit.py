"""Every CLI command that changes state is in the audit log with the operating-system user.

The commands run as an operator runs them (typer's runner, the store under
CAREFLOW_HOME, Temporal reached at TEMPORAL_ADDRESS: the test server), and the audit
log, as the console's Audit page reads it, must then name each change, the command and
the account that ran it: the one the process runs as, whatever `$USER` claims.
"""

from __future__ import annotations

import asyncio
import os
import pwd
from datetime import datetime
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from careflow.cli import app
from careflow.console.audit import AuditRecord, recent_audit
from careflow.store import create_database
from tests.rule_impact.test_cancel import record
from tests.workflows.harness import add_customer, new_id

PASSWORD = "correct horse battery staple"


@pytest.fixture
async def home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workflow_env: WorkflowEnvironment
) -> Path:
    monkeypatch.setenv("CAREFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("CAREFLOW_DATABASE_URL", raising=False)
    monkeypatch.setenv("TEMPORAL_ADDRESS", workflow_env.client.service_client.config.target_host)
    # Anyone can set these; the audit log must not believe them.
    monkeypatch.setenv("USER", "someone-else")
    monkeypatch.setenv("LOGNAME", "someone-else")
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'careflow.db'}")
    await db.migrate()
    at = datetime.fromisoformat("2026-11-01T08:00:00+00:00")
    for customer in ("C-1", "C-2"):
        await add_customer(db, customer, now=at)
    await record(db, new_id("retention_offer-C-1"), "old-rule", "C-1", at)
    await db.dispose()
    return tmp_path


def audit_log(home: Path) -> list[AuditRecord]:
    async def read() -> list[AuditRecord]:
        db = create_database(f"sqlite+aiosqlite:///{home / 'careflow.db'}")
        try:
            return list(reversed(await recent_audit(db)))
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_every_state_change_of_the_cli_is_audited_with_the_os_user(home: Path) -> None:
    runner = CliRunner()
    orders = home / "orders.csv"
    orders.write_text("order_id,customer_id,ordered_at,amount\no-1,C-2,2026-10-01,12.50\n")
    commands = [
        ["users", "add", "root", "--role", "admin", "--password-stdin"],
        ["users", "add", "li.wei", "--role", "viewer", "--password-stdin"],
        ["users", "passwd", "li.wei", "--password-stdin"],
        ["users", "remove", "li.wei", "--yes"],
        ["import", "orders", str(orders)],
        ["journeys", "cancel", "--rule", "old-rule", "--yes"],
        ["erase", "C-1", "--yes"],
        ["event", "customer_upserted", "C-2", "--event-id", "e-cli-1"],
    ]
    for command in commands:
        result = runner.invoke(app, command, input=f"{PASSWORD}\n")
        assert result.exit_code == 0, (command, result.output)

    entries = audit_log(home)
    me = f"cli:{pwd.getpwuid(os.geteuid()).pw_name}"
    assert [(entry.action, entry.details.get("command")) for entry in entries] == [
        ("user_added", None),
        ("user_added", None),
        ("password_changed", None),
        ("user_removed", None),
        ("data_imported", "import orders"),
        ("journeys_cancelled", "journeys cancel"),
        ("customer_erased", "erase"),
        ("event_recorded", "event"),
    ]
    assert {entry.actor for entry in entries} == {me}
    imported, cancelled, erased, event = entries[4:]
    assert imported.target == str(orders.absolute())
    assert imported.details["imported"] == 1
    assert (cancelled.target, cancelled.details["running"]) == ("old-rule", 1)
    # The erased customer is named by their pseudonym only.
    assert erased.target is not None
    assert erased.target.startswith("erased-")
    assert all("C-1" not in f"{entry.target} {entry.details}" for entry in entries)
    assert (event.target, event.details["type"]) == ("e-cli-1", "customer_upserted")


def test_a_refused_change_is_not_audited_as_done(home: Path) -> None:
    runner = CliRunner()
    unknown = runner.invoke(app, ["users", "passwd", "nobody", "--password-stdin"], input=PASSWORD)
    assert unknown.exit_code == 1
    assert "no user named 'nobody'" in unknown.output
    missing = runner.invoke(app, ["erase", "no-such-customer", "--yes"])
    assert missing.exit_code == 1
    assert audit_log(home) == []
