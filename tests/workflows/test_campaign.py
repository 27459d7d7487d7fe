"""A campaign sends exactly one message to each eligible member of its segment, and
none to anyone else, however often it is launched; its progress and the ledger agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.common import WorkflowIDReusePolicy
from temporalio.testing import WorkflowEnvironment

from careflow.campaigns.client import (
    CAMPAIGN_LAUNCHED,
    LaunchOutcome,
    campaign_status,
    launch_campaign,
)
from careflow.config import Settings
from careflow.console.audit import recent_audit
from careflow.contracts.campaigns import CampaignInput
from careflow.store import Database
from careflow.workflows.campaign import CampaignWorkflow
from tests.campaigns.harness import campaign_file, campaign_name, campaign_worker, rules_folder
from tests.smtp_sink import SmtpSink
from tests.workflows.harness import add_customer

VIPS = [f"vip-{n}" for n in range(1, 6)]


async def _customers(db: Database) -> None:
    joined = datetime.now(UTC) - timedelta(days=30)
    for customer in VIPS:
        await add_customer(db, customer, tier="vip", now=joined)
    await add_customer(db, "vip-no-consent", tier="vip", consents=(), now=joined)
    await add_customer(db, "regular-1", tier="regular", now=joined)


def _recipients(sink: SmtpSink) -> list[str]:
    return sorted(str(message["To"]).split("@")[0] for message in sink.messages)


async def test_launched_twice_sends_once_to_each_eligible_member(
    workflow_env: WorkflowEnvironment,
    journey_settings: Settings,
    journey_config: Path,
    db: Database,
    smtp_sink: SmtpSink,
    tmp_path: Path,
) -> None:
    # Each test its own campaign: the test server is shared by the module's tests.
    name = campaign_name(journey_settings)
    rules = rules_folder(tmp_path, {name: campaign_file()})
    settings = journey_settings.model_copy(update={"rules_dir": rules})
    await _customers(db)
    client = workflow_env.client

    async def launch() -> LaunchOutcome:
        launched = await launch_campaign(
            client,
            db,
            name,
            rules_dir=rules,
            templates_dir=settings.templates_dir,
            task_queue=settings.task_queue,
            actor="ops",
        )
        assert not launched.problems
        return launched.outcome

    async with campaign_worker(client, settings, db, journey_config):
        assert await launch() is LaunchOutcome.LAUNCHED
        assert await launch() is LaunchOutcome.ALREADY_LAUNCHED
        handle = client.get_workflow_handle_for(CampaignWorkflow.run, f"campaign-{name}")
        progress = await handle.result()
        assert await launch() is LaunchOutcome.ALREADY_LAUNCHED
        # Even a run forced under the same id (as after a terminated first run) finds
        # every key in the ledger already final: nothing is sent twice.
        again = await client.execute_workflow(
            CampaignWorkflow.run,
            CampaignInput(campaign=name),
            id=f"campaign-{name}",
            task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
        status = await campaign_status(client, db, name)

    assert _recipients(smtp_sink) == [customer.lower() for customer in VIPS]
    assert progress.state == "done"
    assert progress.audience == 6
    assert (progress.sent, progress.skipped) == (5, {"no_marketing_consent": 1})
    assert (again.sent, again.skipped, again.audience) == (0, {}, 6)
    assert status.ledger == {"sent": 5, "skipped:no_marketing_consent": 1}
    assert status.remaining == 0
    launches = await recent_audit(db, action=CAMPAIGN_LAUNCHED)
    assert [entry.details["outcome"] for entry in launches] == [
        "already_launched",
        "already_launched",
        "launched",
    ]
