"""`careflow campaign preview|launch|cancel`, run as an operator runs them: the preview
names each excluded customer's reason, launch starts once and is audited."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from careflow.cli import app
from careflow.cli.audit import os_user
from careflow.console.audit import recent_audit
from careflow.store import Customer, create_database
from tests.campaigns.harness import campaign_file, rules_folder
from tests.workflows.harness import add_customer

NAME = "vip_thanks"


async def _seed(db_path: Path) -> None:
    db = create_database(f"sqlite+aiosqlite:///{db_path}")
    await db.migrate()
    joined = datetime.now(UTC) - timedelta(days=30)
    try:
        for customer in ("vip-1", "vip-2", "vip-3"):
            await add_customer(db, customer, tier="vip", now=joined)
        await add_customer(db, "vip-no-consent", tier="vip", consents=("care",), now=joined)
        await add_customer(db, "vip-no-email", tier="vip", now=joined)
        await add_customer(db, "regular-1", tier="regular", now=joined)
        async with db.session() as session:
            await session.execute(
                update(Customer).where(Customer.external_id == "vip-no-email").values(email=None)
            )
    finally:
        await db.dispose()


@pytest.fixture
def home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workflow_env: WorkflowEnvironment
) -> Path:
    rules = rules_folder(
        tmp_path,
        {
            NAME: campaign_file(template="member_day", locales="[zh-CN, en]", holdout="0"),
            "broken": campaign_file(template="no_such_template"),
        },
    )
    monkeypatch.setenv("CAREFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("CAREFLOW_DATABASE_URL", raising=False)
    monkeypatch.setenv("CAREFLOW_RULES_DIR", str(rules))
    monkeypatch.setenv("TEMPORAL_ADDRESS", workflow_env.client.service_client.config.target_host)
    asyncio.run(_seed(tmp_path / "careflow.db"))
    return tmp_path


def test_preview_names_every_exclusion_and_launch_runs_once(home: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["campaign", "preview", NAME, "--json"])
    assert shown.exit_code == 0, shown.output
    preview = json.loads(shown.output)
    assert preview["audience"] == 5
    assert preview["excluded"] == {"no_marketing_consent": 1, "no_address": 1}
    assert preview["excluded_samples"] == {
        "no_marketing_consent": ["vip-no-consent"],
        "no_address": ["vip-no-email"],
    }
    assert (preview["eligible"], preview["variants"]) == (3, {"main": 3})
    assert preview["messages_per_hour"] is None  # no rate: unpaced
    table = runner.invoke(app, ["campaign", "preview", NAME])
    assert "no_marketing_consent" in table.output
    assert "vip-no-email" in table.output

    # Another campaign's broken file is named with its line, and does not hold this one.
    broken = runner.invoke(app, ["campaign", "preview", "broken"])
    assert broken.exit_code == 1
    assert "broken.campaign.yaml:4:1: template: unknown template 'no_such_template'" in (
        broken.output.replace("\n", "")
    )

    first = runner.invoke(app, ["campaign", "launch", NAME])
    assert first.exit_code == 0, first.output
    assert f"launched campaign {NAME}" in first.output
    second = runner.invoke(app, ["campaign", "launch", NAME])
    assert second.exit_code == 1
    assert "launched before" in second.output
    cancelled = runner.invoke(app, ["campaign", "cancel", NAME])
    assert cancelled.exit_code == 0, cancelled.output

    async def audit() -> list[tuple[str, str, str | None, object]]:
        db = create_database(f"sqlite+aiosqlite:///{home / 'careflow.db'}")
        try:
            return [
                (entry.action, entry.actor, entry.target, entry.details.get("outcome"))
                for entry in await recent_audit(db)
                if entry.action.startswith("campaign_")
            ]
        finally:
            await db.dispose()

    actor = f"cli:{os_user()}"
    assert asyncio.run(audit()) == [
        ("campaign_cancelled", actor, NAME, None),
        ("campaign_launched", actor, NAME, "already_launched"),
        ("campaign_launched", actor, NAME, "launched"),
    ]
