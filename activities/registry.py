"""The one registry of activities: every activity the worker runs is listed here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from temporalio.client import Client

from careflow.activities.campaigns import CampaignActivities
from careflow.activities.dispatch import DispatchActivities
from careflow.activities.journeys import JourneyActivities
from careflow.activities.outreach import OutreachActivities
from careflow.activities.rules import RuleActivities
from careflow.activities.scan import ScanActivities
from careflow.activities.tasks import TaskActivities
from careflow.channels.sending import SmsChannel
from careflow.config import Settings
from careflow.experiments.journeys import JourneyVariants, VariantChoice, journey_id_kinds
from careflow.facts.config import TIERS_FILE_NAME, FactsConfig, load_facts_config
from careflow.holdout import HOLDOUT_FILE_NAME, load_holdout_config
from careflow.intake.direct import DirectEvaluation
from careflow.journey_config import JOURNEYS_FILE_NAME
from careflow.journey_spec import Journey
from careflow.outreach.mailer import Delivery
from careflow.outreach.policy_config import POLICY_FILE_NAME, OutreachPolicy, load_outreach_policy
from careflow.outreach.suppression import load_suppressions
from careflow.outreach.templates import TemplateRenderer
from careflow.releases.follower import ReleaseFollower
from careflow.rules import LiveRuleBook
from careflow.rules.references import References
from careflow.staff_alerts import alert_assignee
from careflow.store import Database


def build_outreach(
    settings: Settings,
    *,
    db: Database,
    delivery: Delivery,
    journey_config: Path,
    policy: Callable[[], OutreachPolicy],
    release_id: Callable[[], str | None] = lambda: None,
    sms: SmsChannel | None = None,
    renderer: TemplateRenderer | None = None,
    variants: Callable[[str, str, str], VariantChoice | None] | None = None,
) -> OutreachActivities:
    """The send step as the worker binds it (a campaign's preview asks it, too)."""
    return OutreachActivities(
        db,
        renderer
        or TemplateRenderer(settings.templates_dir, fallback_locales=policy().locales.fallback),
        delivery,
        mail_from=settings.mail_from,
        base_url=settings.base_url,
        secret_key=settings.secret_key,
        policy=policy,
        alert_assignee=lambda: alert_assignee(journey_config),
        release_id=release_id,
        # The policy's suppressions, over the rules folder's facts (derived ones too).
        suppressions=lambda: load_suppressions(policy(), settings.rules_dir),
        sms=sms,
        variants=variants,
    )


def build_journey_activities(
    settings: Settings,
    *,
    db: Database,
    delivery: Delivery,
    journey_config: Path,
    policy: Callable[[], OutreachPolicy],
    release_id: Callable[[], str | None] = lambda: None,
    sms: SmsChannel | None = None,
    journeys: Mapping[str, Journey] | None = None,
) -> list[Callable[..., Any]]:
    """The activities journeys call: sending, planning, bookkeeping, staff tasks.

    With `journeys` (the registry), the send step runs the A/B experiments the journey
    configuration sets up on journey messages (careflow/experiments/journeys.py).

    `policy` returns the current outreach policy; tests hand in their own policy and
    journey configuration, the worker the operator's files. `release_id` names the
    release those files belong to, for the outreach ledger.
    """
    renderer = TemplateRenderer(settings.templates_dir, fallback_locales=policy().locales.fallback)
    outreach = build_outreach(
        settings,
        db=db,
        delivery=delivery,
        journey_config=journey_config,
        policy=policy,
        release_id=release_id,
        sms=sms,
        renderer=renderer,
        variants=None
        if journeys is None
        else JourneyVariants(journey_config, journey_id_kinds(journeys)).choose,
    )
    planning = JourneyActivities(
        db, config_path=journey_config, base_url=settings.base_url, secret_key=settings.secret_key
    )
    # Broadcasts send through this very send step (one ledger, one policy).
    campaigns = CampaignActivities(db, outreach, rules_dir=lambda: settings.rules_dir)
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
        planning.plan_retention_offer,
        planning.plan_care_message,
        planning.plan_complaint,
        planning.plan_satisfaction_survey,
        planning.plan_onboarding,
        planning.plan_contact_change_notice,
        planning.plan_simple_journey,
        planning.business_due,
        planning.orders_since,
        planning.record_outcome,
        planning.set_complaint_status,
        tasks.open_task,
        tasks.close_tasks,
        tasks.notify_staff,
        campaigns.plan_campaign,
        campaigns.send_campaign_page,
    ]


def _no_release() -> str | None:
    return None


@dataclass(frozen=True)
class _Served:
    """What one process serves: the settings' folders (a release's, with a follower),
    its rule book and the hooks that keep decisions on the active release."""

    settings: Settings
    rulebook: LiveRuleBook
    facts_config: Callable[[], FactsConfig] | None = None
    sync_release: Callable[[], Awaitable[object]] | None = None
    release_id: Callable[[], str | None] = _no_release


def _served(
    settings: Settings,
    references: References,
    rulebook: LiveRuleBook | None,
    follower: ReleaseFollower | None,
) -> _Served:
    if follower is None:
        return _Served(
            settings=settings,
            rulebook=rulebook or LiveRuleBook(settings.rules_dir, references=references),
            # The served folder's tiers, not the environment's (a simulation serves a
            # folder of its own); without it every evaluation re-read the settings.
            facts_config=_facts_config_of(settings.rules_dir),
        )
    return _Served(
        settings=settings.model_copy(
            update={"rules_dir": follower.rules_dir, "templates_dir": follower.templates_dir}
        ),
        rulebook=follower.rulebook,
        facts_config=partial(load_facts_config, follower.rules_dir / TIERS_FILE_NAME),
        sync_release=follower.sync,
        release_id=follower.served_release,
    )


def _facts_config_of(rules_dir: Path) -> Callable[[], FactsConfig] | None:
    """The folder's tiers.yaml (re-read when it changes); None for a folder without one,
    which then uses the configured folder's, as before."""
    tiers = rules_dir / TIERS_FILE_NAME
    return partial(load_facts_config, tiers) if tiers.is_file() else None


def _rules_and_dispatch(
    served: _Served,
    db: Database,
    client: Client,
    journeys: Mapping[str, Journey],
    *,
    eager_start: bool = False,
    stagger: bool = False,
) -> tuple[RuleActivities, DispatchActivities]:
    """Rule evaluation and dispatch, built one way for the worker and the direct path."""
    settings = served.settings
    rules = RuleActivities(
        db,
        served.rulebook,
        max_event_age=timedelta(hours=settings.event_max_age_hours),
        sync_release=served.sync_release,
        facts_config=served.facts_config,
    )
    holdout_path = settings.rules_dir / HOLDOUT_FILE_NAME
    dispatch = DispatchActivities(
        client,
        db,
        settings.task_queue,
        journeys,
        holdout=lambda: load_holdout_config(holdout_path, journeys=journeys),
        secret_key=settings.secret_key,
        rules_dir=settings.rules_dir,
        eager_start=eager_start,
        stagger=stagger,
    )
    return rules, dispatch


def build_direct_evaluation(
    settings: Settings,
    *,
    db: Database,
    client: Client,
    journeys: Mapping[str, Journey],
    references: References,
    rulebook: LiveRuleBook | None = None,
    follower: ReleaseFollower | None = None,
    eager_start: bool = True,
    stagger_journeys: bool = False,
) -> DirectEvaluation:
    """The direct event path of an API process (careflow/intake/direct.py): the same
    evaluation and dispatch as the worker's activities, on the same release.
    `eager_start` and `stagger_journeys`: the simulator's choices (neither eager
    starts on the time-skipping server, and its journeys staggered, careflow/stagger.py)."""
    served = _served(settings, references, rulebook, follower)
    # Eager starts only here: the workflow path stays as it was, the bench's baseline.
    return DirectEvaluation(
        *_rules_and_dispatch(
            served, db, client, journeys, eager_start=eager_start, stagger=stagger_journeys
        )
    )


def build_activities(
    settings: Settings,
    *,
    db: Database,
    client: Client,
    delivery: Delivery,
    journeys: Mapping[str, Journey],
    references: References,
    rulebook: LiveRuleBook | None = None,
    follower: ReleaseFollower | None = None,
    capture_url: str | None = None,
    stagger_journeys: bool = False,
) -> list[Callable[..., Any]]:
    """Bind every activity to its dependencies; a test fails if one is left out.

    `journeys` (the workflow registry) and `references` (what rules may name) are
    handed in by the process that assembles the worker: activities import no workflows.
    With a release `follower` (careflow/releases/), every file is read from the release
    it serves (its `rules_dir` and `templates_dir` replace the settings'), and decisions,
    journeys and messages record that release's id. `capture_url`: `careflow up`'s
    capture endpoint, the SMS gateway of `url: capture`. `stagger_journeys`: the
    simulator's, each of a customer's journeys on a clock of its own (careflow/stagger.py).
    """
    served = _served(settings, references, rulebook, follower)
    settings = served.settings
    policy_path = settings.rules_dir / POLICY_FILE_NAME
    rules, dispatch = _rules_and_dispatch(served, db, client, journeys, stagger=stagger_journeys)
    scan = ScanActivities(
        db,
        served.rulebook,
        dispatch,
        sync_release=served.sync_release,
        facts_config=served.facts_config,
    )
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
            release_id=served.release_id,
            sms=SmsChannel(settings.rules_dir, settings.templates_dir, capture_url=capture_url),
            journeys=journeys,
        ),
    ]
