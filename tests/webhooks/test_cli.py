"""`careflow webhooks list` and `careflow webhooks resume NAME` against a real store."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from careflow.cli import app
from careflow.console.audit import recent_audit
from careflow.store import WebhookEndpointState, create_database


def test_a_paused_endpoint_is_listed_and_resumed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'careflow.db'}"
    monkeypatch.setenv("CAREFLOW_DATABASE_URL", url)

    async def prepare() -> None:
        db = create_database(url)
        await db.migrate()
        async with db.session() as session:
            session.add(
                WebhookEndpointState(
                    name="crm",
                    consecutive_failures=10,
                    paused_at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
                    last_error="HTTP 503",
                )
            )
        await db.dispose()

    asyncio.run(prepare())
    runner = CliRunner()
    listed = runner.invoke(app, ["webhooks", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    (crm,) = json.loads(listed.output)
    assert (crm["name"], crm["paused_at"], crm["last_error"]) == (
        "crm",
        "2026-12-01 08:00:00+00:00",
        "HTTP 503",
    )
    resumed = runner.invoke(app, ["webhooks", "resume", "crm"])
    assert resumed.exit_code == 0, resumed.output
    again = runner.invoke(app, ["webhooks", "resume", "crm"])
    assert again.exit_code == 1
    assert "'crm' is not paused" in again.output

    async def audited() -> list[str]:
        db = create_database(url)
        try:
            return [entry.action for entry in await recent_audit(db)]
        finally:
            await db.dispose()

    assert asyncio.run(audited()) == ["webhook_resumed"]
