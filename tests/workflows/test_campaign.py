"""A campaign sends exactly one message to each eligible member of its segment, and
none to anyone else, however often it is launched; its progress and the ledger agree."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from temporalio.common import WorkflowIDReusePolicy
from temporalio.testing import WorkflowEnvironment

from careflow.campaigns.client import (
    CAMPAIGN_CANCELLED,
    CAMPAIGN_LAUNCHED,
    LaunchOutcome,
    campaign_status,
    cancel_campaign,
)
from careflow.config import Settings
from careflow.console.audit import recent_audit
from careflow.contracts import SendEmailInput, SendEmailResult
from careflow.contracts.campaigns import CampaignInput
from careflow.experiments.assign import in_holdout
from careflow.store import Database, OutreachLedger
from careflow.workflows.campaign import CampaignWorkflow
from tests.campaigns.harness import (
    campaign_file,
    campaign_name,
    campaign_worker,
    launch_as_operator,
    rules_folder,
)
from tests.smtp_sink import SmtpSink
from tests.workflows.harness import add_customer, save_history

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
        launched = await launch_as_operator(client, db, name, settings)
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


async def test_holdout_and_send_window(
    workflow_env: WorkflowEnvironment,
    journey_settings: Settings,
    journey_config: Path,
    db: Database,
    smtp_sink: SmtpSink,
    tmp_path: Path,
) -> None:
    """Held-out members get nothing; members outside their window get their message
    when it opens (the workflow waits once for the pass, not per member)."""
    client = workflow_env.client
    now = await workflow_env.get_current_time()
    opens = (now + timedelta(hours=2)).replace(minute=0)
    window = f'{{from: "{opens:%H}:00", to: "{opens:%H}:50"}}'
    name = campaign_name(journey_settings)
    rules = rules_folder(tmp_path, {name: campaign_file(holdout="0.3", send_window=window)})
    settings = journey_settings.model_copy(update={"rules_dir": rules})
    joined = datetime.now(UTC) - timedelta(days=30)
    # The campaign's name is this test's own, so its holdout draw changes from run to
    # run (12 fixed customers had none held out in 1.4% of runs): the members are
    # picked from a pool so that both groups have some.
    pool = [f"vip-{n:03d}" for n in range(200)]
    drawn = {customer: in_holdout(f"campaign:{name}", customer, 0.3) for customer in pool}
    held_out = {customer for customer in pool if drawn[customer]}
    members = sorted([*sorted(held_out)[:3], *[c for c in pool if not drawn[c]][:9]])
    held_out &= set(members)
    for customer in members:
        await add_customer(db, customer, tier="vip", now=joined)
    assert 0 < len(held_out) < len(members)

    async with campaign_worker(client, settings, db, journey_config):
        launched = await launch_as_operator(client, db, name, settings)
        assert launched.outcome is LaunchOutcome.LAUNCHED
        assert launched.handle is not None
        progress = await launched.handle.result()
        await save_history(launched.handle, "campaign_window_and_holdout")

    assert _recipients(smtp_sink) == sorted(set(members) - held_out)
    assert progress.skipped == {"holdout": len(held_out)}
    assert (progress.sent, progress.passes, progress.state) == (
        len(members) - len(held_out),
        1,
        "done",
    )
    async with db.session() as session:
        sent_at = (
            await session.scalars(
                select(OutreachLedger.sent_at).where(
                    OutreachLedger.workflow_id == launched.workflow_id,
                    OutreachLedger.status == "sent",
                )
            )
        ).all()
    assert len(sent_at) == len(members) - len(held_out)
    assert all(at is not None and at.hour == opens.hour for at in sent_at)
    # The experiment's arms, as its results read them: the variant sent, the holdout.
    async with db.session() as session:
        arms = Counter(
            (
                await session.execute(
                    select(OutreachLedger.experiment, OutreachLedger.variant).where(
                        OutreachLedger.workflow_id == launched.workflow_id
                    )
                )
            ).all()
        )
    assert arms == {
        (f"campaign:{name}", "main"): len(members) - len(held_out),
        (f"campaign:{name}", "holdout"): len(held_out),
    }


async def test_a_page_cut_short_midway_sends_nothing_twice(
    workflow_env: WorkflowEnvironment,
    journey_settings: Settings,
    journey_config: Path,
    db: Database,
    smtp_sink: SmtpSink,
    tmp_path: Path,
) -> None:
    """A page that dies after some sends (as a killed worker would) is retried; the
    retry finds their keys final and sends only to the rest."""
    client = workflow_env.client
    name = campaign_name(journey_settings)
    rules = rules_folder(tmp_path, {name: campaign_file()})
    settings = journey_settings.model_copy(update={"rules_dir": rules})
    await _customers(db)
    worker = campaign_worker(client, settings, db, journey_config)
    page = next(
        activity
        for activity in worker._config["activities"]
        if getattr(activity, "__name__", "") == "send_campaign_page"
    )
    campaigns = page.__self__
    real_send = campaigns.outreach.send_email
    calls = 0

    async def crashing_send(request: SendEmailInput) -> SendEmailResult:
        nonlocal calls
        calls += 1
        result = await real_send(request)
        if calls == 3:
            raise RuntimeError("the worker died right after this send")
        return result

    campaigns.outreach.send_email = crashing_send
    async with worker:
        launched = await launch_as_operator(client, db, name, settings)
        assert launched.handle is not None
        progress = await launched.handle.result()

        status = await campaign_status(client, db, name)

    assert _recipients(smtp_sink) == [customer.lower() for customer in VIPS]
    # One send step per member: the retried page found every key final.
    assert calls == len(VIPS) + 1
    assert progress.state == "done"
    assert status.ledger == {"sent": 5, "skipped:no_marketing_consent": 1}


async def test_cancel_stops_after_the_current_page(
    workflow_env: WorkflowEnvironment,
    journey_settings: Settings,
    journey_config: Path,
    db: Database,
    smtp_sink: SmtpSink,
    tmp_path: Path,
) -> None:
    client = workflow_env.client
    name = campaign_name(journey_settings)
    # One message a minute: a page of one, then a minute's wait the cancel cuts short.
    rules = rules_folder(tmp_path, {name: campaign_file(rate="{per_minute: 1}")})
    settings = journey_settings.model_copy(update={"rules_dir": rules})
    await _customers(db)
    async with campaign_worker(client, settings, db, journey_config):
        launched = await launch_as_operator(client, db, name, settings)
        await smtp_sink.wait_for(1)
        assert await cancel_campaign(client, db, name, actor="ops")
        assert launched.handle is not None
        progress = await launched.handle.result()
        assert not await cancel_campaign(client, db, name, actor="ops")
    assert (progress.state, progress.sent) == ("cancelled", 1)
    assert len(smtp_sink.messages) == 1
    cancels = await recent_audit(db, action=CAMPAIGN_CANCELLED)
    assert [(entry.actor, entry.target) for entry in cancels] == [("ops", name)]
