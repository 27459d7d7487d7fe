"""The one registry of activities: every activity the worker runs is listed here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio.client import Client

from activities.dispatch import DispatchActivities
from activities.outreach import OutreachActivities
from activities.rules import RuleActivities
from activities.scan import ScanActivities
from careflow.config import Settings
from careflow.outreach.mailer import Delivery
from careflow.outreach.templates import TemplateRenderer
from careflow.store import Database
from rules import LiveRuleBook
from workflows.registry import JOURNEYS


def build_activities(
    settings: Settings,
    *,
    db: Database,
    client: Client,
    delivery: Delivery,
    rulebook: LiveRuleBook | None = None,
) -> list[Callable[..., Any]]:
    """Bind every activity to its dependencies; a test fails if one is left out."""
    outreach = OutreachActivities(
        db,
        TemplateRenderer(settings.templates_dir),
        delivery,
        mail_from=settings.mail_from,
        base_url=settings.base_url,
        secret_key=settings.secret_key,
    )
    rulebook = rulebook or LiveRuleBook(settings.rules_dir)
    rules = RuleActivities(
        db,
        rulebook,
        max_event_age=timedelta(hours=settings.event_max_age_hours),
    )
    dispatch = DispatchActivities(client, db, settings.task_queue, JOURNEYS)
    scan = ScanActivities(db, rulebook, dispatch)
    return [
        outreach.send_email,
        rules.evaluate_event,
        dispatch.dispatch_intents,
        scan.count_customers,
        scan.scan_page,
    ]
