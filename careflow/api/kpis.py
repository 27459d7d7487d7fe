"""`GET /kpis`: what the automation achieved over a period (see `careflow.kpis`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query
from pydantic import AfterValidator

from careflow.api.state import State
from careflow.config import load_settings
from careflow.facts.occasions import zone_or_none
from careflow.intake.records import check_time_range
from careflow.kpis import DEFAULT_GOOD_SCORE, KpiReport, compute_kpis, kpi_period, kpi_settings
from careflow.team_zone import team_zone, zone_name

router = APIRouter()
# A time a KPI period can start or end at: the years customer records may have, so the
# default period before it (and its conversion to UTC) stays on the calendar.
PeriodBound = AfterValidator(check_time_range)


def _known_zone(value: str | None) -> str | None:
    if value is not None and zone_or_none(value) is None:
        raise ValueError("an IANA time zone, e.g. UTC or Asia/Shanghai")
    return value


@router.get("/kpis", response_model=KpiReport)
async def get_kpis(
    state: State,
    since: Annotated[
        datetime | None,
        PeriodBound,
        Query(
            description="Start of the period (ISO 8601; no offset = in `timezone`). "
            "Default: 30 days ago."
        ),
    ] = None,
    until: Annotated[
        datetime | None,
        PeriodBound,
        Query(description="End of the period (exclusive). Default: now."),
    ] = None,
    good_score: int = Query(
        DEFAULT_GOOD_SCORE, ge=1, le=5, description="Survey scores at or above this are good."
    ),
    timezone: Annotated[
        str | None,
        AfterValidator(_known_zone),
        Query(
            description="IANA zone of `since` and `until` without an offset (UTC, "
            "Asia/Shanghai). Default: the team's (CAREFLOW_TEAM_TIMEZONE, else "
            "outreach_policy.yaml's default_timezone)."
        ),
    ] = None,
) -> KpiReport:
    """Satisfaction, complaint resolution, SLA breaches, churn by tier, retention-offer
    conversion against the holdout group, and messages by status and reason."""
    settings = load_settings()
    zone = ZoneInfo(timezone) if timezone else team_zone(settings)
    start, end = kpi_period(since, until, zone=zone)
    if start >= end:
        raise HTTPException(status_code=422, detail="since must be before until")
    figures = kpi_settings(state.rules_dir(settings.rules_dir), good_score=good_score)
    return await compute_kpis(state.db, start, end, figures, timezone=zone_name(zone))
