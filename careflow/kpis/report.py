"""The KPI report: what the automation achieved over a period, from the store alone.

`compute_kpis` runs one grouped query per figure for the period `[since, until)`;
`kpi_settings` reads the thresholds the figures depend on from the operators'
files, so the KPIs use the same definitions as the rules and the journeys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

from careflow.campaigns.spec import CampaignFileError, load_campaigns
from careflow.experiments.results import (
    ExperimentResult,
    Goal,
    experiment_goals,
    experiment_results,
)
from careflow.facts.config import TIERS_FILE_NAME, FactsConfig, load_facts_config
from careflow.journey_config import JOURNEYS_FILE_NAME, load_journey_config
from careflow.kpis.care import (
    ComplaintResolution,
    FirstResponse,
    Satisfaction,
    complaint_resolution,
    first_response,
    satisfaction,
    sla_breaches,
)
from careflow.kpis.churn import TierChurn, churn_by_tier
from careflow.kpis.messages import (
    MessageCount,
    messages_by_reason,
    sent_by_channel,
    totals_by_status,
)
from careflow.kpis.retention import RetentionConversion, retention_conversion
from careflow.store import Database

DEFAULT_GOOD_SCORE = 4
# Without `since`, the report covers the last 30 days.
DEFAULT_PERIOD = timedelta(days=30)


@dataclass(frozen=True)
class KpiSettings:
    """What the figures depend on: the good survey score, tiers and churn, the offer window."""

    facts: FactsConfig
    retention_window_days: float
    good_score: int = DEFAULT_GOOD_SCORE
    # The goal of each journey experiment (journeys.yaml `experiments:`), by name;
    # any other experiment's goal is an order within 7 days.
    experiment_goals: dict[str, Goal] = field(default_factory=dict)


@dataclass(frozen=True)
class KpiReport:
    since: datetime
    until: datetime
    satisfaction: Satisfaction
    complaints: ComplaintResolution
    sla_breaches_by_level: dict[str, int]
    churn_by_tier: list[TierChurn]
    retention_offer: RetentionConversion
    messages_by_status: dict[str, int]
    messages: list[MessageCount]
    # Response targets of the complaints opened in the period: met, late, missed.
    first_response: FirstResponse
    # The zone the period's dates were read in (careflow/team_zone.py); times stay UTC.
    timezone: str = "UTC"
    sent_by_channel: dict[str, int] = field(default_factory=dict)
    # A/B experiments with messages sent in the period (careflow/experiments/results.py).
    experiments: list[ExperimentResult] = field(default_factory=list)


def kpi_period(
    since: datetime | None,
    until: datetime | None,
    *,
    now: datetime | None = None,
    zone: tzinfo = UTC,
) -> tuple[datetime, datetime]:
    """The period `[since, until)`: until defaults to now, since to 30 days before until.

    A time without an offset is in `zone`, the team's (a date alone is its midnight
    there), so `--since 2026-11-23 --until 2026-11-24` is the team's 23 November.
    """
    end = _aware(until, zone) if until is not None else (now or datetime.now(UTC))
    start = _aware(since, zone) if since is not None else end - DEFAULT_PERIOD
    return start, end


def _aware(moment: datetime, zone: tzinfo) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def kpi_settings(rules_dir: Path, *, good_score: int = DEFAULT_GOOD_SCORE) -> KpiSettings:
    """Settings from `tiers.yaml` and `journeys.yaml` in the rules folder."""
    journeys = load_journey_config(rules_dir / JOURNEYS_FILE_NAME)
    return KpiSettings(
        facts=load_facts_config(rules_dir / TIERS_FILE_NAME),
        retention_window_days=journeys.retention_offer.goal_wait_days,
        good_score=good_score,
        experiment_goals={**experiment_goals(journeys), **campaign_goals(rules_dir)},
    )


def campaign_goals(rules_dir: Path) -> dict[str, Goal]:
    """The goal each campaign file names, by its experiment (`campaign:NAME`); a
    campaign without one is judged by the default (an order within 7 days)."""
    try:
        campaigns = load_campaigns(rules_dir, references=None, segments=None)
    except CampaignFileError:
        return {}  # `rules check` names the mistakes; the results use the default goal
    return {
        spec.experiment: Goal(spec.goal.event, spec.goal.within / timedelta(days=1))
        for spec in campaigns.values()
        if spec.goal is not None
    }


async def compute_kpis(
    db: Database, since: datetime, until: datetime, settings: KpiSettings, *, timezone: str = "UTC"
) -> KpiReport:
    """Every KPI for `[since, until)`, read in one transaction so the figures agree;
    `timezone` names the zone the period was given in."""
    if since.tzinfo is None or until.tzinfo is None:
        raise ValueError("since and until must be aware datetimes")
    if since >= until:
        raise ValueError(f"since ({since.isoformat()}) must be before until ({until.isoformat()})")
    async with db.session() as session:
        messages = await messages_by_reason(session, since, until)
        return KpiReport(
            since=since,
            until=until,
            satisfaction=await satisfaction(session, since, until, settings.good_score),
            complaints=await complaint_resolution(session, since, until),
            sla_breaches_by_level=await sla_breaches(session, since, until),
            churn_by_tier=await churn_by_tier(session, since, until, settings.facts),
            retention_offer=await retention_conversion(
                session, since, until, settings.retention_window_days
            ),
            messages_by_status=totals_by_status(messages),
            messages=messages,
            first_response=await first_response(session, since, until),
            timezone=timezone,
            sent_by_channel=await sent_by_channel(session, since, until),
            experiments=await experiment_results(session, since, until, settings.experiment_goals),
        )
