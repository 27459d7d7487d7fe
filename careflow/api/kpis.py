"""`GET /kpis`: what the automation achieved over a period (see `careflow.kpis`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import AfterValidator

from careflow.api.state import State
from careflow.config import load_settings
from careflow.intake.records import check_time_range
from careflow.kpis import DEFAULT_GOOD_SCORE, KpiReport, compute_kpis, kpi_period, kpi_settings

router = APIRouter()
# A time a KPI period can start or end at: the years customer records may have, so the
# default period before it (and its conversion to UTC) stays on the calendar.
PeriodBound = AfterValidator(check_time_range)


@router.get("/kpis", response_model=KpiReport)
async def get_kpis(
    state: State,
    since: Annotated[
        datetime | None,
        PeriodBound,
        Query(description="Start of the period (ISO 8601; no offset = UTC). Default: 30 days ago."),
    ] = None,
    until: Annotated[
        datetime | None,
        PeriodBound,
        Query(description="End of the period (exclusive). Default: now."),
    ] = None,
    good_score: int = Query(
        DEFAULT_GOOD_SCORE, ge=1, le=5, description="Survey scores at or above this are good."
    ),
) -> KpiReport:
    """Satisfaction, complaint resolution, SLA breaches, churn by tier, retention-offer
    conversion against the holdout group, and messages by status and reason."""
    start, end = kpi_period(since, until)
    if start >= end:
        raise HTTPException(status_code=422, detail="since must be before until")
    settings = kpi_settings(state.rules_dir(load_settings().rules_dir), good_score=good_score)
    return await compute_kpis(state.db, start, end, settings)
