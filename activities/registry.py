"""The one registry of activities: every activity the worker runs is listed here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client

from careflow.activities.dispatch import DispatchActivities
from careflow.activities.journeys import JourneyActivities
from careflow.activities.outreach import OutreachActivities
from careflow.activities.rules import RuleActivities
from careflow.activities.scan import ScanActivities
from careflow.activities.tasks import TaskActivities
from careflow.channels.sending import SmsChannel
from careflow.config import Settings
from careflow.holdout import HOLDOUT_FILE_NAME, load_holdout_config
from careflow.journey_config import JOURNEYS_FILE_NAME
from careflow.outreach.mailer import Delivery
from careflow.outreach.policy_config import POLICY_FILE_NAME, OutreachPolicy, load_outreach_policy
from careflow.outreach.templates import TemplateRenderer
from careflow.rules import LiveRuleBook
from careflow.staff_alerts import alert_assignee
from careflow.store import Database
from careflow.workflows.registry import JOURNEYS


def build_journey_activities(
    settings: Settings,
    *,
    db: Database,
    delivery: Delivery,
    journey_config: Path,
    policy: Callable[[], OutreachPolicy],
    sms: SmsChannel | None = None,
) -> list[Callable[..., Any]]:
    """The activities journeys call: sending, planning, bookkeeping, staff tasks.

    `policy` returns the current outreach policy; tests hand in their own policy and
    journey configuration, the worker the operator's files.
    """
    renderer = TemplateRenderer(settings.templates_dir, fallback_locales=policy().locales.fallback)
    outreach = OutreachActivities(
        db,
        renderer,
        delivery,
        mail_from=settings.mail_from,
        base_url=settings.base_url,
        secret_key=settings.secret_key,
        policy=policy,
        alert_assignee=lambda: alert_assignee(journey_config),
        sms=sms,
    )
    journeys = JourneyActivities(
        db, config_path=journey_config, base_url=settings.base_url, secret_key=settings.secret_key
    )
    tasks = TaskActivities(
        db,
        renderer,
        delivery,
        config_path=journey_config,
        mail_from=settings.mail_from,
        base_url=settings.base_url,
        secret_key=settings.secret_key,
    )
    return [
        outreach.send_email,
        journeys.plan_retention_offer,
        journeys.plan_care_message,
        journeys.plan_complaint,
        journeys.plan_satisfaction_survey,
        journeys.plan_onboarding,
        journeys.plan_contact_change_notice,
        journeys.business_due,
        journeys.orders_since,
        journeys.record_outcome,
        journeys.set_complaint_status,
        tasks.open_task,
        tasks.close_tasks,
        tasks.notify_staff,
    ]


def build_activities(
    settings: Settings,
    *,
    db: Database,
    client: Client,
    delivery: Delivery,
    rulebook: LiveRuleBook | None = None,
    capture_url: str | None = None,
) -> list[Callable[..., Any]]:
    """Bind every activity to its dependencies; a test fails if one is left out.

    `capture_url`: `careflow up`'s capture endpoint, the SMS gateway of `url: capture`.
    """
    policy_path = settings.rules_dir / POLICY_FILE_NAME
    rulebook = rulebook or LiveRuleBook(settings.rules_dir)
    rules = RuleActivities(
        db,
        rulebook,
        max_event_age=timedelta(hours=settings.event_max_age_hours),
    )
    holdout_path = settings.rules_dir / HOLDOUT_FILE_NAME
    dispatch = DispatchActivities(
        client,
        db,
        settings.task_queue,
        JOURNEYS,
        holdout=lambda: load_holdout_config(holdout_path, journeys=JOURNEYS),
        secret_key=settings.secret_key,
    )
    scan = ScanActivities(db, rulebook, dispatch)
    return [
        rules.evaluate_event,
        dispatch.dispatch_intents,
        scan.count_customers,
        scan.reconcile_journeys,
        scan.scan_page,
        *build_journey_activities(
            settings,
            db=db,
            delivery=delivery,
            journey_config=settings.rules_dir / JOURNEYS_FILE_NAME,
            # The operator's policy file is re-read whenever it changes.
            policy=lambda: load_outreach_policy(policy_path),
            sms=SmsChannel(settings.rules_dir, settings.templates_dir, capture_url=capture_url),
        ),
    ]
