"""The Campaigns page: everyone sees each campaign's state and progress; operators
launch (once) and cancel, viewers are refused; every launch and cancel is audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment

from careflow.campaigns.client import CAMPAIGN_CANCELLED, CAMPAIGN_LAUNCHED
from careflow.config import Settings
from careflow.console.audit import recent_audit
from careflow.store import Database
from tests.campaigns.harness import campaign_file, campaign_name, campaign_worker, rules_folder
from tests.console.conftest import csrf_token
from tests.workflows.conftest import write_journey_config
from tests.workflows.harness import add_customer


@pytest.fixture
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Path:
    """A rules folder with one campaign, one message a minute (so it is still running
    when it is cancelled), and one broken campaign file."""
    folder = rules_folder(
        tmp_path,
        {
            campaign_name(settings): campaign_file(
                template="member_day", locales="[zh-CN, en]", rate="{per_minute: 1}"
            ),
            "broken": campaign_file(holdout="2"),
        },
    )
    monkeypatch.setenv("CAREFLOW_RULES_DIR", str(folder))
    return folder


async def test_operators_launch_and_cancel_viewers_see(
    rules: Path,
    db: Database,
    settings: Settings,
    workflow_env: WorkflowEnvironment,
    console_app: FastAPI,
    logged_in: dict[str, httpx.AsyncClient],
    tmp_path: Path,
) -> None:
    # Each test its own campaign: the test server is shared by the module's tests.
    name = campaign_name(settings)
    joined = datetime.now(UTC) - timedelta(days=30)
    for customer in ("vip-1", "vip-2", "vip-3"):
        await add_customer(db, customer, tier="vip", now=joined)
    vera, otto = logged_in["vera"], logged_in["otto"]

    page = await vera.get("/console/campaigns", params={"campaign": name, "lang": "en"})
    assert page.status_code == 200
    assert f'<tr data-campaign="{name}" data-state="not_launched">' in page.text
    assert '<tr data-campaign="broken" data-state="not_launched">' in page.text
    assert 'id="launch"' not in page.text  # a viewer gets no button
    broken = await vera.get("/console/campaigns", params={"campaign": "broken"})
    assert "broken.campaign.yaml:7:1: holdout:" in broken.text

    previewed = await vera.get("/console/campaigns", params={"campaign": name, "preview": "1"})
    assert 'data-variant="main"' in previewed.text

    async def post(client: httpx.AsyncClient, action: str) -> httpx.Response:
        token = await csrf_token(client, "/console/campaigns")
        return await client.post(
            f"/console/campaigns/{action}", data={"csrf": token, "campaign": name}
        )

    assert (await post(vera, "launch")).status_code == 403
    settings = settings.model_copy(update={"rules_dir": rules})
    worker = campaign_worker(
        workflow_env.client, settings, db, write_journey_config(tmp_path / "journeys.json")
    )
    async with worker:
        launched = await post(otto, "launch")
        assert launched.status_code == 303
        assert "done=campaign_launched" in launched.headers["location"]
        again = await post(otto, "launch")
        assert again.status_code == 409
        assert "launched before" in again.text
        shown = await otto.get("/console/campaigns", params={"campaign": name})
        assert 'id="cancel"' in shown.text
        cancelled = await post(otto, "cancel")
        assert cancelled.status_code == 303
    launches = [
        (e.actor, e.details["outcome"]) for e in await recent_audit(db, action=CAMPAIGN_LAUNCHED)
    ]
    assert launches == [("otto", "already_launched"), ("otto", "launched")]
    cancels = [(e.actor, e.target) for e in await recent_audit(db, action=CAMPAIGN_CANCELLED)]
    assert cancels == [("otto", name)]
