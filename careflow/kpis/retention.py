"""Retention-offer conversion, compared with the random holdout group.

A retention journey converts when its customer orders within the journey's window
(`retention_offer.goal_wait_days` in `rules/journeys.yaml`) after the offer was
sent. A customer held out of the journey (`careflow.holdout`; the dispatcher
records a journey row with status `holdout`) converts when they order within the
same window after the moment they were held out. Only journeys whose window has
ended by `until` are counted in the rates; the others are `waiting`. The
difference between the two rates is what the offers achieved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from careflow.facts.pages import epoch_microseconds, epoch_microseconds_of
from careflow.holdout import HOLDOUT_STATUS
from careflow.kpis.care import share
from careflow.store import JourneyRecord, Order, OutreachLedger

RETENTION_JOURNEY = "retention_offer"
# The step id under which RetentionOfferWorkflow sends its offer (the ledger key).
OFFER_STEP = "offer"
_MICROSECONDS_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class ConversionGroup:
    """Journeys whose window ended by `until`, how many converted, and those still waiting."""

    journeys: int
    converted: int
    rate: float | None
    waiting: int


@dataclass(frozen=True)
class RetentionConversion:
    window_days: float
    offered: ConversionGroup
    holdout: ConversionGroup
    # Conversion of the offered minus that of the holdout group, in points of share.
    uplift: float | None


async def retention_conversion(
    session: AsyncSession,
    since: datetime,
    until: datetime,
    window_days: float,
    *,
    measured_at: datetime | None = None,
) -> RetentionConversion:
    """Both groups for retention journeys started in `[since, until)`.

    Windows are judged ended as of `measured_at` (default `until`): a trend over
    past weeks measures each week's journeys as of now, not as of the week's end.
    """
    measured_at = measured_at or until
    started = (
        JourneyRecord.journey == RETENTION_JOURNEY,
        JourneyRecord.started_at >= since,
        JourneyRecord.started_at < until,
    )
    offer_sent = and_(
        OutreachLedger.workflow_id == JourneyRecord.workflow_id,
        OutreachLedger.step_id == OFFER_STEP,
        OutreachLedger.status == "sent",
        OutreachLedger.sent_at.is_not(None),
    )
    offered = await _group(
        session,
        OutreachLedger.sent_at,
        (*started, JourneyRecord.status != HOLDOUT_STATUS),
        measured_at,
        window_days,
        ledger_join=offer_sent,
    )
    holdout = await _group(
        session,
        JourneyRecord.started_at,
        (*started, JourneyRecord.status == HOLDOUT_STATUS),
        measured_at,
        window_days,
    )
    uplift = None
    if offered.rate is not None and holdout.rate is not None:
        uplift = round(offered.rate - holdout.rate, 4)
    return RetentionConversion(window_days, offered, holdout, uplift)


async def _group(
    session: AsyncSession,
    start: QueryableAttribute[Any],
    where: tuple[ColumnElement[bool], ...],
    until: datetime,
    window_days: float,
    *,
    ledger_join: ColumnElement[bool] | None = None,
) -> ConversionGroup:
    """Counts for the journeys matching `where`, each measured from its `start`."""
    window_end = epoch_microseconds(start) + round(window_days * _MICROSECONDS_PER_DAY)
    ordered_in_window = exists().where(
        Order.customer_id == JourneyRecord.customer_id,
        Order.ordered_at > start,
        epoch_microseconds(Order.ordered_at) <= window_end,
    )
    ended = window_end <= epoch_microseconds_of(until)
    statement = select(
        func.coalesce(func.sum(case((ended, 1), else_=0)), 0),
        func.coalesce(func.sum(case((and_(ended, ordered_in_window), 1), else_=0)), 0),
        func.coalesce(func.sum(case((ended, 0), else_=1)), 0),
    ).select_from(JourneyRecord)
    if ledger_join is not None:
        statement = statement.join(OutreachLedger, ledger_join)
    statement = statement.where(*where)
    journeys, converted, waiting = (await session.execute(statement)).one()
    return ConversionGroup(
        int(journeys), int(converted), share(int(converted), int(journeys)), int(waiting)
    )
