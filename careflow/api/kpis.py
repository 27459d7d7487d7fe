"""`GET /kpis`: what the automation achieved over a period (see `careflow.kpis`)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Query

from careflow.api.state import State
from careflow.config import load_settings
from careflow.kpis import DEFAULT_GOOD_SCORE, KpiReport, compute_kpis, kpi_period, kpi_settings

router = APIRouter()


@router.get("/kpis", response_model=KpiReport)
async def get_kpis(
    state: State,
    since: datetime | None = Query(
        None, description="Start of the period (ISO 8601; no offset = UTC). Default: 30 days ago."
    ),
    until: datetime | None = Query(
        None, description="End of the period (exclusive). Default: now."
    ),
    good_score: int = Query(
        DEFAULT_GOOD_SCORE, ge=1, le=5, description="Survey scores at or above this are good."
    ),
) -> KpiReport:
    """Satisfaction, complaint resolution, SLA breaches, churn by tier, retention-offer
    conversion against the holdout group, and messages by status and reason."""
    start, end = kpi_period(since, until)
    if start >= end:
        raise HTTPException(status_code=422, detail="since must be before until")
    settings = kpi_settings(load_settings().rules_dir, good_score=good_score)
    return await compute_kpis(state.db, start, end, settings)
