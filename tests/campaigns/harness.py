"""A rules folder with one test campaign, customers in its segment and out of it, and a
worker running the campaign workflow with the real send step."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from careflow.campaigns.client import Launch, launch_campaign
from careflow.channels.sending import SmsChannel
from careflow.config import Settings
from careflow.outreach.policy_config import OutreachPolicy
from careflow.paths import RULES_DIR
from careflow.store import Database
from careflow.workflows.campaign import CampaignWorkflow
from tests.workflows.harness import _activity_name, journey_activities

SEGMENTS = """\
segments:
  vips:
    description: Every VIP customer.
    when:
      tier: vip
"""


def campaign_name(settings: Settings) -> str:
    """A campaign name of this test's own (its task queue's suffix)."""
    return f"vip_{settings.task_queue.rsplit('-', 1)[-1]}"


def campaign_file(**changes: str) -> str:
    """A campaign to the `vips` segment; `changes` replace whole lines by key."""
    lines = {
        "segment": "vips",
        "topic": "marketing",
        "channel": "email",
        "template": "holiday_greeting",
        "locales": "[en]",
        "send_window": '{from: "00:00", to: "23:59"}',
        "holdout": "0",
        "start": '"2020-01-01T00:00:00Z"',
    }
    lines.update(changes)
    return "".join(f"{key}: {value}\n" for key, value in lines.items() if value != "")


def rules_folder(root: Path, campaigns: dict[str, str]) -> Path:
    """The shipped rules with `segments.yaml` replaced and only these campaigns."""
    rules = root / "rules"
    shutil.copytree(RULES_DIR, rules)
    (rules / "segments.yaml").write_text(SEGMENTS, encoding="utf-8")
    shutil.rmtree(rules / "campaigns", ignore_errors=True)
    (rules / "campaigns").mkdir()
    for name, text in campaigns.items():
        (rules / "campaigns" / f"{name}.campaign.yaml").write_text(text, encoding="utf-8")
    return rules


def campaign_worker(
    client: Client,
    settings: Settings,
    db: Database,
    journey_config: Path,
    *,
    policy: OutreachPolicy | None = None,
    replace: Sequence[Callable[..., Any]] = (),
    sms: SmsChannel | None = None,
) -> Worker:
    """The campaign workflow with the journeys' activities (the send step among them,
    with SMS when `sms` is given)."""
    activities = {
        _activity_name(activity): activity
        for activity in journey_activities(settings, db, journey_config, policy, sms=sms)
    }
    for activity in replace:
        activities[_activity_name(activity)] = activity
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[CampaignWorkflow],
        activities=list(activities.values()),
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


async def launch_as_operator(client: Client, db: Database, name: str, settings: Settings) -> Launch:
    """`careflow campaign launch NAME` as the operator `ops`, with `settings`' folders."""
    return await launch_campaign(
        client,
        db,
        name,
        rules_dir=settings.rules_dir,
        templates_dir=settings.templates_dir,
        task_queue=settings.task_queue,
        actor="ops",
    )
